from ulmfit_tf.convert.fastai import from_fastai

__all__ = ["from_fastai"]
