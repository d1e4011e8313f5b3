"""A calibrated classifier's temperature travels into the .keras file, the SavedModel and the TFLite files."""

import keras
import numpy as np
import pytest

from tests.export.conftest import keras_probabilities
from ulmfit_tf.export import TFLiteClassifier
from ulmfit_tf.export import export_saved_model
from ulmfit_tf.export import export_tflite
from ulmfit_tf.export import predict_saved_model

TEXTS = ["A fine, moving film.", "Dull and slow.", "It drags, but the cast is superb.", "Meh."]


@pytest.fixture(scope="module")
def calibrated(classifier, reviews):
    copy = type(classifier).from_config(classifier.get_config())
    copy.set_weights(classifier.get_weights())
    copy.preprocessor = classifier.preprocessor  # the tokenizer's model is an asset, not config
    texts, labels = reviews["test"]
    copy.calibrate(texts[:400], labels[:400])
    return copy


def test_calibrate_fits_the_temperature_on_the_logits(calibrated, classifier, reviews):
    from ulmfit_tf.calibration import fit_temperature

    texts, labels = reviews["test"]
    logits = classifier.predict(texts[:400], verbose=0)
    assert calibrated.temperature == pytest.approx(fit_temperature(logits, classifier.encode_targets(labels[:400])))
    assert calibrated.temperature != pytest.approx(1.0, abs=1e-3)
    ours, raw = keras_probabilities(calibrated, TEXTS), keras_probabilities(classifier, TEXTS)
    expected = keras.ops.softmax(classifier.predict(TEXTS, verbose=0) / calibrated.temperature).numpy()
    np.testing.assert_allclose(ours, expected, atol=1e-6)
    np.testing.assert_array_equal(ours.argmax(1), raw.argmax(1))


def test_the_temperature_travels_into_every_file(calibrated, tmp_path):
    expected = keras_probabilities(calibrated, TEXTS)
    calibrated.save(tmp_path / "classifier.keras")
    reloaded = keras.saving.load_model(tmp_path / "classifier.keras")
    assert reloaded.temperature == calibrated.temperature
    np.testing.assert_allclose(keras_probabilities(reloaded, TEXTS), expected, atol=1e-6)
    export_saved_model(calibrated, str(tmp_path / "serving"))
    _, probabilities, _ = predict_saved_model(str(tmp_path / "serving" / "1"), TEXTS)
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    for quantization, tolerance in (("none", 1e-4), ("dynamic_int8", 0.05)):
        path = tmp_path / f"classifier.{quantization}.tflite"
        export_tflite(calibrated, str(path), quantization=quantization)
        _, probabilities = TFLiteClassifier(str(path)).predict(TEXTS)
        np.testing.assert_allclose(probabilities, expected, atol=tolerance)
    # MediaPipe's file, on the BERT inputs its TextClassifier writes for lower-cased text.
    from ai_edge_litert.interpreter import Interpreter

    from tests.export.tflite_mediapipe_test import bert_inputs

    lowered = [text.lower() for text in TEXTS]
    path = export_tflite(calibrated, str(tmp_path / "mediapipe.tflite"), target="mediapipe")
    run = Interpreter(model_path=path).get_signature_runner()
    answers = np.concatenate([run(**bert_inputs(calibrated, text))["probability"] for text in lowered])
    np.testing.assert_allclose(answers, keras_probabilities(calibrated, lowered), atol=1e-4)
