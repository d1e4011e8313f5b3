"""Softmax cross-entropy over a large vocabulary, with its gradient written once.

A language model's loss reads `(tokens, vocabulary)` logits: at the paper's
size 2,240 x 30,000 per batch. TensorFlow's fused
`sparse_softmax_cross_entropy_with_logits` makes several passes over that
matrix forwards and backwards; `SparseSoftmaxCrossEntropy` makes the fewest
(max, exponentials and their sum forwards; one scaled copy backwards, less
one at each target) and keeps the exponentials for the backward pass. The
values and gradients are those of
`keras.losses.SparseCategoricalCrossentropy(from_logits=True)`.
"""

import keras
import tensorflow as tf
from keras import ops


@keras.saving.register_keras_serializable(package="ulmfit_tf")
class SparseSoftmaxCrossEntropy(keras.losses.Loss):
    """Sparse categorical cross-entropy from logits, fast for large vocabularies.

    Computes `logsumexp(logits) - logits[target]` per position, as
    `keras.losses.SparseCategoricalCrossentropy(from_logits=True)` does, with
    a hand-written gradient (`softmax - one_hot`) on the TensorFlow backend.
    The logits are read in float32.

    Args:
        reduction: Keras' loss reduction. Defaults to
            `"sum_over_batch_size"`.
        name: Optional name.

    Example:

    ```python
    model.compile(optimizer="adam", loss=SparseSoftmaxCrossEntropy())
    ```
    """

    def __init__(self, reduction="sum_over_batch_size", name="sparse_softmax_cross_entropy", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def call(self, y_true, y_pred):
        logits = ops.cast(y_pred, "float32")
        targets = ops.cast(y_true, "int32")
        if keras.backend.backend() != "tensorflow":
            return ops.sparse_categorical_crossentropy(targets, logits, from_logits=True)
        return _tensorflow_cross_entropy(targets, logits)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction, "dtype": self.dtype}


def _tensorflow_cross_entropy(targets, logits):
    shape = tf.shape(targets)
    flat_logits = tf.reshape(logits, [-1, tf.shape(logits)[-1]])
    flat_targets = tf.reshape(targets, [-1])

    @tf.custom_gradient
    def cross_entropy(flat_logits):
        top = tf.stop_gradient(tf.reduce_max(flat_logits, axis=-1, keepdims=True))
        exponentials = tf.exp(flat_logits - top)
        total = tf.reduce_sum(exponentials, axis=-1, keepdims=True)
        picked = tf.gather(flat_logits, flat_targets, axis=1, batch_dims=1)
        losses = tf.math.log(total[:, 0]) + top[:, 0] - picked

        def gradient(upstream):
            scale = upstream[:, None] / total
            indices = tf.stack([tf.range(tf.shape(flat_targets)[0]), flat_targets], axis=1)
            return tf.tensor_scatter_nd_sub(exponentials * scale, indices, upstream)

        return losses, gradient

    return tf.reshape(cross_entropy(flat_logits), shape)
