import keras
import numpy as np
import pytest
import tensorflow as tf

from ulmfit_tf.layers import EmbeddingDropout


def make_layer(rate=0.5, vocabulary_size=1000, dim=6, seed=3):
    embedding = keras.layers.Embedding(vocabulary_size, dim)
    return EmbeddingDropout(embedding, rate=rate, seed=seed)


def test_identity_at_inference():
    layer = make_layer()
    ids = np.arange(20).reshape(2, 10)
    plain = layer.layer(ids)
    np.testing.assert_array_equal(layer(ids, training=False), plain)
    np.testing.assert_array_equal(layer(ids), plain)


def test_drops_whole_words_and_rescales_kept_rows():
    layer = make_layer(rate=0.4)
    ids = np.tile(np.arange(1000), (3, 1))  # every word, in three rows
    plain = np.asarray(layer.layer(ids))
    out = np.asarray(layer(ids, training=True))
    dropped = np.all(out == 0, axis=-1)
    # A word is dropped everywhere it occurs in the batch, or nowhere.
    assert np.all(dropped == dropped[0])
    np.testing.assert_allclose(out[~dropped], plain[~dropped] / 0.6, rtol=1e-6)
    assert abs(dropped[0].mean() - 0.4) < 0.05


def test_new_mask_each_call():
    layer = make_layer()
    ids = np.arange(1000)[None]
    first = np.asarray(layer(ids, training=True))
    second = np.asarray(layer(ids, training=True))
    assert not np.array_equal(first == 0, second == 0)


def test_matrix_stays_one_variable_and_gets_gradients():
    layer = make_layer(rate=0.5, vocabulary_size=50)
    ids = tf.constant([list(range(1, 21)) + [2, 2, 7]])  # words 1 to 20, with 2 three times and 7 twice
    with tf.GradientTape() as tape:
        outputs = layer(ids, training=True)
        loss = tf.reduce_sum(outputs)
    (gradient,) = tape.gradient(loss, layer.trainable_variables)
    gradient = tf.convert_to_tensor(gradient).numpy()
    assert layer.embeddings is layer.layer.embeddings
    assert len(layer.trainable_variables) == 1
    # Each row's gradient is its word's uses times 1 / (1 - p) if kept, else 0.
    kept = np.zeros(50)
    kept[ids.numpy()[0]] = np.any(outputs.numpy()[0] != 0, axis=-1)
    uses = np.bincount(ids.numpy()[0], minlength=50)
    expected = uses * kept / 0.5
    assert 0 < kept.sum() < 20  # some words kept, some dropped
    np.testing.assert_allclose(gradient, np.repeat(expected[:, None], 6, axis=1), rtol=1e-6)


def test_config_round_trip():
    layer = make_layer(rate=0.25, seed=9)
    restored = EmbeddingDropout.from_config(layer.get_config())
    assert restored.rate == 0.25
    assert restored.seed == 9
    assert restored.layer.input_dim == 1000


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"Argument `rate` must be in \[0, 1\). Received: rate=1.5"):
        make_layer(rate=1.5)
    with pytest.raises(ValueError, match="Argument `layer` must be a `keras.layers.Embedding`"):
        EmbeddingDropout(keras.layers.Dense(3), rate=0.1)
