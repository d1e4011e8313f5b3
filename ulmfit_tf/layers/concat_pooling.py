import keras
from keras import ops


@keras.saving.register_keras_serializable(package="ulmfit_tf")
class ConcatPooling(keras.layers.Layer):
    """ULMFiT's concat pooling: `[last state, max over time, mean over time]`.

    Pools a sequence of hidden states `(batch, timesteps, features)` into
    one vector `(batch, 3 * features)` per sequence, looking only at the
    positions where `mask` is `True` (real tokens, not padding): the state at
    the last such position, the element-wise maximum and the mean. This is
    fastai's `masked_concat_pool`. A row with no position to pool gives
    zeros.

    Call arguments:
        inputs: A 3D tensor `(batch, timesteps, features)`.
        mask: Optional boolean tensor `(batch, timesteps)`; `True` where a
            position is pooled. Defaults to every position. Keras passes
            the mask of a masking layer (e.g. `Embedding(mask_zero=True)`)
            automatically.

    Returns:
        A 2D tensor `(batch, 3 * features)`.

    Example:

    >>> states = np.array([[[1.0], [3.0], [2.0], [9.0]]])
    >>> mask = np.array([[True, True, True, False]])
    >>> ConcatPooling()(states, mask=mask).numpy()
    array([[2., 3., 2.]], dtype=float32)

    Reference:
        - [Howard & Ruder, 2018](https://arxiv.org/abs/1801.06146)
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        timesteps = ops.shape(inputs)[1]
        if mask is None:
            mask = ops.ones(ops.shape(inputs)[:2], "bool")
        mask = ops.cast(mask, "bool")
        weights = ops.cast(mask, inputs.dtype)[:, :, None]
        count = ops.sum(weights, axis=1)
        mean = ops.sum(inputs * weights, axis=1) / ops.maximum(count, 1)
        positions = ops.arange(timesteps)[None, :]
        last_index = ops.max(ops.where(mask, positions, ops.zeros_like(positions)), axis=1)
        last_weights = ops.one_hot(last_index, timesteps, dtype=inputs.dtype)[:, :, None] * weights
        last = ops.sum(inputs * last_weights, axis=1)
        # Masked steps take the last real output, itself one of the values
        # maxed over (zeros for an empty row): no -inf fill, whose range
        # would ruin int8 quantization of this tensor.
        masked = ops.where(mask[:, :, None], inputs, ops.broadcast_to(last[:, None, :], ops.shape(inputs)))
        maximum = ops.max(masked, axis=1)
        return ops.concatenate([last, maximum, mean], axis=-1)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        features = None if input_shape[-1] is None else 3 * input_shape[-1]
        return (input_shape[0], features)

    def get_config(self):
        # No arguments of its own; defined so that `keras.models.clone_model` does not take a dtype policy
        # object passed to `__init__` for an argument it cannot serialize.
        return super().get_config()
