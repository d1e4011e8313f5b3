"""Export of ulmfit-tf classifiers: SavedModel for TF Serving, TFLite for devices.

This folder is installed as `ulmfit_tf.export` (see `pyproject.toml`).

- `export_saved_model(classifier, directory, version=1)`: TF Serving's
  layout with a raw-string `serving_default` signature.
- `export_tflite(classifier, path, quantization="none")`: one `.tflite`
  file (float, float16, dynamic-range int8 or full int8) carrying the
  labels and the vocabulary; the SentencePiece tokenizer runs inside it.
  With `target="mediapipe"`, a file MediaPipe Tasks' `TextClassifier`
  (and the TFLite Task Library's `BertNLClassifier`) runs as it is.
- `TFLiteClassifier(path)`: runs such a file with LiteRT;
  `predict_saved_model(path, texts)` runs a SavedModel.
"""

from ulmfit_tf.export.saved_model import export_saved_model
from ulmfit_tf.export.saved_model import predict_saved_model
from ulmfit_tf.export.saved_model import saved_model_predictor
from ulmfit_tf.export.tflite import export_tflite
from ulmfit_tf.export.tflite_runner import TFLiteClassifier
from ulmfit_tf.options import QUANTIZATIONS

__all__ = [
    "QUANTIZATIONS", "TFLiteClassifier", "export_saved_model", "export_tflite", "predict_saved_model",
    "saved_model_predictor",
]
