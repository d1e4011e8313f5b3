import numpy as np
import pytest

from ulmfit_tf.layers import PoolingClassifierHead


def test_fastai_block_structure_and_numbers():
    head = PoolingClassifierHead(num_outputs=3, hidden_dims=(5,), dropout_rates=(0.4, 0.1))
    x = np.random.default_rng(0).normal(size=(4, 12)).astype("float32")
    out = head(x).numpy()
    assert out.shape == (4, 3)
    (bn0, bn1), (dense0, dense1) = head.batch_norms, head.denses
    assert bn0.epsilon == bn1.epsilon == 1e-5 and bn0.momentum == bn1.momentum == 0.9
    assert not dense0.use_bias and not dense1.use_bias
    # Inference: BatchNorm with running statistics (0 mean, 1 variance) is x / sqrt(1 + eps).
    hidden = np.maximum(x / np.sqrt(1 + 1e-5) @ dense0.kernel.numpy(), 0)
    np.testing.assert_allclose(out, hidden / np.sqrt(1 + 1e-5) @ dense1.kernel.numpy(), rtol=1e-5, atol=1e-6)
    assert dense1.compute_dtype == "float32"


def test_training_updates_batch_statistics_like_pytorch():
    head = PoolingClassifierHead(num_outputs=2, dropout_rates=(0.0, 0.0))
    x = np.random.default_rng(1).normal(3.0, 1.0, size=(64, 6)).astype("float32")
    head(x, training=True)
    np.testing.assert_allclose(head.batch_norms[0].moving_mean.numpy(), 0.1 * x.mean(axis=0), rtol=1e-4)


def test_round_trips_and_validates(tmp_path):
    head = PoolingClassifierHead(num_outputs=4, hidden_dims=(8, 6), dropout_rates=(0.2, 0.1, 0.1), seed=3)
    restored = PoolingClassifierHead.from_config(head.get_config())
    assert restored.get_config() == head.get_config()
    with pytest.raises(ValueError, match="Argument `dropout_rates` must hold one rate per block"):
        PoolingClassifierHead(num_outputs=2, hidden_dims=(50,), dropout_rates=(0.4,))
    with pytest.raises(ValueError, match="Argument `num_outputs` must be a positive integer"):
        PoolingClassifierHead(num_outputs=0)
