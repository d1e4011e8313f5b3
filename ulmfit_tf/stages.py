"""The three ULMFiT stages, each a thin composition of Keras objects.

`pretrain_language_model` → `finetune_language_model` → `fit_classifier`,
then `evaluate` and `predict`. Each stage builds the model, a
`tf.data` pipeline, an optimizer (`DiscriminativeOptimizer` around AdamW
under `SlantedTriangularLR`) and callbacks (`GradualUnfreezing`,
`EpochCheckpoint`, `TerminateOnNaN`), and calls `model.fit`: there is no
training loop of our own, and every object can be used on its own.

Every stage takes `checkpoint_dir`: a checkpoint is written atomically after
each epoch, and calling the stage again with the same arguments resumes
from it and ends with the same weights as an uninterrupted run. `seed`
makes runs reproducible. `backwards=True` trains on reversed text (the
paper's backward models); `predict` and `evaluate` average the
probabilities of several classifiers (forward + backward ensemble).
"""

import json
import math
import os

import keras
import numpy as np
import tensorflow as tf

from ulmfit_tf.batch_predict import check_ensemble
from ulmfit_tf.batch_predict import class_labels
from ulmfit_tf.batch_predict import predict_probabilities
from ulmfit_tf.callbacks.gradual_unfreezing import GradualUnfreezing
from ulmfit_tf.callbacks.reset_state_each_epoch import ResetStateEachEpoch
from ulmfit_tf.distribute import dtype_policy_scope
from ulmfit_tf.distribute import per_replica_batch_size
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.fingerprint import digest
from ulmfit_tf.losses import SparseSoftmaxCrossEntropy
from ulmfit_tf.metrics import classification_metrics
from ulmfit_tf.models.awd_lstm_backbone import AWDLSTMBackbone
from ulmfit_tf.models.ulmfit_language_model import ULMFiTLanguageModel
from ulmfit_tf.models.ulmfit_text_classifier import ULMFiTTextClassifier
from ulmfit_tf.optimizers.discriminative import DiscriminativeOptimizer
from ulmfit_tf.schedules.slanted_triangular import SlantedTriangularLR
from ulmfit_tf.text.classification_dataset import classification_dataset
from ulmfit_tf.text.classification_dataset import encode_labels
from ulmfit_tf.text.classification_dataset import tokenize_all
from ulmfit_tf.text.inputs import check_classes
from ulmfit_tf.text.inputs import check_labels
from ulmfit_tf.text.inputs import check_texts
from ulmfit_tf.text.language_model_source import STREAM_CHUNK_DOCUMENTS  # noqa: F401 (re-exported)
from ulmfit_tf.text.language_model_source import LanguageModelSource
from ulmfit_tf.text.language_model_source import first_lines
from ulmfit_tf.text.language_model_source import text_files
from ulmfit_tf.text.sentencepiece_tokenizer import SentencePieceTokenizer
from ulmfit_tf.training import TrainingDiverged  # noqa: F401 (re-exported)
from ulmfit_tf.training import fit_by_epoch

# The language-model stages clip the norm of all gradients together. Chosen
# on validation perplexity (pretraining of the main job, 300k news words):
# 193.5 per piece clipping each variable's norm at 0.4 at rate 1e-2, 167.1
# clipping the global norm, 202.0 not clipping (pretraining/README.md).
GRADIENT_CLIP_NORM = 0.4
TOKENIZER_SAMPLE_LINES = 200_000


