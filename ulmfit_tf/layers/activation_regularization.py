import keras
from keras import ops


@keras.saving.register_keras_serializable(package="ulmfit_tf")
class ActivationRegularization(keras.layers.Layer):
    """AR and TAR penalties of AWD-LSTM, added as losses during training.

    AR is `alpha * mean(dropped ** 2)` over the last layer's output after
    output dropout; TAR is `beta * mean((raw[:, t] - raw[:, t - 1]) ** 2)` over
    its raw output, as fastai's `RNNRegularizer` computes them. Both are
    computed in float32. The layer returns `dropped` unchanged.

    Args:
        alpha: Float >= 0, weight of activation regularization (AR).
        beta: Float >= 0, weight of temporal activation regularization (TAR).
        **kwargs: Base layer keyword arguments, such as `name`.

    Call arguments:
        inputs: A list `[raw, dropped]` of two 3D tensors.
        training: Python boolean; the losses are only added in training.

    Example:

    >>> layer = ActivationRegularization(alpha=2.0, beta=1.0)
    >>> raw = np.array([[[0.0], [1.0], [3.0]]])
    >>> outputs = layer([raw, raw], training=True)
    >>> [round(float(loss), 4) for loss in layer.losses]  # 2 * 10 / 3, (1 + 4) / 2
    [6.6667, 2.5]

    Reference:
        - [Merity et al., 2017](https://arxiv.org/abs/1708.02182)
    """

    def __init__(self, alpha=2.0, beta=1.0, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("alpha", alpha), ("beta", beta)):
            if value < 0:
                raise ValueError(
                    f"Argument `{name}` must be >= 0. Received: {name}={value}"
                )
        self.alpha = alpha
        self.beta = beta
        self.supports_masking = True

    def compute_mask(self, inputs, mask=None):
        # The decoder that follows takes no mask; stop it here.
        return None

    def call(self, inputs, training=False):
        raw, dropped = inputs
        if training:
            if self.alpha:
                dropped32 = ops.cast(dropped, "float32")
                self.add_loss(self.alpha * ops.mean(ops.square(dropped32)))
            if self.beta:
                raw32 = ops.cast(raw, "float32")
                steps = raw32[:, 1:] - raw32[:, :-1]
                self.add_loss(self.beta * ops.mean(ops.square(steps)))
        return dropped

    def compute_output_shape(self, input_shape):
        return input_shape[1]

    def get_config(self):
        config = super().get_config()
        config.update({"alpha": self.alpha, "beta": self.beta})
        return config
