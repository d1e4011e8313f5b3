"""Stage 1: pretrain an AWD-LSTM language model on general-domain text."""

import keras
import numpy as np

from ulmfit_tf.distribute import per_replica_batch_size
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.models.awd_lstm_backbone import AWDLSTMBackbone
from ulmfit_tf.models.ulmfit_language_model import ULMFiTLanguageModel
from ulmfit_tf.recipe import PretrainSettings
from ulmfit_tf.stages.checks import nonempty
from ulmfit_tf.stages.fingerprints import pretrain_fingerprint
from ulmfit_tf.stages.language_model_training import fit_language_model
from ulmfit_tf.stages.run_options import RunOptions
from ulmfit_tf.text.language_model_source import first_lines
from ulmfit_tf.text.language_model_source import text_files
from ulmfit_tf.text.sentencepiece_tokenizer import SentencePieceTokenizer

# Lines of a streamed corpus the SentencePiece model is trained on.
TOKENIZER_SAMPLE_LINES = 200_000


def pretrain_language_model(
    texts,
    validation_texts=None,
    *,
    settings=None,
    tokenizer=None,
    embeddings=None,
    backwards=False,
    **options,
):
    """Stage 1: trains an AWD-LSTM language model on general-domain text.

    The language model is stateful, as fastai's: the texts form one stream
    laid out in `batch_size` rows, read `bptt` tokens at a time, and the
    LSTM state is carried from batch to batch (reset at each epoch and
    around validation). AdamW (betas 0.8, 0.99, the global norm of the
    gradients clipped at 0.4) under slanted triangular rates peaking at
    `learning_rate`.

    A corpus larger than memory is streamed: give `texts` as a glob pattern
    of UTF-8 text files (one document per line, e.g.
    `"corpus/shard-*.txt"`). The files are read and tokenized on the fly
    in the `tf.data` graph (a parallel map, prefetched), one chunk of
    documents at a time (`LanguageModelSource`), so memory stays flat
    however large the corpus; each epoch runs the number of batches one
    counting pass found, less one per chunk (a shuffled chunk may give one
    window fewer). Under a multi-worker strategy each worker streams its
    own shard of the files (when there are at least as many files as
    workers).

    Every stage writes a checkpoint atomically after each epoch into
    `checkpoint_dir`; calling it again with the same arguments resumes from
    it and ends with the same weights as an uninterrupted run.

    Args:
        texts: List of strings, the training corpus; or a glob pattern of
            text files to stream.
        validation_texts: Optional list of strings (or glob pattern), for
            validation loss.
        settings: Optional `PretrainSettings` (sizes, dropout, batch size,
            window, epochs, rate, weight decay, `vocabulary_size` and
            `case_fold` of the SentencePiece model trained when no
            `tokenizer` is given, `checkpoint_every`). Defaults to the
            paper's.
        tokenizer: Optional tokenizer giving ids. Defaults to a
            `SentencePieceTokenizer` of `vocabulary_size` pieces trained on
            `texts` (on its first 200,000 lines when streaming).
        embeddings: Optional float array of shape `(vocabulary_size,
            embedding_dim)`, the embedding's starting weights instead of a
            random start: e.g. pretrained word vectors mapped to the
            tokenizer's pieces (`pretraining/word_vectors.py`).
        backwards: Boolean, train on reversed text (the paper's backward
            models).
        **options: How the stage runs (`RunOptions`: `checkpoint_dir`,
            `seed`, `strategy`, `dtype_policy`, `callbacks`, `verbose`) and
            settings to change in `settings`, e.g. `epochs=2`. With
            `checkpoint_dir` and the setting `checkpoint_every`, each pass
            over `texts` is cut into equal parts of at least that many
            batches, each part a Keras epoch (with its validation, its
            checkpoint and a fresh LSTM state), so a long pass can stop and
            resume exactly without losing more than one part; the batches of
            each pass that do not fill a part are skipped, and `epochs`
            still counts passes.

    Returns:
        The `ULMFiTLanguageModel`, its `preprocessor` holding the tokenizer,
        the Keras `History` as its `history` and what made it as its
        `fingerprint`.

    Example:

    ```python
    lm = pretrain_language_model(news, held_out, embedding_dim=128, hidden_dim=320, epochs=2)
    ```
    """
    settings, run = RunOptions.split(PretrainSettings, settings, options)
    fingerprint = pretrain_fingerprint(
        settings, texts, validation_texts, tokenizer=tokenizer, embeddings=embeddings, backwards=backwards,
        seed=run.seed, dtype_policy=run.dtype_policy,
    )
    keras.utils.set_random_seed(run.seed)
    if tokenizer is None:
        sample = first_lines(text_files(texts), TOKENIZER_SAMPLE_LINES) if isinstance(texts, str) else texts
        tokenizer = SentencePieceTokenizer.train(
            nonempty(sample, "texts"), vocabulary_size=settings.vocabulary_size, case_fold=settings.case_fold,
            seed=run.seed,
        )
    tokenizer = tokenizer.with_direction(backwards)
    with run.scope():
        backbone = AWDLSTMBackbone(
            vocabulary_size=tokenizer.vocabulary_size(),
            embedding_dim=settings.embedding_dim,
            hidden_dim=settings.hidden_dim,
            num_layers=settings.num_layers,
            dropout_multiplier=settings.dropout_multiplier,
            stateful=True,
            batch_size=per_replica_batch_size(settings.batch_size, run.strategy),
            seed=run.seed,
        )
        model = ULMFiTLanguageModel(backbone, preprocessor=tokenizer, seed=run.seed)
        if embeddings is not None:
            _start_embedding(backbone, embeddings)
    return fit_language_model(
        model, texts, validation_texts, settings, run, factor=None, fingerprint=fingerprint,
    )


def _start_embedding(backbone, embeddings):
    expected = (backbone.vocabulary_size, backbone.embedding_dim)
    shape = tuple(getattr(embeddings, "shape", ()))
    if shape != expected:
        raise UserInputError(
            f"Argument `embeddings` must have shape (vocabulary_size, embedding_dim) = {expected}. "
            f"Received: embeddings.shape={shape}"
        )
    values = np.asarray(embeddings, dtype=np.float32)
    if not np.isfinite(values).all():
        raise UserInputError("Argument `embeddings` must hold finite numbers. Received: NaN or infinite values")
    backbone.token_embedding.embeddings.assign(values)
