import keras
import numpy as np
import pytest
import tensorflow as tf

from ulmfit_tf.text import SentencePieceTokenizer
from ulmfit_tf.text import ULMFiTTextClassifierPreprocessor
from ulmfit_tf.text import WordTokenizer

WORDS = ["xxunk", "xxpad", "xxbos", "xxeos", "a", "b", "c", "d", "e", "f"]
# Ids of the words: a -> 4, b -> 5, ..., f -> 9; xxbos is 2.


def preprocessor(**kwargs):
    return ULMFiTTextClassifierPreprocessor(WordTokenizer(vocabulary=WORDS, add_bos=False), **kwargs)


def test_pads_after_each_text_to_the_longest_and_keeps_the_last_max_tokens():
    ids = preprocessor(max_tokens=3)(["a b", "a b c d e", "f"]).numpy()
    assert ids.dtype == np.int32
    assert ids.tolist() == [[4, 5, 1], [6, 7, 8], [9, 1, 1]]
    assert preprocessor(max_tokens=None)(["a b c d e"]).numpy().tolist() == [[4, 5, 6, 7, 8]]


def test_pads_with_its_padding_id_and_to_one_step_at_least():
    assert preprocessor(padding_id=0)(["a b c", "d"]).numpy().tolist() == [[4, 5, 6], [7, 0, 0]]
    assert preprocessor(padding_id=3)(["", " "]).numpy().tolist() == [[3], [3]]


def test_maps_a_dataset_of_texts_and_labels_keeping_the_labels():
    labels = np.array([0.25, 4.5])  # float64 stays float64: no autocast
    data = tf.data.Dataset.from_tensor_slices((["a b c d", "e"], labels)).batch(2).map(preprocessor(max_tokens=2))
    (ids, targets), = list(data)
    assert ids.numpy().tolist() == [[6, 7], [8, 1]]
    assert targets.dtype == tf.float64 and targets.numpy().tolist() == [0.25, 4.5]
    ids, targets, weights = preprocessor()(tf.constant(["a"]), np.array([1]), np.array([2.0]))
    assert ids.numpy().tolist() == [[4]] and np.asarray(targets).tolist() == [1] and np.asarray(weights).tolist() == [2.0]


def test_device_ids_are_the_layers_ids_for_one_text():
    corpus = ["the film was fine", "a dull and slow story", "its cast and its plot"] * 20
    forward = SentencePieceTokenizer.train(corpus, vocabulary_size=30, add_bos=False)
    long_text = "a dull and slow story, its cast and its plot"
    pieces = forward([long_text])[0].numpy().tolist()
    assert len(pieces) > 5
    for reverse in (False, True):
        tokenizer = SentencePieceTokenizer(proto=forward.proto, add_bos=False, reverse=reverse)
        layer = ULMFiTTextClassifierPreprocessor(tokenizer, max_tokens=5, padding_id=3)
        # The last 5 ids the network reads: of the reversed text when reading backwards.
        assert layer([long_text]).numpy().tolist() == [(pieces[::-1] if reverse else pieces)[-5:]]
        for text in ["", "the film", long_text]:
            assert layer.device_ids(tf.constant([text])).numpy().tolist() == layer([text]).numpy().tolist()


def test_config_round_trip_and_errors():
    layer = preprocessor(max_tokens=7, padding_id=0)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert isinstance(restored, ULMFiTTextClassifierPreprocessor)
    assert (restored.max_tokens, restored.padding_id) == (7, 0)
    assert restored.tokenizer.get_vocabulary() == WORDS and not restored.tokenizer.add_bos
    np.testing.assert_array_equal(restored(["a b"]), layer(["a b"]))
    with pytest.raises(ValueError, match=r"Argument `max_tokens` must be a positive integer or None. Received: max_tokens=0"):
        preprocessor(max_tokens=0)
    with pytest.raises(ValueError, match=r"Argument `padding_id` must be an integer. Received: padding_id=None"):
        preprocessor(padding_id=None)
