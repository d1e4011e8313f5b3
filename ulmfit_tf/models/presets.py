"""Deprecated: the dropout tables moved to `ulmfit_tf.models.dropouts`.

("Preset" now means a pretrained model, `ulmfit_tf.presets`.)
"""

from ulmfit_tf.models.dropouts import CLASSIFIER_DROPOUTS  # noqa: F401
from ulmfit_tf.models.dropouts import LANGUAGE_MODEL_DROPOUTS  # noqa: F401
from ulmfit_tf.models.dropouts import backbone_dropouts  # noqa: F401
