import keras
from keras import ops


@keras.saving.register_keras_serializable(package="ulmfit_tf")
class LastChunksMask(keras.layers.Layer):
    """The positions BPT3C pools: real tokens of the last chunks of a text.

    fastai's `SentenceEncoder` reads a text of `n` tokens in chunks of
    `bptt` tokens and keeps the outputs of the chunks that start at
    `i >= n - max_len`: every position from the first multiple of `bptt`
    at or after `n - max_len` (`first_pooled_position`). Texts are padded
    after their end with `padding_id`.

    Args:
        bptt: Integer, the chunk length.
        max_len: Optional integer, the pooled tokens at the end of a text,
            in whole chunks; `None` pools every real token.
        padding_id: Integer, the id that pads texts after their end.
        **kwargs: Base layer keyword arguments, such as `name`.

    Call arguments:
        token_ids: int tensor `(batch, timesteps)`.

    Returns:
        A boolean tensor `(batch, timesteps)`, `True` where pooled.

    Example:

    >>> mask = LastChunksMask(bptt=3, max_len=6, padding_id=1)
    >>> mask(np.array([[5] * 8 + [1, 1]])).numpy().astype(int)
    array([[0, 0, 0, 1, 1, 1, 1, 1, 0, 0]])

    Reference:
        - [Howard & Ruder, 2018](https://arxiv.org/abs/1801.06146)
    """

    def __init__(self, bptt, max_len, padding_id, **kwargs):
        super().__init__(**kwargs)
        self.bptt = bptt
        self.max_len = max_len
        self.padding_id = padding_id

    def first_pooled_position(self, lengths):
        """Where pooling starts in texts of `lengths` tokens (an int tensor, any shape).

        The first chunk start (a multiple of `bptt`) at or after
        `lengths - max_len`, and 0 for texts of at most `max_len` tokens.
        """
        if self.max_len is None:
            return ops.zeros_like(lengths)
        # ceil((lengths - max_len) / bptt), written with floor division.
        chunks = -((self.max_len - lengths) // self.bptt)
        return ops.maximum(0, chunks * self.bptt)

    def call(self, token_ids):
        real = ops.not_equal(token_ids, self.padding_id)
        lengths = ops.sum(ops.cast(real, "int32"), axis=1, keepdims=True)
        positions = ops.arange(ops.shape(token_ids)[1], dtype="int32")[None, :]
        return ops.logical_and(real, positions >= self.first_pooled_position(lengths))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"bptt": self.bptt, "max_len": self.max_len, "padding_id": self.padding_id})
        return config
