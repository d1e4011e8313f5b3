import keras
from keras import ops


@keras.saving.register_keras_serializable(package="ulmfit_tf")
class SigmoidRange(keras.layers.Layer):
    """Squashes values into `(low, high)`: `low + sigmoid(x) * (high - low)`.

    fastai's `SigmoidRange`, the last layer of a regression model whose
    targets are bounded (for example ratings from 1 to 5).

    Args:
        low: Float, the lower bound.
        high: Float, the upper bound.
        **kwargs: Base layer keyword arguments, such as `name`.

    Call arguments:
        inputs: A float tensor of any shape.

    Returns:
        A tensor of the same shape, each value in `(low, high)`.

    Example:

    >>> SigmoidRange(1.0, 5.0)(np.array([0.0, np.log(3.0)])).numpy()
    array([3., 4.], dtype=float32)
    """

    def __init__(self, low, high, **kwargs):
        super().__init__(**kwargs)
        self.low = float(low)
        self.high = float(high)

    def call(self, inputs):
        return self.low + ops.sigmoid(inputs) * (self.high - self.low)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"low": self.low, "high": self.high})
        return config