def pretrain_language_model(
    texts,
    validation_texts=None,
    tokenizer=None,
    vocabulary_size=15000,
    embedding_dim=400,
    hidden_dim=1152,
    num_layers=3,
    dropout_multiplier=1.0,
    batch_size=64,
    bptt=72,
    epochs=1,
    learning_rate=5e-3,
    weight_decay=0.01,
    backwards=False,
    checkpoint_dir=None,
    seed=0,
    strategy=None,
    dtype_policy=None,
    callbacks=(),
    verbose="auto",
    case_fold=False,
    embeddings=None,
    checkpoint_every=None,
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

    Args:
        texts: List of strings, the training corpus; or a glob pattern of
            text files to stream.
        validation_texts: Optional list of strings (or glob pattern), for
            validation loss.
        tokenizer: Optional tokenizer giving ids. Defaults to a
            `SentencePieceTokenizer` of `vocabulary_size` pieces trained on
            `texts` (on its first 200,000 lines when streaming).
        vocabulary_size: Integer, pieces of the SentencePiece model trained
            when no `tokenizer` is given.
        embedding_dim, hidden_dim, num_layers, dropout_multiplier: The
            `AWDLSTMBackbone`'s sizes and dropout scale.
        batch_size: Integer, rows of the stream.
        bptt: Integer, tokens per window.
        epochs: Integer, passes over `texts`.
        learning_rate: Float, the schedule's peak.
        weight_decay: Float, AdamW's decoupled weight decay (fastai 0.01).
        backwards: Boolean, train on reversed text.
        checkpoint_dir: Optional folder for per-epoch checkpoints (resumed
            from when present).
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
        case_fold: Boolean, the SentencePiece model trained when no
            `tokenizer` is given folds case (`text` and `text.lower()` give
            the same ids).
        embeddings: Optional float array of shape `(vocabulary_size,
            embedding_dim)`, the embedding's starting weights instead of a
            random start: e.g. pretrained word vectors mapped to the
            tokenizer's pieces (`pretraining/word_vectors.py`).
        checkpoint_every: Optional integer, about this many updates between
            checkpoints: each pass over `texts` is cut into equal parts of
            at least this many batches, each part a Keras epoch (with its
            validation, its checkpoint and a fresh LSTM state), so a long
            pass can stop and resume exactly without losing more than one
            part. The batches of each pass that do not fill a part (fewer
            than the number of parts) are skipped. `epochs` still counts
            passes.

    Returns:
        The `ULMFiTLanguageModel`, with the tokenizer as its `preprocessor`
        and the Keras `History` as its `history`.
    """
    keras.utils.set_random_seed(seed)
    if tokenizer is None:
        sample = first_lines(text_files(texts), TOKENIZER_SAMPLE_LINES) if isinstance(texts, str) else texts
        tokenizer = SentencePieceTokenizer.train(
            _nonempty(sample, "texts"), vocabulary_size=vocabulary_size, case_fold=case_fold, seed=seed
        )
    tokenizer = tokenizer.with_direction(backwards)
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope(), dtype_policy_scope(dtype_policy):
        backbone = AWDLSTMBackbone(
            vocabulary_size=tokenizer.vocabulary_size,
            embedding_dim=embedding_dim,
            hidden_dim=hidden_dim,
            num_layers=num_layers,
            dropout_multiplier=dropout_multiplier,
            stateful=True,
            batch_size=per_replica_batch_size(batch_size, strategy),
            seed=seed,
        )
        model = ULMFiTLanguageModel(backbone, preprocessor=tokenizer, seed=seed)
        if embeddings is not None:
            _start_embedding(backbone, embeddings)
    fingerprint = dict(
        stage="pretrain", embedding_dim=embedding_dim, hidden_dim=hidden_dim, num_layers=num_layers,
        dropout_multiplier=dropout_multiplier,
    )
    if embeddings is not None:
        fingerprint["embeddings"] = digest([np.asarray(embeddings, np.float32)])
    return _fit_language_model(
        model, texts=texts, validation_texts=validation_texts, factor=None, batch_size=batch_size, bptt=bptt,
        epochs=epochs, learning_rate=learning_rate, weight_decay=weight_decay, checkpoint_dir=checkpoint_dir,
        seed=seed, strategy=strategy, dtype_policy=dtype_policy, callbacks=callbacks, verbose=verbose,
        fingerprint=fingerprint, checkpoint_every=checkpoint_every,
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


def finetune_language_model(
    language_model,
    texts,
    validation_texts=None,
    batch_size=64,
    bptt=72,
    epochs=1,
    learning_rate=4e-3,
    factor=2.6,
    weight_decay=0.01,
    dropout_multiplier=None,
    checkpoint_dir=None,
    seed=0,
    strategy=None,
    dtype_policy=None,
    callbacks=(),
    verbose="auto",
):
    """Stage 2: fine-tunes a language model on the target task's texts.

    The paper's recipe: discriminative fine-tuning (each layer group below
    the top trains at the rate above it divided by `factor`) and slanted
    triangular rates peaking at `learning_rate` (0.004 in the paper). The
    model is rebuilt for this stage's batch size with the source's weights;
    the source is left unchanged.

    Args:
        language_model: A `ULMFiTLanguageModel` with a `preprocessor`
            (as `pretrain_language_model` returns, or loaded from a file).
        texts: List of strings, the target task's texts (labelled or not).
        validation_texts: Optional list of strings.
        batch_size, bptt, epochs, learning_rate, weight_decay: As in
            `pretrain_language_model`.
        factor: Float, the discriminative factor (2.6).
        dropout_multiplier: Optional float; defaults to the source's.
        checkpoint_dir, seed, strategy, dtype_policy, callbacks, verbose:
            As in `pretrain_language_model`.

    Returns:
        The fine-tuned `ULMFiTLanguageModel` (its `history` set).
    """
    keras.utils.set_random_seed(seed)
    source = _language_model(language_model)
    backbone = source.backbone
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope(), dtype_policy_scope(dtype_policy):
        new_backbone = AWDLSTMBackbone.from_config(
            dict(
                backbone.get_config(),
                stateful=True,
                batch_size=per_replica_batch_size(batch_size, strategy),
                seed=seed,
                dropout_multiplier=backbone.dropout_multiplier if dropout_multiplier is None else dropout_multiplier,
            )
        )
        model = ULMFiTLanguageModel(
            new_backbone,
            output_dropout=source.output_dropout,
            ar_alpha=source.ar_alpha,
            tar_beta=source.tar_beta,
            vocabulary=source.vocabulary,
            preprocessor=source.preprocessor,
            seed=seed,
        )
        model.backbone.set_encoder_weights(backbone)
        model.decoder_bias.bias.assign(source.decoder_bias.bias)
    fingerprint = dict(
        stage="finetune", language_model=weights_digest(source), dropout_multiplier=dropout_multiplier
    )
    return _fit_language_model(
        model, texts=texts, validation_texts=validation_texts, factor=factor, batch_size=batch_size, bptt=bptt,
        epochs=epochs, learning_rate=learning_rate, weight_decay=weight_decay, checkpoint_dir=checkpoint_dir,
        seed=seed, strategy=strategy, dtype_policy=dtype_policy, callbacks=callbacks, verbose=verbose,
        fingerprint=fingerprint,
    )


def fit_classifier(
    language_model,
    texts,
    labels,
    validation=None,
    label_names=None,
    problem_type="single_label",
    batch_size=64,
    epochs=5,
    learning_rate=1e-2,
    factor=2.6,
    gradual_unfreezing=True,
    slanted_triangular=True,
    weight_decay=0.01,
    bptt=72,
    max_len=1440,
    dropout_multiplier=None,
    checkpoint_dir=None,
    seed=0,
    strategy=None,
    dtype_policy=None,
    callbacks=(),
    verbose="auto",
    min_steps=None,
    restore_best_weights=False,
):
    """Stage 3: trains a text classifier on the fine-tuned encoder.

    fastai's default recipe out of the box: the classifier's encoder starts
    from `language_model`'s; only the head trains in epoch 1, the top two
    groups in epoch 2, three in epoch 3 and all from epoch 4 on
    (`GradualUnfreezing(schedule=[1, 2, 3, 5])`); discriminative rates with
    `factor` 2.6; one slanted triangular schedule peaking at `learning_rate`
    (0.01) over all epochs; AdamW with betas (0.7, 0.99). Each switch turns
    one of these off, for the paper's ablations.

    Args:
        language_model: A `ULMFiTLanguageModel` with a `preprocessor`; an
            untrained one gives the from-scratch baseline.
        texts: List of strings.
        labels: One label per text: class names or ids (lists of them for
            `multi_label`, floats for `regression`).
        validation: Optional `(texts, labels)`.
        label_names: Optional list of class names in id order. Defaults to
            the sorted labels seen.
        problem_type: `"single_label"`, `"multi_label"` or `"regression"`.
        batch_size: Integer, texts per batch (batched by length).
        epochs: Integer. Defaults to `5` (fastai's recipe).
        learning_rate: Float, peak rate of the top group.
        factor: Float, discriminative factor; `1` trains all groups alike.
        gradual_unfreezing: Boolean; `False` trains all groups from the
            start.
        slanted_triangular: Boolean; `False` keeps `learning_rate` constant.
        weight_decay: Float, AdamW's decoupled weight decay.
        bptt: Integer, BPT3C chunk length (72).
        max_len: Integer, pooled tokens at the end of each text (1440).
        dropout_multiplier: Optional float; defaults to the language
            model's.
        checkpoint_dir, seed, strategy, dtype_policy, callbacks, verbose:
            As in `pretrain_language_model`.
        min_steps: Optional integer: a training set too small for this many
            updates in `epochs` epochs is read for more epochs,
            `ceil(min_steps / steps_per_epoch)`, so that few labels still get
            `min_steps` updates (200 reviews in batches of 64 make 8 steps,
            batched by length). The epochs run are in
            `classifier.history.epoch`.
        restore_best_weights: Boolean; with `validation`, all the epochs
            run and the classifier ends with the weights of the epoch of
            best validation accuracy (lowest validation MAE for
            regression), in `classifier.history.best_epoch` (from 0).

    Returns:
        The `ULMFiTTextClassifier`, its `preprocessor` the language model's
        and its `history` set.
    """
    if min_steps is not None and (
        isinstance(min_steps, bool) or not isinstance(min_steps, (int, np.integer)) or min_steps < 1
    ):
        raise UserInputError(f"Argument `min_steps` must be a positive integer or None. Received: min_steps={min_steps!r}")
    if restore_best_weights and validation is None:
        raise UserInputError(
            "Argument `restore_best_weights` needs `validation` to choose the epoch on: pass "
            "`validation=(texts, labels)` or `restore_best_weights=False`."
        )
    keras.utils.set_random_seed(seed)
    source = _language_model(language_model)
    texts = _nonempty(texts, "texts")
    labels = check_labels(labels, texts)
    check_classes(labels, problem_type)
    if validation is not None:
        validation_texts = _nonempty(validation[0], "validation texts", "validation[0]")
        validation = validation_texts, check_labels(validation[1], validation_texts, "validation[1]", "validation[0]")
    if label_names is None and problem_type != "regression":
        label_names = _label_names(labels, problem_type)
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope(), dtype_policy_scope(dtype_policy):
        classifier = ULMFiTTextClassifier.from_language_model(
            source,
            num_classes=len(label_names) if label_names else (np.shape(labels[0]) or (1,))[0],
            preprocessor=source.preprocessor,
            label_names=label_names,
            problem_type=problem_type,
            bptt=bptt,
            max_len=max_len,
            dropout_multiplier=dropout_multiplier,
            seed=seed,
        )
    targets = classifier.encode_targets(labels)
    ids = tokenize_all(texts, classifier.preprocessor, progress=verbose != 0)  # once for every epoch

    def train_data(epoch):
        return classification_dataset(
            ids, targets, classifier.preprocessor, batch_size=batch_size, seed=seed + epoch,
            batch_multiple=strategy.num_replicas_in_sync,
        )

    validation_data = None
    if validation is not None:
        validation_texts, validation_labels = validation
        validation_data = classification_dataset(
            validation_texts,
            classifier.encode_targets(validation_labels),
            classifier.preprocessor,
            batch_size=batch_size,
            shuffle=False,
        )
    steps = int(train_data(0).cardinality())
    if min_steps is not None:
        epochs = max(epochs, math.ceil(min_steps / steps))
    groups = classifier.layer_groups()
    with strategy.scope():
        rate = SlantedTriangularLR(learning_rate, total_steps=steps * epochs) if slanted_triangular else learning_rate
        optimizer = keras.optimizers.AdamW(rate, weight_decay=weight_decay, beta_1=0.7, beta_2=0.99)
        if factor != 1:
            optimizer = DiscriminativeOptimizer(optimizer, groups, factor=factor)
        classifier.compile(optimizer=optimizer, jit_compile=_jit_compile(strategy))
    stage_callbacks = []
    if gradual_unfreezing:
        schedule = [n for n in (1, 2, 3) if n < len(groups)] + [len(groups)]
        stage_callbacks.append(GradualUnfreezing(groups, schedule=schedule))
    fingerprint = dict(
        stage="classifier", language_model=weights_digest(source), tokenizer=tokenizer_digest(classifier.preprocessor.tokenizer),
        texts=digest(texts), labels=digest(np.asarray(targets)), validation=digest(validation),
        label_names=label_names, problem_type=problem_type, batch_size=batch_size, epochs=epochs,
        learning_rate=learning_rate, factor=factor, gradual_unfreezing=gradual_unfreezing,
        slanted_triangular=slanted_triangular, weight_decay=weight_decay, bptt=bptt, max_len=max_len,
        dropout_multiplier=dropout_multiplier, seed=seed, dtype_policy=_policy_name(dtype_policy),
    )
    monitor = None
    if restore_best_weights:
        monitor = "val_mae" if problem_type == "regression" else "val_accuracy"
        fingerprint["restore_best_weights"] = True  # absent when off: older checkpoints still resume
    fit_by_epoch(
        classifier, train_data, validation_data, epochs=epochs, checkpoint_dir=checkpoint_dir,
        callbacks=stage_callbacks + list(callbacks), verbose=verbose, fingerprint=fingerprint,
        restore_best_weights=monitor,
    )
    return classifier


def predict(classifiers, texts, batch_size=64):
    """Labels and probabilities for raw texts.

    Batched by length and run through a compiled inference pass, rows in
    the texts' order (`ulmfit_tf.batch_predict`): the answers of
    `classifier.predict`, faster. For more texts than fit in memory, read
    them in chunks (`batch_predict.chunks`) and call this on each, as
    `ulmfit-tf predict` does.

    Args:
        classifiers: A `ULMFiTTextClassifier`, or a list of them trained on
            the same labels (e.g. forward and backward): their probabilities
            are averaged, as in the paper's bidirectional ensemble.
        texts: List of strings (bytes are decoded as UTF-8); a lone string
            is one text. Anything else among them raises a `TypeError`.
        batch_size: Integer, texts per batch.

    Returns:
        `(labels, probabilities)`: a list with one class name per text
        (a list of names for multi-label, the value for regression) and a
        float array `(texts, classes)`; `([], (0, classes) array)` for no
        texts.

    Example:

    ```python
    labels, probabilities = predict(classifier, ["A fine film.", "Dull."])
    ```
    """
    classifiers = check_ensemble(classifiers)
    probabilities = predict_probabilities(classifiers, texts, batch_size)
    first = classifiers[0]
    return class_labels(probabilities, first.label_names, first.problem_type), probabilities


def evaluate(classifiers, texts, labels, batch_size=64):
    """Metrics of a classifier (or an averaged ensemble) on labelled texts.

    Args:
        classifiers: A `ULMFiTTextClassifier`, or a list of them (as in
            `predict`).
        texts: List of strings, at least one; a lone string is one text.
        labels: One label per text (class names or ids, as in
            `fit_classifier`); a `UserInputError` when the counts differ.
        batch_size: Integer.

    Returns:
        A dict of JSON values (`ulmfit_tf.metrics.classification_metrics`):
        `accuracy`, `error` (in %, as the paper reports), `loss`
        (cross-entropy of the predicted probabilities), `per_class`
        precision, recall, F1 and support, `macro_f1`, `weighted_f1`,
        `confusion_matrix` and `label_names` (the classifier's order),
        `expected_calibration_error`, and for two classes `roc_auc` and
        `average_precision`; micro and macro averages for multi-label;
        `mae`, `mse`, `rmse`, `pearson` and `spearman` for regression; and
        `count`.

    Example:

    ```python
    metrics = stages.evaluate(classifier, ["A triumph.", "A mess."], ["fresh", "rotten"])
    metrics["macro_f1"], metrics["per_class"]["rotten"]["recall"], metrics["confusion_matrix"]
    ```
    """
    first = classifiers[0] if isinstance(classifiers, (list, tuple)) else classifiers
    texts = _nonempty(texts, "texts")
    targets = first.encode_targets(check_labels(labels, texts))
    _, probabilities = predict(classifiers, texts, batch_size)
    return classification_metrics(probabilities, targets, first.problem_type, first.label_names)


def perplexity(language_model, texts, bptt=70):
    """Per-token perplexity of a language model on texts, read as one stream.

    The texts are laid out as in training (`language_model_dataset` without
    shuffling: the model's batch size in rows, `bptt` tokens a window) and
    the LSTM state carries from window to window, as fastai's `validate`
    does. The model's state is reset before and after.

    Args:
        language_model: A `ULMFiTLanguageModel` with its `preprocessor`.
        texts: List of strings.
        bptt: Integer, window length.

    Returns:
        A float, or `None` when the texts hold less than one window.

    Example:

    ```python
    lm = ULMFiTLanguageModel.from_preset("awd_lstm_small_en")
    stages.perplexity(lm, ["The minister said on Tuesday that ..."])
    ```
    """
    from ulmfit_tf.text import language_model_dataset

    model = _language_model(language_model)
    batch_size = model.backbone.batch_size
    data = language_model_dataset(texts, model.preprocessor, batch_size, bptt, shuffle=False)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="sum")
    # One compiled step per batch (the state variables carry over).
    step = tf.function(lambda x, y: loss(y, model(x, training=False)))
    model.reset_state()
    total, count = 0.0, 0
    for x, y in data:
        total += float(step(x, y))
        count += int(np.prod(y.shape))
    model.reset_state()
    return math.exp(total / count) if count else None


def classifier_lr_find(language_model, texts, labels, batch_size=64, num_steps=100, plot_path=None, seed=0):
    """The LR range test for the classifier stage, on a classifier built as `fit_classifier` builds it.

    Args:
        language_model: A `ULMFiTLanguageModel` with a `preprocessor`.
        texts, labels: The training texts and their labels.
        batch_size: Integer.
        num_steps: Integer, steps of the exponential sweep.
        plot_path: Optional path of the loss-vs-rate plot to write.
        seed: Integer.

    Returns:
        An `LRFindResult` (rates, losses, `suggestions`).
    """
    from ulmfit_tf.callbacks.lr_finder import lr_find

    keras.utils.set_random_seed(seed)
    source = _language_model(language_model)
    texts = _nonempty(texts, "texts")
    label_names = _label_names(labels, "single_label")
    classifier = ULMFiTTextClassifier.from_language_model(
        source, len(label_names), preprocessor=source.preprocessor, label_names=label_names, seed=seed
    )
    classifier.compile(optimizer=keras.optimizers.AdamW(1e-3, beta_1=0.7, beta_2=0.99))
    data = classifier.text_dataset(texts, labels, batch_size=batch_size, shuffle=True, seed=seed)
    return lr_find(classifier, data, num_steps=num_steps, plot_path=plot_path)


def with_direction(tokenizer, backwards):
    """Deprecated alias of `tokenizer.with_direction(backwards)` (see `Tokenizer.with_direction`)."""
    return tokenizer.with_direction(backwards)


def _fit_language_model(
    model, *, texts, validation_texts, factor, batch_size, bptt, epochs, learning_rate, weight_decay,
    checkpoint_dir, seed, strategy, dtype_policy, callbacks, verbose, fingerprint, checkpoint_every=None,
):
    tokenizer = model.preprocessor
    fingerprint = dict(
        fingerprint, tokenizer=tokenizer_digest(tokenizer), texts=_corpus_digest(texts),
        validation=_corpus_digest(validation_texts), factor=factor, batch_size=batch_size, bptt=bptt, epochs=epochs,
        learning_rate=learning_rate, weight_decay=weight_decay, seed=seed, dtype_policy=_policy_name(dtype_policy),
        gradient_clipping=f"global norm {GRADIENT_CLIP_NORM}",
    )
    if checkpoint_every is not None:
        fingerprint["checkpoint_every"] = checkpoint_every

    def source(texts, what):
        texts = texts if isinstance(texts, str) else _nonempty(texts, what)
        return LanguageModelSource(texts, tokenizer, batch_size, bptt, strategy, what=what, progress=verbose != 0)

    train = source(texts, "texts")
    parts = 1 if checkpoint_every is None else max(1, train.steps // checkpoint_every)
    part_steps = train.steps // parts
    validation_data = validation_steps = None
    if validation_texts is not None:
        validation = source(validation_texts, "validation texts")
        validation_data, validation_steps = validation.dataset(shuffle=False), validation.steps
    with strategy.scope():
        optimizer = keras.optimizers.AdamW(
            SlantedTriangularLR(learning_rate, total_steps=part_steps * parts * epochs),
            weight_decay=weight_decay,
            beta_1=0.8,
            beta_2=0.99,
            global_clipnorm=GRADIENT_CLIP_NORM,
        )
        if factor is not None:
            optimizer = DiscriminativeOptimizer(optimizer, model.layer_groups(), factor=factor)
        model.compile(
            optimizer=optimizer,
            loss=SparseSoftmaxCrossEntropy(),
            metrics=["accuracy"],
            jit_compile=_jit_compile(strategy),
        )

    def part(epoch):  # the Keras epoch's part of a pass over the texts
        passed, index = divmod(epoch, parts)
        return train.dataset(seed=seed + passed, start=index * part_steps, steps=part_steps)

    fit_by_epoch(
        model, part, validation_data, epochs=epochs * parts, checkpoint_dir=checkpoint_dir,
        callbacks=[ResetStateEachEpoch()] + list(callbacks), verbose=verbose, steps=part_steps,
        validation_steps=validation_steps, fingerprint=fingerprint,
    )
    return model


def weights_digest(model):
    """A digest of a model's weights (what a later stage starts from)."""
    return digest([np.asarray(w) for w in model.get_weights()])


def tokenizer_digest(tokenizer):
    """A digest of a tokenizer's settings and, for SentencePiece, its model."""
    config = json.dumps(tokenizer.get_config(), sort_keys=True, default=str)
    return digest([config, getattr(tokenizer, "proto", None) or b""])


def _corpus_digest(texts):
    """A digest of a list of texts, or of the files a glob pattern names (names, sizes, times)."""
    if isinstance(texts, str):
        return digest([(path, os.path.getsize(path), os.path.getmtime(path)) for path in text_files(texts)])
    return digest(None if texts is None else list(texts))


def _policy_name(policy):
    return None if policy is None else getattr(policy, "name", str(policy))


def _jit_compile(strategy):
    # XLA fails under MirroredStrategy; Keras' "auto" already skips it on CPU.
    return "auto" if strategy.num_replicas_in_sync == 1 else False


def _language_model(model):
    if not isinstance(model, ULMFiTLanguageModel):
        raise ValueError(f"Argument `language_model` must be a `ULMFiTLanguageModel`. Received: {type(model).__name__}")
    if model.preprocessor is None:
        raise UserInputError(
            "Argument `language_model` must carry its tokenizer: set `language_model.preprocessor` to the "
            "tokenizer it was trained with."
        )
    return model


def _nonempty(texts, what, argument="texts"):
    texts = check_texts(texts, argument)
    if not texts:
        raise UserInputError(f"The {what} are empty: give at least one text.")
    return texts


def _label_names(labels, problem_type):
    values = np.asarray(labels, dtype=object)
    if problem_type == "single_label" and all(isinstance(v, (int, np.integer)) for v in values.ravel()):
        return [str(i) for i in range(int(max(values.ravel())) + 1)]
    return encode_labels(list(labels), multi_label=problem_type == "multi_label")[1]
