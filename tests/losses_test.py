import keras
import numpy as np
import pytest
import tensorflow as tf

from ulmfit_tf.losses import SparseSoftmaxCrossEntropy


@pytest.mark.parametrize("shape", [(3, 5, 11), (7, 4)])
def test_values_and_gradients_are_keras_sparse_cross_entropy(shape):
    rng = np.random.default_rng(0)
    logits = tf.Variable(rng.normal(size=shape).astype("float32") * 30)  # large: the max shift matters
    targets = tf.constant(rng.integers(0, shape[-1], size=shape[:-1]), tf.int32)
    results = []
    for loss in (keras.losses.SparseCategoricalCrossentropy(from_logits=True), SparseSoftmaxCrossEntropy()):
        with tf.GradientTape() as tape:
            value = loss(targets, logits)
        results.append((value, tape.gradient(value, logits)))
    (expected, expected_gradient), (value, gradient) = results
    np.testing.assert_allclose(value, expected, rtol=1e-6)
    np.testing.assert_allclose(gradient, expected_gradient, rtol=1e-5, atol=1e-8)
    per_position = SparseSoftmaxCrossEntropy(reduction=None)(targets, logits)
    assert per_position.shape == shape[:-1]


def test_bfloat16_logits_and_serialization():
    logits = tf.constant([[2.0, -1.0, 0.5]], tf.bfloat16)
    value = SparseSoftmaxCrossEntropy()(tf.constant([0]), logits)
    expected = -np.log(np.exp(2.0) / np.exp([2.0, -1.0, 0.5]).sum())
    assert value.dtype == tf.float32 and abs(float(value) - expected) < 1e-6
    loss = SparseSoftmaxCrossEntropy(reduction="sum", name="lm_loss")
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(restored, SparseSoftmaxCrossEntropy) and restored.get_config() == loss.get_config()
