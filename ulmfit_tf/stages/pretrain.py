"""Stage 1: pretrain an AWD-LSTM language model on general-domain text."""

import keras
import numpy as np
import tensorflow as tf

from ulmfit_tf.distribute import dtype_policy_scope
from ulmfit_tf.distribute import per_replica_batch_size
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.models.awd_lstm_backbone import AWDLSTMBackbone
from ulmfit_tf.models.ulmfit_language_model import ULMFiTLanguageModel
from ulmfit_tf.recipe import PretrainSettings
from ulmfit_tf.recipe import settings_with
from ulmfit_tf.stages.checks import nonempty
from ulmfit_tf.stages.fingerprints import pretrain_fingerprint
from ulmfit_tf.stages.language_model_training import fit_language_model
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
    checkpoint_dir=None,
    seed=0,
    strategy=None,
    dtype_policy=None,
    callbacks=(),
    verbose="auto",
    **overrides,
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
        checkpoint_dir: Optional folder for per-epoch checkpoints (resumed
            from when present). With `checkpoint_every`, each pass over
            `texts` is cut into equal parts of at least that many batches,
            each part a Keras epoch (with its validation, its checkpoint and
            a fresh LSTM state), so a long pass can stop and resume exactly
            without losing more than one part; the batches of each pass that
            do not fill a part are skipped, and `epochs` still counts passes.
        seed: Integer, seeds weights, dropout and data order.
        strategy: Optional `tf.distribute.Strategy` to train under (see
            `ulmfit_tf.distribute`). `batch_size` is the global batch: each
            of the replicas reads its own `batch_size / replicas` rows of
            the stream, so they compute what one device computes.
        dtype_policy: Optional Keras dtype policy of the model:
            `"mixed_bfloat16"` or `"mixed_float16"` (with loss scaling).
            The softmax, the loss and AR/TAR stay in float32. It is a
            training setting: a saved model loads in float32, and each
            stage takes its own `dtype_policy`.
        callbacks: More Keras callbacks.
        verbose: Keras' `fit` verbosity.
        **overrides: Settings to change in `settings`, e.g. `epochs=2`.

    Returns:
        The `ULMFiTLanguageModel`, its `preprocessor` holding the tokenizer,
        the Keras `History` as its `history` and what made it as its
        `fingerprint`.

    Example:

    ```python
    lm = pretrain_language_model(news, held_out, embedding_dim=128, hidden_dim=320, epochs=2)
    ```
    """
    settings = settings_with(settings, PretrainSettings, overrides)
    fingerprint = pretrain_fingerprint(
        settings, texts, validation_texts, tokenizer=tokenizer, embeddings=embeddings, backwards=backwards, seed=seed,
        dtype_policy=dtype_policy,
    )
    keras.utils.set_random_seed(seed)
    if tokenizer is None:
        sample = first_lines(text_files(texts), TOKENIZER_SAMPLE_LINES) if isinstance(texts, str) else texts
        tokenizer = SentencePieceTokenizer.train(
            nonempty(sample, "texts"), vocabulary_size=settings.vocabulary_size, case_fold=settings.case_fold,
            seed=seed,
        )
    tokenizer = tokenizer.with_direction(backwards)
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope(), dtype_policy_scope(dtype_policy):
        backbone = AWDLSTMBackbone(
            vocabulary_size=tokenizer.vocabulary_size(),
            embedding_dim=settings.embedding_dim,
            hidden_dim=settings.hidden_dim,
            num_layers=settings.num_layers,
            dropout_multiplier=settings.dropout_multiplier,
            stateful=True,
            batch_size=per_replica_batch_size(settings.batch_size, strategy),
            seed=seed,
        )
        model = ULMFiTLanguageModel(backbone, preprocessor=tokenizer, seed=seed)
        if embeddings is not None:
            _start_embedding(backbone, embeddings)
    return fit_language_model(
        model, texts, validation_texts, settings, factor=None, checkpoint_every=settings.checkpoint_every,
        checkpoint_dir=checkpoint_dir, seed=seed, strategy=strategy, callbacks=callbacks, verbose=verbose,
        fingerprint=fingerprint,
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
