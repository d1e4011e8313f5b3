from ulmfit_tf.schedules.slanted_triangular import SlantedTriangularLR
from ulmfit_tf.schedules.slanted_triangular import total_steps

__all__ = ["SlantedTriangularLR", "total_steps"]
