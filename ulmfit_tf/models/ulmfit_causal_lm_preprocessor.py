import keras
import keras_hub
import numpy as np
import tensorflow as tf

from ulmfit_tf.models.awd_lstm_backbone import AWDLSTMBackbone
from ulmfit_tf.text.vocabulary import BOS_ID
from ulmfit_tf.text.vocabulary import EOS_ID
from ulmfit_tf.text.vocabulary import PADDING_ID
from ulmfit_tf.text.word_tokenizer import WordTokenizer

# Ids that mark a text's boundaries or pad it: never written out as text.
BOUNDARY_IDS = (PADDING_ID, BOS_ID, EOS_ID)


@keras.saving.register_keras_serializable(package="ulmfit_tf")
class ULMFiTCausalLMPreprocessor(keras_hub.models.CausalLMPreprocessor):
    """Texts to the token ids a `ULMFiTLanguageModel` reads, and back.

    The tokenizer turns each text into ids as in training: `xxbos` first
    (when the tokenizer adds it, as ulmfit-tf's do by default) and no
    `xxeos` at the end of a prompt, since generation continues it. The ids
    are padded after each text with `xxpad` (1) to `sequence_length`, or
    cut to it. `generate_postprocess` turns generated ids back into text:
    `SentencePieceTokenizer.detokenize`, or, for a `WordTokenizer`, its
    tokens joined by spaces with fastai's `xxmaj`, `xxup`, `xxrep` and
    `xxwrep` undone.

    The language model trains on a stream of ids (`language_model_dataset`)
    rather than on one padded text per row; calling this layer gives
    KerasHub's `(x, y, sample_weight)` for padded texts (`x` the ids, `y`
    the next ids, `sample_weight` 0 where `y` is padding), for fine-tuning
    on short texts.

    Args:
        tokenizer: A tokenizer from strings to ragged int ids that reads
            forwards: `SentencePieceTokenizer` or `WordTokenizer` with a
            `vocabulary`.
        sequence_length: Integer, the length prompts are padded or cut to,
            and `generate`'s default `max_length`. Defaults to `1024`.
        **kwargs: Base layer keyword arguments, such as `name`.

    Call arguments:
        x: A string, a list of strings or a string tensor `(batch,)`.
        y: Must be `None` (the targets are the next ids).
        sample_weight: Must be `None`.
        sequence_length: Optional integer, overrides `sequence_length`.

    Example:

    ```python
    preprocessor = ULMFiTCausalLMPreprocessor(tokenizer, sequence_length=8)
    preprocessor.generate_preprocess(["A fine"])
    # {"token_ids": [[2, 71, 1034, 1, 1, 1, 1, 1]], "padding_mask": [[True, True, True, False, ...]]}
    ```
    """

    backbone_cls = AWDLSTMBackbone

    def __init__(self, tokenizer, sequence_length=1024, **kwargs):
        # KerasHub's packer adds the tokenizer's start and end tokens; here
        # the tokenizer itself decides on `xxbos`, as in training.
        kwargs.pop("add_start_token", None)
        kwargs.pop("add_end_token", None)
        super().__init__(tokenizer, sequence_length=sequence_length, add_start_token=False, add_end_token=False, **kwargs)
        if not isinstance(sequence_length, int) or sequence_length < 1:
            raise ValueError(
                f"Argument `sequence_length` must be a positive integer. Received: sequence_length={sequence_length}"
            )

    def build(self, input_shape):
        self.built = True

    def call(self, x, y=None, sample_weight=None, sequence_length=None):
        if y is not None or sample_weight is not None:
            raise ValueError(
                "Arguments `y` and `sample_weight` must be None: a language model's targets are the next ids. "
                f"Received: y={y!r}, sample_weight={sample_weight!r}"
            )
        ids, mask = self._pack(x, (sequence_length or self.sequence_length) + 1)
        return ids[:, :-1], ids[:, 1:], tf.cast(mask[:, 1:], "float32")

    def generate_preprocess(self, x, sequence_length=None):
        """Prompts to `{"token_ids", "padding_mask"}` for `generate`.

        Args:
            x: A string, a list of strings or a string tensor.
            sequence_length: Optional integer, overrides `sequence_length`.

        Returns:
            A dict of int32 `token_ids` and boolean `padding_mask`, each
            `(batch, sequence_length)`; the mask is `True` on the prompt.
        """
        if getattr(self.tokenizer, "reverse", False):
            raise ValueError(
                "A backward language model cannot continue a prompt: its tokenizer reads each text last to "
                "first (`reverse=True`). Generate with a forward language model."
            )
        token_ids, padding_mask = self._pack(x, sequence_length or self.sequence_length)
        return {"token_ids": token_ids, "padding_mask": padding_mask}

    def generate_postprocess(self, x):
        """Generated `{"token_ids", "padding_mask"}` to a list of strings.

        `xxpad`, `xxbos` and `xxeos` are dropped, with every id where
        `padding_mask` is `False`.
        """
        token_ids = np.asarray(keras.ops.convert_to_numpy(x["token_ids"]))
        padding_mask = np.asarray(keras.ops.convert_to_numpy(x["padding_mask"])).astype(bool)
        rows = [
            [int(i) for i in ids[mask] if int(i) not in BOUNDARY_IDS] for ids, mask in zip(token_ids, padding_mask)
        ]
        if isinstance(self.tokenizer, WordTokenizer):
            vocabulary = self.tokenizer.get_vocabulary()
            return [_words_to_text([vocabulary[i] for i in row]) for row in rows]
        ragged = tf.RaggedTensor.from_row_lengths(
            tf.constant([i for row in rows for i in row], tf.int32), [len(row) for row in rows]
        )
        texts = self.tokenizer.detokenize(ragged)
        return [text.decode("utf-8") if isinstance(text, bytes) else text for text in np.asarray(texts).tolist()]

    def _pack(self, x, length):
        """Each text's ids (`xxeos` at its end dropped), padded or cut to `length`, and where they are."""
        x = tf.convert_to_tensor(x, tf.string)
        if x.shape.rank == 0:
            x = x[tf.newaxis]
        ids = tf.cast(_drop_final(self.tokenizer(x), EOS_ID), "int32")
        shape = [None, length]
        token_ids = ids.to_tensor(default_value=PADDING_ID, shape=shape)
        padding_mask = tf.ones_like(ids, tf.bool).to_tensor(default_value=False, shape=shape)
        return token_ids, padding_mask

    def get_config(self):
        config = super().get_config()
        # Fixed by the class (see `__init__`).
        del config["add_start_token"], config["add_end_token"]
        return config


def _drop_final(ids, token_id):
    """A ragged batch of ids without `token_id` where it ends a row."""
    flat = ids.flat_values
    rows = ids.value_rowids()
    last = tf.gather(ids.row_limits(), rows) - 1
    is_final = tf.equal(tf.range(tf.size(flat, out_type=last.dtype)), last) & tf.equal(flat, token_id)
    return tf.ragged.boolean_mask(ids, ids.with_flat_values(~is_final))


def _words_to_text(tokens):
    """fastai word tokens as text: `xxmaj`, `xxup`, `xxrep` and `xxwrep` undone, joined by spaces."""
    words, case, i = [], None, 0
    while i < len(tokens):
        token = tokens[i]
        count = tokens[i + 1] if i + 2 < len(tokens) else ""
        if token in ("xxmaj", "xxup"):
            case, i = token, i + 1
            continue
        if token in ("xxrep", "xxwrep") and count.isdigit():
            repeated = tokens[i + 2]
            words.append(repeated * int(count) if token == "xxrep" else " ".join([repeated] * int(count)))
            i += 3
            continue
        words.append(token.upper() if case == "xxup" else token.capitalize() if case == "xxmaj" else token)
        case, i = None, i + 1
    return " ".join(words)
