import keras
import keras_hub
import tensorflow as tf

from ulmfit_tf.text.tokenizer import Tokenizer
from ulmfit_tf.text.vocabulary import PADDING_ID  # fastai's xxpad, 1

# Tokens of one document a classifier reads (its last ones, those BPT3C
# pools), in training and in the exported models: long documents stay
# bounded in memory.
MAX_TOKENS = 8192


@keras.saving.register_keras_serializable(package="ulmfit_tf")
class ULMFiTTextClassifierPreprocessor(keras_hub.models.TextClassifierPreprocessor):
    """Raw texts to the padded token ids a `ULMFiTTextClassifier` reads.

    The input side of KerasHub's split (Backbone, Tokenizer, Preprocessor,
    Task), saved in a preset's `preprocessor.json`: the tokenizer turns each
    text into ids; each text keeps its last
    `max_tokens` ids (BPT3C pools the end of a text, so a long document
    loses its beginning, where fastai's pooling never looks); the batch is
    padded after each text with `padding_id`, to its longest text and to at
    least one step (a batch of empty texts still has one padding step).

    Every way into a classifier goes through it: training data
    (`classification_dataset`), `fit`/`evaluate`/`predict` on strings, a
    `tf.data` pipeline (`dataset.map(preprocessor)`), the SavedModel's
    signature, and, for one text with only ops that TFLite runs,
    `device_ids`.

    Args:
        tokenizer: A tokenizer from strings to ragged int ids, such as
            `SentencePieceTokenizer` or `WordTokenizer(vocabulary=...)`.
        max_tokens: Optional positive integer, the ids kept per text (its
            last ones). Defaults to `8192`; `None` keeps every id.
        padding_id: Integer, the id that pads; the classifier's backbone's
            `padding_id`. Defaults to `1` (fastai's `xxpad`).
        **kwargs: Base layer keyword arguments, such as `name`.

    Call arguments:
        x: A string tensor of texts `(batch,)`, a list of them, or a string.
        y: Optional targets, returned as they are.
        sample_weight: Optional sample weights, returned as they are.

    Returns:
        int32 ids `(batch, time)` with `time >= 1`; `(ids, y)` or
        `(ids, y, sample_weight)` when those are given, so that the layer
        maps a dataset of `(texts, labels)` batches.

    Example:

    ```python
    preprocessor = ULMFiTTextClassifierPreprocessor(tokenizer)
    preprocessor(["A fine film.", ""])  # int32 (2, 5): [[2, 71, 1034, 290, 5], [2, 1, 1, 1, 1]]
    dataset = tf.data.Dataset.from_tensor_slices((texts, labels)).batch(32).map(preprocessor)
    ```
    """

    tokenizer_cls = Tokenizer

    def __init__(self, tokenizer, max_tokens=MAX_TOKENS, padding_id=PADDING_ID, **kwargs):
        # KerasHub's `TextClassifierPreprocessor` packs `[CLS] text [SEP]`
        # to a fixed `sequence_length` (512), cutting the end. BPT3C pools
        # the END of a text and fastai's classifier reads no start/end
        # markers beyond the tokenizer's `xxbos`, so ids keep each text's
        # last `max_tokens` and pad to the batch's longest: its constructor,
        # `build` (the packer) and `call` are replaced, its base's kept.
        keras_hub.models.Preprocessor.__init__(self, trainable=False, autocast=False, **kwargs)
        if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
            raise ValueError(f"Argument `max_tokens` must be a positive integer or None. Received: max_tokens={max_tokens}")
        if not isinstance(padding_id, int):
            raise ValueError(f"Argument `padding_id` must be an integer. Received: padding_id={padding_id!r}")
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.padding_id = padding_id
        self.built = True  # no weights to build

    def build(self, input_shape):
        pass

    def __call__(self, x, *args, **kwargs):
        if not isinstance(x, (tf.Tensor, tf.RaggedTensor, keras.KerasTensor)):
            x = tf.convert_to_tensor(x, dtype=tf.string)
        return super().__call__(x, *args, **kwargs)

    def call(self, x, y=None, sample_weight=None):
        ids = self._padded(last_tokens(self.tokenizer(x), self.max_tokens))
        return keras.utils.pack_x_y_sample_weight(ids, y, sample_weight)

    def device_ids(self, text):
        """The ids `(1, time)` of one text, computed with ops that TFLite runs.

        For a `SentencePieceTokenizer`. The same ids as calling the layer on
        valid UTF-8 (TFLite has no op to replace invalid bytes: the caller
        does it first, as `TFLiteClassifier` does).

        Args:
            text: A string tensor of shape `(1,)`.

        Returns:
            int32 ids of shape `(1, time)`, `time >= 1`.
        """
        # One text: its ids are the ragged values (ragged slicing, padding
        # and reversal have no TFLite kernels).
        ids = self.tokenizer.tokenize_valid_utf8(text).flat_values
        if self.tokenizer.reverse:
            ids = tf.reverse(ids, axis=[0])
        ids = self._padded(last_tokens(tf.reshape(ids, [1, -1]), self.max_tokens))
        # Padding loses the static batch of one, which TFLite's LSTM needs.
        return tf.reshape(ids, [1, -1])

    def _padded(self, ids):
        if isinstance(ids, tf.RaggedTensor):
            ids = ids.to_tensor(default_value=self.padding_id)
        ids = tf.cast(ids, tf.int32)
        # A batch of only empty token lists still gets one (padding) step.
        return tf.pad(ids, [[0, 0], [0, tf.maximum(0, 1 - tf.shape(ids)[1])]], constant_values=self.padding_id)

    def get_config(self):
        config = keras_hub.models.Preprocessor.get_config(self)  # not the packer's settings
        for key in ("trainable", "dtype"):  # fixed by the class
            config.pop(key, None)
        config.update({"max_tokens": self.max_tokens, "padding_id": self.padding_id})
        return config


def last_tokens(ids, max_tokens):
    """The last `max_tokens` ids of each row (all of them for `None`).

    Args:
        ids: A `tf.RaggedTensor` `(batch, None)`, or a dense `(batch, time)`
            tensor of unpadded rows.
        max_tokens: Optional positive integer.

    Returns:
        `ids` with each row cut to its last `max_tokens` entries.

    Example:

    >>> last_tokens(tf.ragged.constant([[2, 7, 8, 9], [2]]), 2).to_list()
    [[8, 9], [2]]
    """
    return ids if max_tokens is None else ids[:, -max_tokens:]
