"""Shared by the export tests: one tiny SentencePiece classifier, trained once, and awkward inputs."""

import os

import keras
import numpy as np
import pytest

from ulmfit_tf import datasets
from ulmfit_tf.export import TFLiteClassifier
from ulmfit_tf.models import AWDLSTMBackbone
from ulmfit_tf.models import ULMFiTTextClassifier
from ulmfit_tf.text import SentencePieceTokenizer

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "fixtures", "fastai_awd_lstm_parity.npz")

# Inputs an exported model must survive: mixed lengths, empty and blank
# strings, invalid UTF-8, a NUL byte, odd Unicode and a document longer
# than the 8,192 tokens a classifier reads.
AWKWARD = [
    "A fine, moving film.",
    "",
    "   \n\t ",
    b"broken \xff\xfe utf-8 \xc3",
    "nul\x00byte",
    "emoji 🎬🍿 and ÇÀ ü ß 中文",
    "It drags. " * 2500,
    "Dull.",
]
# What the runners read for `AWKWARD`: bytes decoded as UTF-8, invalid ones replaced.
AWKWARD_TEXTS = [t.decode("utf-8", "replace") if isinstance(t, bytes) else t for t in AWKWARD]


@pytest.fixture(scope="session")
def reviews():
    data = datasets.load_rotten_tomatoes()
    names = data["label_names"]
    return {split: (data[split]["texts"], [names[i] for i in data[split]["labels"]]) for split in ("train", "test")}


@pytest.fixture(scope="session")
def classifier(reviews):
    """A tiny SentencePiece classifier trained for one epoch, so that its answers are not all ties."""
    keras.utils.set_random_seed(7)
    texts, labels = reviews["train"]
    tokenizer = SentencePieceTokenizer.train(texts[:3000], vocabulary_size=600)
    backbone = AWDLSTMBackbone(tokenizer.vocabulary_size(), 16, 24, 2, padding_id=1, dropout_multiplier=0.2, seed=1)
    model = ULMFiTTextClassifier(
        backbone, 2, preprocessor=tokenizer, label_names=["rotten", "fresh"], bptt=16, max_len=64, seed=1
    )
    model.compile(keras.optimizers.Adam(1e-2))
    model.fit(texts[:3000], labels[:3000], batch_size=64, epochs=1, verbose=0)
    return model


def keras_probabilities(classifier, texts):
    return classifier.probabilities(classifier.predict(texts, batch_size=16, verbose=0)).numpy()


def argmax_agreement(path, texts, expected):
    """The share of `texts` where a `.tflite` file's top class is `expected`'s, after sanity checks."""
    probabilities = TFLiteClassifier(path).predict(texts)[1]
    assert np.isfinite(probabilities).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    agreement = np.mean(probabilities.argmax(axis=1) == expected.argmax(axis=1))
    difference = np.abs(probabilities - expected).max()
    print(f"{os.path.basename(path)}: argmax agreement {agreement:.4f} on {len(texts)} texts, max |dp| {difference:.2e}")
    return agreement
