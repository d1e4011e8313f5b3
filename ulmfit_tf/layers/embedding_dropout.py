import keras
from keras import ops


@keras.saving.register_keras_serializable(package="ulmfit_tf")
class EmbeddingDropout(keras.layers.Wrapper):
    """Drops whole words from an embedding (AWD-LSTM embedding dropout).

    Wraps an embedding layer. During training, each call draws one mask over
    the vocabulary: a dropped word's vector is zero wherever the word occurs
    in the batch, and the kept vectors are rescaled by `1 / (1 - rate)`. At
    inference the layer returns the wrapped embedding's output unchanged.

    The embedding matrix stays the wrapped layer's single variable, so a
    language model decoder can tie its weights to it. Only the looked-up
    rows are masked, which gives the same result as masking the whole matrix
    (as fastai does) at a fraction of the cost.

    Args:
        layer: A `keras.layers.Embedding` (or subclass, such as
            `keras.layers.ReversibleEmbedding`) to wrap.
        rate: Float between 0 and 1. Fraction of the vocabulary to drop.
        seed: Optional integer, seed of the dropout mask.
        **kwargs: Base layer keyword arguments, such as `name`.

    Call arguments:
        inputs: Integer tensor of token ids.
        training: Python boolean, whether to drop words.

    Example:

    >>> embedding = keras.layers.Embedding(100, 8)
    >>> layer = EmbeddingDropout(embedding, rate=0.1)
    >>> layer(np.array([[1, 2, 2]]), training=True).shape
    (1, 3, 8)

    Reference:
        - [Gal & Ghahramani, 2016](https://arxiv.org/abs/1512.05287)
    """

    def __init__(self, layer, rate, seed=None, **kwargs):
        super().__init__(layer, **kwargs)
        if not isinstance(layer, keras.layers.Embedding):
            raise ValueError(
                "Argument `layer` must be a `keras.layers.Embedding`. "
                f"Received: layer={layer}"
            )
        if not 0.0 <= rate < 1.0:
            raise ValueError(
                f"Argument `rate` must be in [0, 1). Received: rate={rate}"
            )
        self.rate = rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    @property
    def embeddings(self):
        return self.layer.embeddings

    def call(self, inputs, training=False):
        vectors = self.layer(inputs)
        if not training or self.rate == 0:
            return vectors
        row_scale = keras.random.dropout(
            ops.ones((self.layer.input_dim,), dtype=vectors.dtype),
            self.rate,
            seed=self.seed_generator,
        )
        return vectors * ops.expand_dims(ops.take(row_scale, inputs), -1)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed})
        return config
