import numpy as np
import pytest

from ulmfit_tf.layers import RNNDropout


def test_one_mask_per_sequence_and_rescaling():
    layer = RNNDropout(0.3, seed=1)
    x = np.random.uniform(1, 2, size=(8, 12, 200)).astype("float32")
    out = np.asarray(layer(x, training=True))
    kept = out != 0
    # The same features are dropped at every timestep of a sequence...
    assert np.all(kept == kept[:, :1, :])
    # ...but not the same ones in every sequence.
    assert not np.all(kept == kept[:1])
    np.testing.assert_allclose(out[kept], x[kept] / 0.7, rtol=1e-6)
    assert abs(1 - kept.mean() - 0.3) < 0.03


def test_identity_at_inference():
    layer = RNNDropout(0.5)
    x = np.random.normal(size=(2, 3, 4)).astype("float32")
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer(x, training=False), x)


def test_new_mask_each_call():
    layer = RNNDropout(0.5, seed=2)
    x = np.ones((4, 2, 50), "float32")
    assert not np.array_equal(layer(x, training=True), layer(x, training=True))


def test_config_round_trip():
    layer = RNNDropout(0.2, seed=5, name="hidden")
    restored = RNNDropout.from_config(layer.get_config())
    assert (restored.rate, restored.seed, restored.name) == (0.2, 5, "hidden")


def test_bad_rate():
    with pytest.raises(ValueError, match=r"Argument `rate` must be in \[0, 1\). Received: rate=-0.1"):
        RNNDropout(-0.1)
