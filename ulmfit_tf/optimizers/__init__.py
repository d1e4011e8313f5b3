from ulmfit_tf.optimizers.discriminative import DiscriminativeOptimizer

__all__ = ["DiscriminativeOptimizer"]
