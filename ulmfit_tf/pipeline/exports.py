"""The pipeline's last step: the classifier exported, each export tested."""

import os

import numpy as np

from ulmfit_tf.export import TFLiteClassifier
from ulmfit_tf.export import export_saved_model
from ulmfit_tf.export import export_tflite
from ulmfit_tf.export import predict_saved_model
from ulmfit_tf.folders import file_size


def export_and_test(classifier, output, direction, test, log):
    """Exports the SavedModel and the dynamic-range int8 TFLite file; their test accuracy and size.

    Returns:
        A dict `{"saved_model": (path, bytes, accuracy), "tflite_dynamic_int8": (...)}`.

    Example:

    ```python
    exports = export_and_test(classifier, "runs/demo", "forward", (test_texts, test_labels), print)
    ```
    """
    texts, labels = test
    log("[export] SavedModel and dynamic-range int8 TFLite")
    saved_model = export_saved_model(classifier, os.path.join(output, f"{direction}_saved_model"), overwrite=True)
    predicted = predict_saved_model(saved_model, texts)[0]
    tflite = export_tflite(
        classifier, os.path.join(output, f"{direction}_classifier.dynamic_int8.tflite"), "dynamic_int8", overwrite=True
    )
    tflite_labels = TFLiteClassifier(tflite).predict(texts)[0]
    return {
        "saved_model": (saved_model, file_size(saved_model), _accuracy(predicted, labels)),
        "tflite_dynamic_int8": (tflite, file_size(tflite), _accuracy(tflite_labels, labels)),
    }


def _accuracy(predicted, labels):
    """The share of texts whose label (multi-label: whose set of labels, an exact match) is the true one."""
    return float(np.mean([_answer(p) == _answer(y) for p, y in zip(predicted, labels)]))


def _answer(label):
    return frozenset(map(str, label)) if isinstance(label, (list, tuple)) else str(label)
