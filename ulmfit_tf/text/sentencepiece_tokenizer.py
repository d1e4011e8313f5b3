import io
import os
import re

import keras
import sentencepiece
import tensorflow as tf
import tensorflow_text as tf_text

from ulmfit_tf.errors import UserInputError
from ulmfit_tf.text.tokenizer import Tokenizer
from ulmfit_tf.text.tokenizer import reverse_rows
from ulmfit_tf.text.vocabulary import BOS_ID
from ulmfit_tf.text.vocabulary import EOS_ID
from ulmfit_tf.text.vocabulary import PADDING_ID
from ulmfit_tf.text.vocabulary import SPECIAL_TOKENS as _FASTAI_SPECIAL_TOKENS
from ulmfit_tf.text.vocabulary import UNKNOWN_ID

# The special pieces of a SentencePiece model: fastai's first four, at their ids.
SPECIAL_TOKENS = _FASTAI_SPECIAL_TOKENS[: EOS_ID + 1]
PROTO_FILENAME = "sentencepiece.model"

# The trainer skips longer sentences (and fails when it skips them all).
MAX_SENTENCE_BYTES = 1 << 20


def _training_sentences(texts):
    """The texts, those over the trainer's limit cut into pieces under it (any length tokenizes)."""
    step = MAX_SENTENCE_BYTES // 4  # characters: at most 4 bytes each in UTF-8
    for text in texts:
        for start in range(0, len(text), step):
            yield text[start : start + step]


