import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.export.conftest import AWKWARD
from tests.export.conftest import AWKWARD_TEXTS
from tests.export.conftest import FIXTURE
from tests.export.conftest import argmax_agreement
from tests.export.conftest import keras_probabilities
from tests.models.ulmfit_text_classifier_test import TEXTS
from tests.models.ulmfit_text_classifier_test import tokenizer  # noqa: F401  (a fixture)
from ulmfit_tf.convert import from_fastai
from ulmfit_tf.export import TFLiteClassifier
from ulmfit_tf.export import export_saved_model
from ulmfit_tf.export import export_tflite
from ulmfit_tf.models import AWDLSTMBackbone
from ulmfit_tf.models import ULMFiTTextClassifier
from ulmfit_tf.text import SentencePieceTokenizer


@pytest.fixture(scope="module")
def tflite_files(classifier, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tflite")
    return {
        quantization: export_tflite(classifier, str(folder / f"{quantization}.tflite"), quantization)
        for quantization in ("none", "float16", "dynamic_int8")
    }


def test_float_matches_keras_and_tokenizes_like_python(classifier, tflite_files):
    runner = TFLiteClassifier(tflite_files["none"])
    assert runner.metadata["input"] == "text" and runner.label_names == ["rotten", "fresh"]
    labels, probabilities = runner.predict(AWKWARD)
    expected = keras_probabilities(classifier, AWKWARD_TEXTS)
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    assert labels == [["rotten", "fresh"][i] for i in expected.argmax(axis=1)]
    # The device reads each text's last 8,192 tokens (it read the first ones before), as Keras does.
    python_ids = classifier.preprocessor.tokenizer(AWKWARD_TEXTS).to_list()
    assert max(len(ids) for ids in python_ids) > 8192
    for device_ids, ids in zip(runner.tokenize(AWKWARD_TEXTS), python_ids):
        assert list(device_ids) == ids[-8192:]
    # No state leaks between calls: the same text gives the same answer in any order.
    again = runner.predict(list(reversed(AWKWARD)))[1][::-1]
    np.testing.assert_array_equal(again, probabilities)


def test_float16_and_dynamic_int8_variants(classifier, tflite_files, reviews):
    texts = reviews["test"][0]
    expected = keras_probabilities(classifier, texts)
    float16 = TFLiteClassifier(tflite_files["float16"]).predict(texts[:100])[1]
    np.testing.assert_allclose(float16, expected[:100], atol=1e-3)
    sizes = {name: os.path.getsize(path) for name, path in tflite_files.items()}
    assert sizes["float16"] < sizes["none"] and sizes["dynamic_int8"] < sizes["float16"]
    assert argmax_agreement(tflite_files["dynamic_int8"], texts, expected) >= 0.99


def test_pads_with_the_backbones_padding_id(tokenizer, tmp_path):  # noqa: F811
    """An empty text's one step and the file's metadata use the backbone's `padding_id` (they used 1)."""
    no_bos = SentencePieceTokenizer(proto=tokenizer.proto, add_bos=False)
    backbone = AWDLSTMBackbone(tokenizer.vocabulary_size(), 8, 12, 2, padding_id=3, seed=1)
    classifier = ULMFiTTextClassifier(backbone, 2, preprocessor=no_bos, bptt=4, max_len=8, seed=1)
    runner = TFLiteClassifier(export_tflite(classifier, tmp_path / "padding.tflite"))
    assert runner.metadata["padding_id"] == 3
    assert [list(ids) for ids in runner.tokenize(["", TEXTS[0]])] == [[3], no_bos([TEXTS[0]])[0].numpy().tolist()]
    texts = ["", TEXTS[0]]
    np.testing.assert_allclose(runner.predict(texts)[1], keras_probabilities(classifier, texts), atol=1e-5)


def test_fastai_word_tokenizer_classifier_exports_with_ids_input(tmp_path):
    with np.load(FIXTURE) as archive:
        fixture = {k: archive[k] for k in archive.files}
    state = {k[len("clas/"):]: v for k, v in fixture.items() if k[len("clas/"):][:2] in ("0.", "1.")}
    vocab = ["xxunk", "xxpad", "xxbos", "xxeos", "xxfld", "xxrep", "xxwrep", "xxup", "xxmaj"]
    vocab += [f"w{i}" for i in range(300 - len(vocab) - 4)] + ["good", "film", "dull", "."]
    classifier = from_fastai(
        state, task="classifier", bptt=8, max_len=16, vocab=vocab, labels=["neg", "neutral", "pos"]
    )
    texts = ["Good film.", "DULL dull film!!!!", "", "w3 w4 " * 20, b"bad \xff utf-8"]
    expected = keras_probabilities(classifier, [t.decode("utf-8", "replace") if isinstance(t, bytes) else t for t in texts])
    path = export_tflite(classifier, str(tmp_path / "fastai.tflite"))
    runner = TFLiteClassifier(path)
    assert runner.metadata["input"] == "token_ids" and runner.label_names == ["neg", "neutral", "pos"]
    labels, probabilities = runner.predict(texts)
    np.testing.assert_allclose(probabilities, expected, atol=1e-5)
    assert labels == [["neg", "neutral", "pos"][i] for i in expected.argmax(axis=1)]
    # The SavedModel tokenizes with core TF ops and the vocabulary table inside.
    serve = tf.saved_model.load(export_saved_model(classifier, tmp_path / "serving")).signatures["serving_default"]
    np.testing.assert_allclose(serve(text=tf.constant(texts))["probabilities"].numpy(), expected, atol=1e-5)


def test_runner_rejects_files_that_are_not_ours(tmp_path):
    with pytest.raises(FileNotFoundError, match="No TFLite file"):
        TFLiteClassifier(tmp_path / "missing.tflite")
    not_tflite = tmp_path / "notes.tflite"
    not_tflite.write_bytes(b"hello, I am not a model!")  # 24 bytes: whole 4-byte words
    with pytest.raises(ValueError, match="is not a TFLite model file"):
        TFLiteClassifier(not_tflite)
    not_tflite.write_bytes(b"hello, I am not a model")
    with pytest.raises(ValueError, match=r"is truncated \(23 bytes, not a whole number of 4-byte words\)"):
        TFLiteClassifier(not_tflite)
    inputs = keras.Input((3,))
    plain = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    foreign = tmp_path / "foreign.tflite"
    foreign.write_bytes(tf.lite.TFLiteConverter.from_keras_model(plain).convert())
    with pytest.raises(ValueError, match="not one written by `ulmfit_tf.export.export_tflite`"):
        TFLiteClassifier(foreign)


def test_export_errors(classifier, tmp_path):
    bare = ULMFiTTextClassifier.from_config(dict(classifier.get_config(), preprocessor=None))
    with pytest.raises(ValueError, match="has no `preprocessor`"):
        export_tflite(bare, tmp_path / "x.tflite")
    with pytest.raises(ValueError, match="must be a `ULMFiTTextClassifier`"):
        export_tflite(keras.Sequential([keras.layers.Dense(1)]), tmp_path / "x.tflite")
    with pytest.raises(ValueError, match="Argument `quantization` must be one of"):
        export_tflite(classifier, tmp_path / "x.tflite", quantization="int4")
    with pytest.raises(ValueError, match="Argument `representative_texts` must hold"):
        export_tflite(classifier, tmp_path / "x.tflite", quantization="int8")
    assert not os.path.exists(tmp_path / "x.tflite")
