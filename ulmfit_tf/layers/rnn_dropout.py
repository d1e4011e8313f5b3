import keras
from keras import ops


@keras.saving.register_keras_serializable(package="ulmfit_tf")
class RNNDropout(keras.layers.Layer):
    """Locked (variational) dropout over the features of a sequence.

    During training one mask of shape `(batch, 1, features)` is drawn per
    call: each sequence drops the same features at every timestep, and kept
    values are rescaled by `1 / (1 - rate)`. Identity at inference. AWD-LSTM
    uses it on the embeddings (input dropout), between LSTM layers (hidden
    dropout) and before the decoder (output dropout).

    Args:
        rate: Float between 0 and 1. Fraction of the features to drop.
        seed: Optional integer, seed of the dropout mask.
        **kwargs: Base layer keyword arguments, such as `name`.

    Call arguments:
        inputs: A 3D tensor of shape `(batch, timesteps, features)`.
        training: Python boolean, whether to drop features.

    Example:

    >>> layer = RNNDropout(0.5)
    >>> layer(np.ones((2, 4, 3)), training=True).shape
    (2, 4, 3)

    Reference:
        - [Gal & Ghahramani, 2016](https://arxiv.org/abs/1512.05287)
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(
                f"Argument `rate` must be in [0, 1). Received: rate={rate}"
            )
        self.rate = rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        shape = ops.shape(inputs)
        return keras.random.dropout(
            inputs,
            self.rate,
            noise_shape=(shape[0], 1, shape[2]),
            seed=self.seed_generator,
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed})
        return config
