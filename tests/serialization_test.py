"""Every class ulmfit-tf registers with Keras survives its config and a `.keras` file."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.serialization import run_serialization_test
from ulmfit_tf import layers
from ulmfit_tf import losses
from ulmfit_tf import models
from ulmfit_tf import optimizers
from ulmfit_tf import schedules
from ulmfit_tf import text
from ulmfit_tf.model_directory import register_keras_objects
from ulmfit_tf.models import ulmfit_text_classifier
from ulmfit_tf.models.ulmfit_language_model import DecoderBias
from ulmfit_tf.text.ulmfit_text_classifier_preprocessor import ULMFiTTextClassifierPreprocessor

RNG = np.random.RandomState(0)
IDS = np.array([[2, 5, 7, 9, 4, 3], [2, 8, 6, 1, 1, 1]], "int32")  # the second padded with xxpad (1)
TOKENS = ["xxunk", "xxpad", "xxbos", "a", "fine", "film", "dull"]
TEXTS = tf.constant(["A fine film.", "A dull, DULL film"])


def backbone(**kwargs):
    return models.AWDLSTMBackbone(vocabulary_size=12, embedding_dim=4, hidden_dim=6, num_layers=2, seed=0, **kwargs)


def classifier(**kwargs):
    return models.ULMFiTTextClassifier(backbone(padding_id=1), bptt=2, max_len=4, hidden_dims=(5,), seed=0, **kwargs)


def decoder_bias():
    layer = DecoderBias()
    layer.build((None, 5))
    layer.bias.assign(RNG.normal(size=5))
    return layer, RNG.normal(size=(2, 3, 5))


def discriminative_optimizer():
    inputs = keras.Input((3,))
    hidden = keras.layers.Dense(4, name="dense_0")
    outputs = keras.layers.Dense(2, name="dense_1")
    model = keras.Model(inputs, outputs(hidden(inputs)))
    optimizer = optimizers.DiscriminativeOptimizer(keras.optimizers.Adam(0.01, clipnorm=1.0), [[hidden], [outputs]])
    return optimizer, (model, RNG.normal(size=(8, 3)), RNG.normal(size=(8, 2)))


def sentencepiece_tokenizer():
    texts = [f"a fine film, number {i}, and a dull one" for i in range(50)]
    return text.SentencePieceTokenizer.train(texts, vocabulary_size=30), TEXTS


# Class name: a function giving the object and the inputs for `run_serialization_test`.
CASES = {
    "ActivationRegularization": lambda: (layers.ActivationRegularization(1.5, 0.5), [RNG.normal(size=(2, 4, 3))] * 2),
    "ConcatPooling": lambda: (layers.ConcatPooling(), RNG.normal(size=(2, 4, 3))),
    "DecoderBias": decoder_bias,
    "EmbeddingDropout": lambda: (layers.EmbeddingDropout(keras.layers.Embedding(12, 4), 0.1, seed=1), IDS),
    "PoolingClassifierHead": lambda: (layers.PoolingClassifierHead(3, (5,), (0.2, 0.1), seed=1), RNG.normal(size=(2, 9))),
    "RNNDropout": lambda: (layers.RNNDropout(0.2, seed=1), RNG.normal(size=(2, 4, 3))),
    "WeightDropLSTM": lambda: (
        layers.WeightDropLSTM(4, weight_dropout=0.3, seed=1, return_sequences=True),
        RNG.normal(size=(2, 5, 3)),
    ),
    "AWDLSTMBackbone": lambda: (backbone(), IDS),
    "ULMFiTLanguageModel": lambda: (models.ULMFiTLanguageModel(backbone(), vocabulary=TOKENS + ["w"] * 5, seed=0), IDS),
    "ULMFiTLanguageModel/preprocessor": lambda: (
        models.ULMFiTLanguageModel(backbone(), preprocessor=text.WordTokenizer(vocabulary=TOKENS + ["w"] * 5), seed=0),
        IDS,
    ),
    "ULMFiTCausalLMPreprocessor": lambda: (
        models.ULMFiTCausalLMPreprocessor(text.WordTokenizer(vocabulary=TOKENS), sequence_length=5),
        TEXTS,
    ),
    "ULMFiTTextClassifier": lambda: (classifier(num_classes=2, label_names=["neg", "pos"]), IDS),
    "ULMFiTTextClassifier/multi_label": lambda: (classifier(num_classes=3, problem_type="multi_label"), IDS),
    "ULMFiTTextClassifier/regression": lambda: (
        classifier(num_classes=1, problem_type="regression", y_range=(0, 5)),
        IDS,
    ),
    "LastChunksMask": lambda: (ulmfit_text_classifier.LastChunksMask(bptt=2, max_len=4, padding_id=1), IDS),
    "SigmoidRange": lambda: (ulmfit_text_classifier.SigmoidRange(-1, 2), RNG.normal(size=(2, 3))),
    "SparseSoftmaxCrossEntropy": lambda: (
        losses.SparseSoftmaxCrossEntropy(),
        (np.array([[1, 0, 3]]), RNG.normal(size=(1, 3, 5)).astype("float32")),
    ),
    "SlantedTriangularLR": lambda: (schedules.SlantedTriangularLR(0.01, total_steps=20), [0, 1, 2, 10, 19]),
    "DiscriminativeOptimizer": discriminative_optimizer,
    "Vocabulary": lambda: (text.Vocabulary(TOKENS), tf.constant(["fine", "film", "unseen"])),
    "WordTokenizer": lambda: (text.WordTokenizer(), TEXTS),
    "WordTokenizer/vocabulary": lambda: (text.WordTokenizer(vocabulary=TOKENS), TEXTS),
    "SentencePieceTokenizer": sentencepiece_tokenizer,
    "ULMFiTTextClassifierPreprocessor": lambda: (
        ULMFiTTextClassifierPreprocessor(text.WordTokenizer(vocabulary=TOKENS), max_tokens=4),
        TEXTS,
    ),
}


def test_every_registered_class_has_a_case():
    register_keras_objects()
    registered = {
        name.split(">", 1)[1] for name in keras.saving.get_custom_objects() if name.startswith("ulmfit_tf>")
    }
    assert registered == {case.split("/")[0] for case in CASES}


@pytest.mark.parametrize("case", sorted(CASES))
def test_survives_its_config_and_a_keras_file(case):
    obj, inputs = CASES[case]()
    assert type(obj).__name__ == case.split("/")[0]
    run_serialization_test(obj, inputs)
