"""ULMFiT for Keras 3 / TensorFlow."""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from ulmfit_tf import callbacks  # noqa: E402
from ulmfit_tf import convert  # noqa: E402
from ulmfit_tf import layers  # noqa: E402
from ulmfit_tf import models  # noqa: E402
from ulmfit_tf import optimizers  # noqa: E402
from ulmfit_tf import schedules  # noqa: E402
from ulmfit_tf.callbacks import lr_find  # noqa: E402
from ulmfit_tf.models import AWDLSTMBackbone  # noqa: E402
from ulmfit_tf.models import ULMFiTLanguageModel  # noqa: E402

__version__ = "0.1.0"
