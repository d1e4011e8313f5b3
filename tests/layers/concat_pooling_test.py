import keras
import numpy as np

from tests.conftest import save_and_reload
from ulmfit_tf.layers import ConcatPooling


def test_pools_last_max_and_mean_of_masked_positions():
    states = np.random.default_rng(0).normal(size=(3, 5, 4)).astype("float32")
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [0, 1, 1, 0, 0]], bool)
    pooled = ConcatPooling()(states, mask=mask).numpy()
    for row, (state, keep) in enumerate(zip(states, mask)):
        kept = state[keep]
        expected = np.concatenate([kept[-1], kept.max(axis=0), kept.mean(axis=0)])
        np.testing.assert_allclose(pooled[row], expected, rtol=1e-6)


def test_no_mask_pools_everything_and_empty_rows_give_zeros():
    states = np.arange(12, dtype="float32").reshape(1, 3, 4)
    pooled = ConcatPooling()(states).numpy()[0]
    np.testing.assert_allclose(pooled, np.concatenate([states[0, -1], states[0, -1], states[0].mean(axis=0)]))
    empty = ConcatPooling()(states, mask=np.zeros((1, 3), bool)).numpy()
    np.testing.assert_array_equal(empty, np.zeros((1, 12)))


def test_takes_the_keras_mask_and_saves(tmp_path):
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(10, 4, mask_zero=True)(inputs)
    model = keras.Model(inputs, ConcatPooling()(x))
    ids = np.array([[3, 4, 0, 0], [5, 0, 0, 0]])
    pooled = model.predict(ids, verbose=0)
    embedded = model.layers[1](ids).numpy()
    np.testing.assert_allclose(pooled[1], np.tile(embedded[1, 0], 3), rtol=1e-6)
    np.testing.assert_allclose(pooled[0, :4], embedded[0, 1], rtol=1e-6)
    np.testing.assert_allclose(save_and_reload(model, tmp_path).predict(ids, verbose=0), pooled)
