import collections

import keras
import tensorflow as tf

# fastai's special tokens, in fastai's order: xxunk is id 0, xxpad id 1.
SPECIAL_TOKENS = ("xxunk", "xxpad", "xxbos", "xxeos", "xxfld", "xxrep", "xxwrep", "xxup", "xxmaj")
UNKNOWN_ID, PADDING_ID, BOS_ID, EOS_ID = range(4)
# fastai pads a vocabulary with this token to a multiple of 8 entries.
PADDING_TOKEN = "xxfake"


@keras.saving.register_keras_serializable(package="ulmfit_tf")
class Vocabulary(keras.layers.Layer):
    """Maps word tokens to ids in-graph, with fastai's vocabulary layout.

    The token of id `i` is `tokens[i]` (fastai's `itos`). fastai's special
    tokens come first (`xxunk` 0, `xxpad` 1, `xxbos` 2, `xxeos` 3, `xxfld`,
    `xxrep`, `xxwrep`, `xxup`, `xxmaj`), then the corpus' tokens by falling
    frequency. Any token not in the vocabulary maps to `xxunk` (0). The
    lookup is a `tf.lookup.StaticHashTable`, which runs in `tf.data`, in a
    SavedModel and in TFLite. A token listed twice (fastai pads its lists
    with `xxfake` to a multiple of 8) maps to its first id.

    Args:
        tokens: List of strings, the token of each id. Must start with
            `xxunk`.
        **kwargs: Base layer keyword arguments, such as `name`.

    Call arguments:
        inputs: String tensor or `tf.RaggedTensor` of tokens.

    Returns:
        int32 ids of the same shape.

    Example:

    >>> vocabulary = Vocabulary.from_corpus([["a", "b", "a"]], min_freq=1)
    >>> vocabulary(tf.constant(["a", "zzz"])).numpy()
    array([9, 0], dtype=int32)
    """

    def __init__(self, tokens, **kwargs):
        super().__init__(trainable=False, dtype="int32", **kwargs)
        tokens = [str(token) for token in tokens]
        if not tokens or tokens[0] != SPECIAL_TOKENS[0]:
            raise ValueError(
                f"Argument `tokens` must start with the unknown token {SPECIAL_TOKENS[0]!r} "
                f"(id 0, as in fastai). Received: tokens={tokens[:5]}"
            )
        self.tokens = tokens
        self.built = True  # no weights to build
        first_ids = {}
        for index, token in enumerate(tokens):
            first_ids.setdefault(token, index)
        self.table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(list(first_ids), tf.string),
                tf.constant(list(first_ids.values()), tf.int32),
            ),
            default_value=0,
        )

    @classmethod
    def from_corpus(cls, token_lists, max_vocab=60000, min_freq=3, special_tokens=SPECIAL_TOKENS, **kwargs):
        """Builds a vocabulary exactly as fastai's `make_vocab` does.

        The `max_vocab` most frequent tokens (ties in order of first
        appearance) seen at least `min_freq` times, the special tokens moved
        or added to the front, cut to `max_vocab`, then `xxfake` entries up
        to the next multiple of 8 (8 of them when the count already is one),
        as fastai pads its vocabularies for fast matrix products.

        Args:
            token_lists: Iterable of token lists (one per document), or a
                `collections.Counter` of tokens.
            max_vocab: Integer, the most tokens before the padding. Defaults
                to `60000`.
            min_freq: Integer, the fewest occurrences kept. Defaults to `3`.
            special_tokens: Tokens placed first, in order.
        """
        if max_vocab < len(special_tokens) or min_freq < 1:
            raise ValueError(
                f"Arguments `max_vocab` must be >= {len(special_tokens)} and `min_freq` >= 1. "
                f"Received: max_vocab={max_vocab}, min_freq={min_freq}"
            )
        counts = token_lists
        if not isinstance(token_lists, collections.Counter):
            counts = collections.Counter()
            for tokens in token_lists:
                counts.update(t.decode("utf-8") if isinstance(t, bytes) else t for t in tokens)
        special = set(special_tokens)
        frequent = [t for t, c in counts.most_common(max_vocab) if c >= min_freq and t not in special]
        tokens = (list(special_tokens) + frequent)[:max_vocab]
        return cls(tokens + [PADDING_TOKEN] * (8 - len(tokens) % 8), **kwargs)

    @classmethod
    def from_fastai(cls, itos, **kwargs):
        """Uses a fastai vocabulary (`learn.dls.vocab`, `itos`) as it is."""
        return cls(list(itos), **kwargs)

    @property
    def size(self):
        return len(self.tokens)

    def __call__(self, inputs, *args, **kwargs):
        if not isinstance(inputs, (tf.Tensor, tf.RaggedTensor, keras.KerasTensor)):
            inputs = tf.ragged.constant(inputs, dtype=tf.string) if _is_nested(inputs) else tf.constant(inputs, tf.string)
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs):
        if isinstance(inputs, tf.RaggedTensor):
            return inputs.with_flat_values(self.table.lookup(inputs.flat_values))
        return self.table.lookup(inputs)

    def decode(self, ids):
        """The tokens of `ids` (a list, array or tensor of ints)."""
        lookup = tf.constant(self.tokens)
        if isinstance(ids, tf.RaggedTensor):
            return ids.with_flat_values(tf.gather(lookup, ids.flat_values))
        return tf.gather(lookup, ids)

    def get_config(self):
        config = super().get_config()
        config["tokens"] = self.tokens
        for key in ("trainable", "dtype"):
            config.pop(key, None)
        return config


def _is_nested(values):
    return isinstance(values, (list, tuple)) and any(isinstance(v, (list, tuple)) for v in values)
