"""ULMFiT for Keras 3 / TensorFlow.

The package loads its parts on first use (`ulmfit_tf.models`,
`ulmfit_tf.ULMFiTLanguageModel`, ...), so that `ulmfit-tf --help` and a
mistyped argument answer at once instead of after TensorFlow has loaded.
`ulmfit_tf.load(folder)` (or `from_preset`) registers every class with
Keras; before a bare `keras.saving.load_model` of a `.keras` file, call
`ulmfit_tf.model_directory.register_keras_objects()`.
"""

import importlib
import os
import platform

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# TensorFlow runs its oneDNN kernels by default only on x86 CPUs with AVX-512 VNNI or BF16, AVX-VNNI or AMX;
# on the AVX2-only CPUs most cloud machines have, they make these models' training steps 1.1-1.3x faster
# (BENCHMARKS.md, "Notes on AVX2-only CPUs"). A user's own setting wins; it counts before TensorFlow loads.
if platform.machine().lower() in ("x86_64", "amd64"):
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

__version__ = "0.1.0"

_SUBMODULES = (
    "callbacks", "cli", "convert", "datasets", "distribute", "errors", "export", "fingerprint", "folders", "layers",
    "losses", "model_directory", "models", "optimizers", "pipeline", "presets", "recipe", "schedules", "stages",
    "text", "training",
)
_ATTRIBUTES = {
    "lr_find": "ulmfit_tf.callbacks",
    "AWDLSTMBackbone": "ulmfit_tf.models",
    "ULMFiTLanguageModel": "ulmfit_tf.models",
    "ULMFiTTextClassifier": "ulmfit_tf.models",
    "UserInputError": "ulmfit_tf.errors",
    "load": "ulmfit_tf.model_directory",
}


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"ulmfit_tf.{name}")
    if name in _ATTRIBUTES:
        return getattr(importlib.import_module(_ATTRIBUTES[name]), name)
    raise AttributeError(f"module 'ulmfit_tf' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_SUBMODULES) | set(_ATTRIBUTES))