@keras.saving.register_keras_serializable(package="ulmfit_tf")
class SentencePieceTokenizer(Tokenizer):
    """Subword tokenization in-graph, as MultiFiT does (SentencePiece).

    Runs a SentencePiece model with tensorflow-text's
    `FastSentencepieceTokenizer`, the op that also runs inside a TFLite
    file, so the same ids come out in `tf.data`, in a SavedModel and on a
    phone. Train a model from a corpus with `SentencePieceTokenizer.train`
    (with the `sentencepiece` package, which also reads the vocabulary).

    Special ids follow fastai: `xxunk` 0 (unknown pieces), `xxpad` 1
    (padding), `xxbos` 2 (begins every text when `add_bos=True`), `xxeos` 3
    (ends it when `add_eos=True`). Case is kept unless the model was
    trained with `case_fold=True`: the subword vocabulary has capitalised
    pieces, so no `xxmaj`/`xxup` markers are needed. Empty or
    whitespace-only texts give `[xxbos]`; invalid UTF-8 is replaced by
    U+FFFD rather than failing; NUL bytes, emoji and any script go through
    (unseen characters become `xxunk`).

    Args:
        proto: The trained model: bytes of a serialized SentencePiece model,
            or a path to a `.model` file. May be `None` only while a saved
            model is being loaded.
        add_bos: Boolean, prepend `xxbos`. Defaults to `True`.
        add_eos: Boolean, append `xxeos`. Defaults to `False`.
        reverse: Boolean, each text's ids last to first (backward models).
            Defaults to `False`.
        **kwargs: Base layer keyword arguments, such as `name`.

    Call arguments:
        inputs: A string tensor of texts, shape `(batch,)`, or a scalar.

    Returns:
        An int32 `tf.RaggedTensor` of ids, shape `(batch, None)`.

    Example:

    ```python
    tokenizer = SentencePieceTokenizer.train(texts, vocabulary_size=8000)
    tokenizer(["A fine film."])  # <tf.RaggedTensor [[2, 71, 1034, 290, 5]]>
    ```

    Reference:
        - [Kudo & Richardson, 2018](https://arxiv.org/abs/1808.06226)
        - [Eisenschlos et al., 2019 (MultiFiT)](https://arxiv.org/abs/1909.04761)
    """

    def __init__(self, proto=None, add_bos=True, add_eos=False, reverse=False, **kwargs):
        super().__init__(dtype="int32", reverse=reverse, **kwargs)
        self.add_bos = add_bos
        self.add_eos = add_eos
        self.file_assets = [PROTO_FILENAME]
        self.proto = None
        if proto is not None:
            self.set_proto(proto)

    def set_proto(self, proto):
        if isinstance(proto, (str, os.PathLike)):
            with open(proto, "rb") as f:
                proto = f.read()
        if not isinstance(proto, bytes):
            raise ValueError(
                "Argument `proto` must be the bytes of a SentencePiece model or a path "
                f"to one. Received: proto={type(proto).__name__}"
            )
        self.proto = proto
        self._tokenizer = tf_text.FastSentencepieceTokenizer(
            proto, add_bos=self.add_bos, add_eos=self.add_eos
        )
        self._vocabulary = _read_pieces(proto)
        self._ids = {piece: i for i, piece in enumerate(self._vocabulary)}

    @classmethod
    def train(
        cls, texts, vocabulary_size=15000, model_type="unigram", character_coverage=0.9999, case_fold=False, seed=0,
        **kwargs,
    ):
        """Trains a SentencePiece model on `texts` and returns its tokenizer.

        Args:
            texts: Iterable of strings (documents or lines).
            vocabulary_size: Integer, number of pieces, specials included
                (MultiFiT: 15,000 to 30,000).
            model_type: String, `"unigram"` (default) or `"bpe"`.
            character_coverage: Float, fraction of characters covered by
                single pieces; the rest become `xxunk`.
            case_fold: Boolean, fold case as part of the model's NFKC
                normalization (SentencePiece's `nmt_nfkc_cf` rule), so that
                `text` and `text.lower()` give the same ids, in `tf.data`,
                in a SavedModel and in on-device clients that lowercase
                text before their tokenizer (MediaPipe, TFLite Task
                Library). Defaults to `False` (`nmt_nfkc`: case kept).
            seed: Integer, seed of the trainer's sampling.
            **kwargs: Arguments of the tokenizer (`add_bos`, `add_eos`, ...).
        """
        texts = [text for text in texts if text and text.strip()]
        if not texts:
            raise UserInputError("Argument `texts` must hold at least one non-empty text.")
        sentencepiece.set_random_generator_seed(seed)
        model = io.BytesIO()
        try:
            sentencepiece.SentencePieceTrainer.train(
                sentence_iterator=_training_sentences(texts),
                model_writer=model,
                vocab_size=vocabulary_size,
                model_type=model_type,
                character_coverage=character_coverage,
                normalization_rule_name="nmt_nfkc_cf" if case_fold else "nmt_nfkc",
                unk_id=UNKNOWN_ID,
                pad_id=PADDING_ID,
                bos_id=BOS_ID,
                eos_id=EOS_ID,
                unk_piece=SPECIAL_TOKENS[UNKNOWN_ID],
                pad_piece=SPECIAL_TOKENS[PADDING_ID],
                bos_piece=SPECIAL_TOKENS[BOS_ID],
                eos_piece=SPECIAL_TOKENS[EOS_ID],
                max_sentence_length=MAX_SENTENCE_BYTES,
                num_threads=os.cpu_count() or 1,
                minloglevel=2,
            )
        except RuntimeError as error:
            limit = re.search(r"Vocabulary size too high.*<= (\d+)", str(error))
            if not limit:
                raise
            raise UserInputError(
                f"Argument `vocabulary_size` is too large for these texts: they allow at most "
                f"{limit.group(1)} pieces. Pass a smaller `vocabulary_size` or more text. "
                f"Received: vocabulary_size={vocabulary_size}"
            ) from None
        return cls(proto=model.getvalue(), **kwargs)

    def tokenize(self, inputs):
        self._check_proto()
        inputs = tf.convert_to_tensor(inputs, dtype=tf.string)
        inputs = tf.strings.unicode_transcode(
            inputs, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD
        )
        if inputs.shape.rank == 0:
            inputs = inputs[tf.newaxis]
        return self._tokenizer.tokenize(inputs)

    def tokenize_valid_utf8(self, inputs):
        """`tokenize` without replacing invalid UTF-8 first.

        The same ids as `tokenize` for valid UTF-8, using only the
        FastSentencepiece op, which also runs inside TFLite (the transcoding
        op does not): the caller cleans the bytes, as `TFLiteClassifier`
        does. Neither `reverse` nor padding is applied.
        """
        self._check_proto()
        return self._tokenizer.tokenize(inputs)

    def detokenize(self, ids):
        """Turns ids back into text (special tokens dropped)."""
        self._check_proto()
        if not isinstance(ids, tf.RaggedTensor):
            ids = tf.ragged.constant(ids) if isinstance(ids, list) else tf.RaggedTensor.from_tensor(ids)
        if self.reverse:
            ids = reverse_rows(ids)
        ids = tf.ragged.boolean_mask(ids, ids >= len(SPECIAL_TOKENS))
        return self._tokenizer.detokenize(tf.cast(ids, tf.int32))

    def get_vocabulary(self):
        """All pieces as a list of strings, in id order."""
        self._check_proto()
        return list(self._vocabulary)

    def vocabulary_size(self):
        """The number of pieces, specials included."""
        self._check_proto()
        return len(self._vocabulary)

    def id_to_token(self, id):
        """The piece of an id."""
        self._check_proto()
        if not 0 <= id < len(self._vocabulary):
            raise ValueError(f"Argument `id` must be in [0, {len(self._vocabulary)}). Received: id={id}")
        return self._vocabulary[id]

    def token_to_id(self, token):
        """The id of a piece (`xxunk`'s, 0, for an unknown one)."""
        self._check_proto()
        return self._ids.get(token, UNKNOWN_ID)

    def _check_proto(self):
        if self.proto is None:
            raise ValueError(
                "No SentencePiece model is set: pass `proto=` or build the tokenizer "
                "with `SentencePieceTokenizer.train(texts)`."
            )

    def save_assets(self, dir_path):
        with open(os.path.join(dir_path, PROTO_FILENAME), "wb") as f:
            f.write(self.proto)

    def load_assets(self, dir_path):
        self.set_proto(os.path.join(dir_path, PROTO_FILENAME))

    def get_config(self):
        config = super().get_config()
        # The model itself travels as an asset of the `.keras` file.
        config.update({"proto": None, "add_bos": self.add_bos, "add_eos": self.add_eos})
        return config


def _read_pieces(proto):
    """The piece of each id of a serialized SentencePiece `ModelProto`."""
    try:
        processor = sentencepiece.SentencePieceProcessor(model_proto=proto)
        size = processor.get_piece_size()
    except RuntimeError:
        size = 0
    if not size:
        raise ValueError("Argument `proto` is not a serialized SentencePiece model.")
    return [processor.id_to_piece(i) for i in range(size)]
