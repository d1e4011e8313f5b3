import collections
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from ulmfit_tf.text import SPECIAL_TOKENS
from ulmfit_tf.text import Vocabulary
from ulmfit_tf.text import WordTokenizer

CORPUS = [["the", "film", "is", "good"], ["the", "film", "is", "bad"], ["the", "plot", "is", "thin", "film"]]


def test_built_like_fastai_make_vocab():
    vocabulary = Vocabulary.from_corpus(CORPUS, min_freq=2)
    assert vocabulary.tokens == list(SPECIAL_TOKENS) + ["the", "film", "is"] + ["xxfake"] * 4
    vocabulary = Vocabulary.from_corpus(CORPUS, min_freq=1, max_vocab=11)
    assert vocabulary.tokens[:9] == list(SPECIAL_TOKENS)
    assert vocabulary.tokens[9:] == ["the", "film"] + ["xxfake"] * 5  # "is" ties with "film", seen later
    counts = collections.Counter({"b": 5, "a": 5, "c": 1, "xxbos": 9})
    assert Vocabulary.from_corpus(counts, min_freq=1).tokens[9:] == ["b", "a", "c"] + ["xxfake"] * 4
    # A multiple of 8 already still gets 8 `xxfake`, as in fastai.
    counts = collections.Counter({f"w{i}": 3 for i in range(7)})
    assert Vocabulary.from_corpus(counts).tokens[9:] == [f"w{i}" for i in range(7)] + ["xxfake"] * 8


def test_equals_fastai_make_vocab_on_the_fixture():
    """fastai 2.8.12's vocabulary for 300 texts, from the ulmfit-tf word tokenizer's tokens."""
    with open(os.path.join(os.path.dirname(__file__), "..", "fixtures", "fastai_pretrained", "zip", "target.json")) as f:
        target = json.load(f)
    tokens = WordTokenizer()(target["texts"]).to_list()
    vocabulary = Vocabulary.from_corpus(tokens)
    assert vocabulary.tokens == target["vocab"]
    assert vocabulary.size == 344 and vocabulary.tokens[-1] == "xxfake"


def test_lookup_in_graph_with_unknowns_and_ragged_input():
    vocabulary = Vocabulary.from_corpus(CORPUS, min_freq=2)
    ids = vocabulary(tf.ragged.constant([["the", "film"], ["is", "great", "xxbos"]]))
    assert ids.to_list() == [[9, 10], [11, 0, 2]]
    dataset = tf.data.Dataset.from_tensor_slices(tf.constant([["the", "is"]])).map(vocabulary)
    assert next(iter(dataset)).numpy().tolist() == [9, 11]
    np.testing.assert_array_equal(vocabulary.decode(tf.constant([9, 0])).numpy(), [b"the", b"xxunk"])


def test_fastai_itos_with_padding_tokens():
    itos = list(SPECIAL_TOKENS) + ["the", "a"] + ["xxfake"] * 5
    vocabulary = Vocabulary.from_fastai(itos)
    assert vocabulary.size == 16
    assert vocabulary(["a", "xxfake"]).numpy().tolist() == [10, 11]


def test_config_round_trip():
    vocabulary = Vocabulary.from_corpus(CORPUS, min_freq=1, name="words")
    restored = Vocabulary.from_config(vocabulary.get_config())
    assert restored.tokens == vocabulary.tokens and restored.name == "words"
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(vocabulary))
    assert restored(["plot"]).numpy().tolist() == vocabulary(["plot"]).numpy().tolist()


def test_errors():
    with pytest.raises(ValueError, match="Argument `tokens` must start with the unknown token 'xxunk'"):
        Vocabulary(["the", "xxunk"])
    with pytest.raises(ValueError, match="Arguments `max_vocab` must be >= 9"):
        Vocabulary.from_corpus(CORPUS, max_vocab=3)
