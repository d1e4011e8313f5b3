"""A multi-label classifier's decisions travel with it: SavedModel, LiteRT file and MediaPipe file.

Each export carries the per-label thresholds `classifier.calibrate` tuned,
and decides as `classifier.decide` does on the probabilities it computes.
"""

import os

import flatbuffers
import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.cli_multi_label_test import NAMES
from tests.cli_multi_label_test import tags
from tests.export.tflite_mediapipe_test import _root
from tests.export.tflite_mediapipe_test import _string
from tests.export.tflite_mediapipe_test import _table
from tests.export.tflite_mediapipe_test import _tables
from tests.export.tflite_mediapipe_test import _uint8
from tests.export.tflite_mediapipe_test import client_python
from tests.export.tflite_mediapipe_test import run_client
from tests.models.ulmfit_text_classifier_test import TEXTS
from tests.models.ulmfit_text_classifier_test import language_model
from tests.models.ulmfit_text_classifier_test import tokenizer  # noqa: F401  (a fixture)
from ulmfit_tf.export import TFLiteClassifier
from ulmfit_tf.export import export_saved_model
from ulmfit_tf.export import export_tflite
from ulmfit_tf.export import predict_saved_model
from ulmfit_tf.export.tflite_full_integer import flatbuffer_metadata
from ulmfit_tf.models import ULMFiTTextClassifier


@pytest.fixture(scope="module")
def classifier(tokenizer):  # noqa: F811
    keras.utils.set_random_seed(5)
    model = ULMFiTTextClassifier.from_language_model(
        language_model(tokenizer.vocabulary_size()), 2, preprocessor=tokenizer, label_names=NAMES,
        problem_type="multi_label", seed=1, dropout_multiplier=0.2,
    )
    model.compile(optimizer=keras.optimizers.Adam(0.02))
    model.fit(TEXTS[:32], [tags(text) for text in TEXTS[:32]], batch_size=8, epochs=3, verbose=0)
    model.calibrate(TEXTS[32:], [tags(text) for text in TEXTS[32:]])
    assert model.thresholds is not None and len(model.thresholds) == 2
    return model


def test_saved_model_gives_the_decisions_at_the_thresholds(classifier, tmp_path):
    path = export_saved_model(classifier, tmp_path / "serving")
    signatures = tf.saved_model.load(path).signatures
    outputs = signatures["serving_default"](text=tf.constant(TEXTS))
    assert set(outputs) == {"probabilities", "label_id", "label", "labels"}
    probabilities = outputs["probabilities"].numpy()
    keras_probabilities = classifier.probabilities(classifier.predict(TEXTS, verbose=0)).numpy()
    np.testing.assert_allclose(probabilities, keras_probabilities, atol=1e-6)
    np.testing.assert_array_equal(outputs["labels"].numpy(), classifier.decide(probabilities))
    assert signatures["thresholds"]()["thresholds"].numpy().tolist() == classifier.thresholds

    labels, served, names = predict_saved_model(path, TEXTS)
    assert names == NAMES
    assert labels == expected(served, classifier.thresholds)
    labels, _, _ = predict_saved_model(path, TEXTS, threshold=0.0, top_k=1)
    assert labels == [[NAMES[int(row.argmax())]] for row in served]


def expected(probabilities, thresholds):
    """Independently: each text's labels at or above their threshold, most probable first."""
    return [
        [NAMES[i] for i in sorted(range(len(NAMES)), key=lambda i: -row[i]) if row[i] >= thresholds[i]]
        for row in probabilities
    ]


def test_tflite_file_carries_the_thresholds_and_decides_with_them(classifier, tmp_path):
    path = export_tflite(classifier, str(tmp_path / "tags.tflite"))
    runner = TFLiteClassifier(path)
    assert runner.problem_type == "multi_label" and runner.metadata["thresholds"] == classifier.thresholds
    labels, probabilities = runner.predict(TEXTS)
    keras_probabilities = classifier.probabilities(classifier.predict(TEXTS, verbose=0)).numpy()
    np.testing.assert_allclose(probabilities, keras_probabilities, atol=1e-5)
    assert labels == expected(probabilities, classifier.thresholds)
    assert runner.predict(TEXTS[:5], threshold=0.0)[0] == expected(probabilities[:5], [0.0, 0.0])
    assert runner.predict(TEXTS[:5], threshold=0.0, top_k=1)[0] == [[NAMES[int(p.argmax())]] for p in probabilities[:5]]


def test_mediapipe_file_keeps_the_lowest_threshold_for_mediapipe(classifier, tmp_path):
    path = export_tflite(classifier, str(tmp_path / "mediapipe.tflite"), target="mediapipe")
    with open(path, "rb") as f:
        metadata = _root(flatbuffer_metadata(f.read())["TFLITE_METADATA"])
    (subgraph,) = _tables(metadata, 3)
    (output,) = _tables(subgraph, 3)
    (unit,) = _tables(output, 4)
    assert _uint8(unit, 0) == 3  # ScoreThresholdingOptions
    options = _table(unit, 1)
    lowest = options.Get(flatbuffers.number_types.Float32Flags, options.Offset(4) + options.Pos)
    assert lowest == np.float32(min(classifier.thresholds))
    description = _string(metadata, 1)
    for name, value in zip(NAMES, classifier.thresholds):
        assert f"{name} {value:.4f}" in description

    if not os.path.exists(os.path.join(os.path.dirname(__file__), "..", "..", ".venv-mediapipe")):
        return  # the client's own test makes that environment when pip can install it
    python = client_python("mediapipe", ["mediapipe==1.2.2"], "import mediapipe")
    reply = run_client(python, "mediapipe", path, TEXTS[:16])
    assert reply["metadata"]["outputs"][0]["score_thresholds"] == pytest.approx([min(classifier.thresholds)])
    keras_probabilities = classifier.probabilities(classifier.predict(TEXTS[:16], verbose=0)).numpy()
    kept = np.array([[score is not None for score in result["scores"]] for result in reply["results"]])
    # MediaPipe drops the categories under the file's threshold (away from it by more than float error).
    clear = np.abs(keras_probabilities - min(classifier.thresholds)) > 1e-4
    np.testing.assert_array_equal(kept[clear], (keras_probabilities >= min(classifier.thresholds))[clear])
    assert kept.any() and not kept.all()
