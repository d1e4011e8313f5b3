import tempfile

import keras
import keras_hub
import tensorflow as tf

from ulmfit_tf.text.vocabulary import BOS_ID
from ulmfit_tf.text.vocabulary import EOS_ID
from ulmfit_tf.text.vocabulary import PADDING_ID


class Tokenizer(keras_hub.tokenizers.Tokenizer):
    """Base of ulmfit-tf's tokenizers: a KerasHub tokenizer from strings to tokens.

    Subclasses implement `tokenize(texts)`. Calling the layer accepts Python
    strings and lists as well as tensors, in eager mode and in `tf.data`.
    With `reverse=True` every text's tokens come out last to first, which is
    how the paper's backward language models and classifiers read text.

    As a `keras_hub.tokenizers.Tokenizer`, it is saved in a preset's
    `tokenizer.json` (its files in `assets/tokenizer/`) and loaded by
    `keras_hub.tokenizers.Tokenizer.from_preset(preset)` once
    `ulmfit_tf.models` is imported. Unlike KerasHub's tokenizers, calling
    it returns TensorFlow tensors (a `tf.RaggedTensor`) in eager mode too:
    the classification datasets, the SavedModel and the TFLite exports build
    on them.

    Args:
        dtype: The dtype of the tokens (`"int32"` ids or `"string"`).
        reverse: Boolean, reverse each text's tokens. Defaults to `False`.
        **kwargs: Base layer keyword arguments, such as `name`.
    """

    # fastai's special ids, which every ulmfit-tf vocabulary keeps
    # (KerasHub's samplers and packers read these names).
    start_token_id = BOS_ID
    end_token_id = EOS_ID
    pad_token_id = PADDING_ID

    def __init__(self, dtype, reverse=False, **kwargs):
        super().__init__(trainable=False, dtype=dtype, **kwargs)
        self.reverse = reverse
        self.file_assets = []
        self.built = True  # no weights to build

    def __call__(self, inputs, *args, **kwargs):
        if not isinstance(inputs, (tf.Tensor, tf.RaggedTensor, keras.KerasTensor)):
            inputs = tf.convert_to_tensor(inputs, dtype=tf.string)
        return super().__call__(inputs, *args, **kwargs)

    # KerasHub's `call` turns eager outputs into Python lists; ours keeps
    # them TensorFlow tensors (see the class docstring), so it is not
    # wrapped in `preprocessing_function`.
    def call(self, inputs):
        tokens = self.tokenize(inputs)
        return reverse_rows(tokens) if self.reverse else tokens

    def tokenize(self, texts):
        raise NotImplementedError(f"{type(self).__name__} must implement `tokenize`.")

    def load_preset_assets(self, preset):
        if self.file_assets:  # KerasHub's reads the folder of the last asset, and fails without one
            super().load_preset_assets(preset)

    def with_direction(self, backwards):
        """This tokenizer reading forwards or backwards: itself if it already does, else a copy.

        Args:
            backwards: Boolean, whether the tokenizer returned reverses each
                text's tokens.

        Returns:
            A tokenizer of the same class and settings with
            `reverse=backwards`.

        Example:

        >>> WordTokenizer().with_direction(backwards=True)(["A fine film"]).to_list()
        [[b'film', b'fine', b'a', b'xxbos']]
        """
        if self.reverse == backwards:
            return self
        copy = type(self).from_config(dict(self.get_config(), reverse=backwards))
        # What the config leaves out (a SentencePiece model) travels as assets, as in a `.keras` file.
        with tempfile.TemporaryDirectory() as folder:
            self.save_assets(folder)
            copy.load_assets(folder)
        return copy

    def save_assets(self, dir_path):
        pass

    def load_assets(self, dir_path):
        pass

    def get_config(self):
        config = super().get_config()
        # Fixed by the class, not by the caller.
        for key in ("trainable", "dtype"):
            config.pop(key, None)
        config["reverse"] = self.reverse
        return config


def reverse_rows(tokens):
    """Each row of a `tf.RaggedTensor`, last token first."""
    starts = tokens.row_starts()
    limits = tokens.row_limits()
    rows = tokens.value_rowids()
    index = tf.gather(starts, rows) + tf.gather(limits, rows) - 1 - tf.range(tf.size(rows, out_type=rows.dtype))
    return tokens.with_flat_values(tf.gather(tokens.flat_values, index))
