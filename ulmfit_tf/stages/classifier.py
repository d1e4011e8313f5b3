"""Stage 3: fit a text classifier on the fine-tuned encoder; and its LR range test."""

import math

import keras
import numpy as np

from ulmfit_tf.callbacks.gradual_unfreezing import GradualUnfreezing
from ulmfit_tf.callbacks.lr_finder import lr_find
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.labels import class_weights
from ulmfit_tf.models.ulmfit_text_classifier import ULMFiTTextClassifier
from ulmfit_tf.optimizers.discriminative import DiscriminativeOptimizer
from ulmfit_tf.recipe import ClassifierSettings
from ulmfit_tf.schedules.slanted_triangular import SlantedTriangularLR
from ulmfit_tf.stages.checks import checked_language_model
from ulmfit_tf.stages.checks import jit_compile
from ulmfit_tf.stages.checks import label_names_of
from ulmfit_tf.stages.checks import nonempty
from ulmfit_tf.stages.fingerprints import classifier_fingerprint
from ulmfit_tf.stages.run_options import RunOptions
from ulmfit_tf.text.classification_dataset import classification_dataset
from ulmfit_tf.text.classification_dataset import tokenize_all
from ulmfit_tf.text.inputs import check_classes
from ulmfit_tf.text.inputs import check_labels
from ulmfit_tf.training import fit_by_epoch


def fit_classifier(
    language_model,
    texts,
    labels,
    validation=None,
    *,
    settings=None,
    label_names=None,
    problem_type="single_label",
    **options,
):
    """Stage 3: trains a text classifier on the fine-tuned encoder.

    fastai's default recipe out of the box (`ClassifierSettings()`): the
    classifier's encoder starts from `language_model`'s; only the head
    trains in epoch 1, the top two groups in epoch 2, three in epoch 3 and
    all from epoch 4 on (`GradualUnfreezing(schedule=[1, 2, 3, 5])`);
    discriminative rates with `factor` 2.6; one slanted triangular schedule
    peaking at `learning_rate` (0.01) over all epochs; AdamW with betas
    (0.7, 0.99). Each switch of the settings turns one of these off, for
    the paper's ablations.

    Args:
        language_model: A `ULMFiTLanguageModel` with a `preprocessor`; an
            untrained one gives the from-scratch baseline.
        texts: List of strings.
        labels: One label per text: class names or ids (lists of them for
            `multi_label`, floats for `regression`).
        validation: Optional `(texts, labels)`.
        settings: Optional `ClassifierSettings`: batch size, epochs, rate,
            `factor`, `gradual_unfreezing`, `slanted_triangular`, weight
            decay, BPT3C's `bptt` and `max_len`, `dropout_multiplier`
            (`None`: the language model's), `min_steps` (a training set too
            small for this many updates in `epochs` epochs is read for
            `ceil(min_steps / steps_per_epoch)` epochs: 200 reviews in
            batches of 64 make 8 steps) and `restore_best_weights` (with
            `validation`: end with the weights of the epoch of best
            validation accuracy, lowest validation MAE for regression, in
            `classifier.history.best_epoch`, from 0), `class_weight`
            (`"balanced"` or a dict of class name -> weight, single-label:
            `ulmfit_tf.labels.class_weights`) and `calibrate` (with
            `validation`, on by default: the classifier's temperature, and
            multi-label thresholds, fitted on it after training; see
            `ULMFiTTextClassifier.calibrate`).
        label_names: Optional list of class names in id order. Defaults to
            the sorted labels seen.
        problem_type: `"single_label"`, `"multi_label"` or `"regression"`.
        **options: How the stage runs (`RunOptions`: `checkpoint_dir`,
            `seed`, `strategy`, `dtype_policy`, `callbacks`, `verbose`) and
            settings to change in `settings`, e.g. `epochs=3`.

    Returns:
        The `ULMFiTTextClassifier` (its preprocessor reads with the language
        model's tokenizer),
        its `history` (the epochs run in `history.epoch`) and `fingerprint`
        set.

    Example:

    ```python
    classifier = fit_classifier(tuned, texts, labels, validation=(valid_texts, valid_labels), epochs=3)
    classifier = fit_classifier(tuned, texts, labels, settings=RECIPES["small"].classifier)
    ```
    """
    settings, run = RunOptions.split(ClassifierSettings, settings, options)
    if settings.restore_best_weights and validation is None:
        raise UserInputError(
            "Argument `restore_best_weights` needs `validation` to choose the epoch on: pass "
            "`validation=(texts, labels)` or `restore_best_weights=False`."
        )
    keras.utils.set_random_seed(run.seed)
    source = checked_language_model(language_model)
    fingerprint = classifier_fingerprint(  # of the arguments as given, as the pipeline computes it
        settings, source, texts, labels, validation, label_names=label_names, problem_type=problem_type,
        seed=run.seed, dtype_policy=run.dtype_policy,
    )
    texts, labels, validation = _checked_data(texts, labels, validation, problem_type)
    if label_names is None and problem_type != "regression":
        label_names = label_names_of(labels, problem_type)
    weights = _class_weights(settings, labels, label_names, problem_type)  # refused before any work
    with run.scope():
        classifier = ULMFiTTextClassifier.from_language_model(
            source,
            num_classes=len(label_names) if label_names else (np.shape(labels[0]) or (1,))[0],
            label_names=label_names,
            problem_type=problem_type,
            bptt=settings.bptt,
            max_len=settings.max_len,
            dropout_multiplier=settings.dropout_multiplier,
            seed=run.seed,
        )
    train_data, validation_data = _datasets(classifier, texts, labels, validation, settings, run)
    steps = int(train_data(0).cardinality())
    epochs = settings.epochs
    if settings.min_steps is not None:
        epochs = max(epochs, math.ceil(settings.min_steps / steps))
    _compile(classifier, settings, steps * epochs, run.strategy)
    stage_callbacks = [_gradual_unfreezing(classifier)] if settings.gradual_unfreezing else []
    monitor = None
    if settings.restore_best_weights:
        monitor = "val_mae" if problem_type == "regression" else "val_accuracy"
    fit_by_epoch(
        classifier, train_data, validation_data, epochs=epochs, checkpoint_dir=run.checkpoint_dir,
        callbacks=stage_callbacks + list(run.callbacks), verbose=run.verbose, fingerprint=fingerprint,
        restore_best_weights=monitor, class_weight=weights,
    )
    if settings.calibrate and validation is not None and problem_type != "regression":
        classifier.calibrate(*validation, batch_size=settings.batch_size)
    return classifier


def _class_weights(settings, labels, label_names, problem_type):
    if settings.class_weight is not None and problem_type != "single_label":
        raise UserInputError(
            "Argument `class_weight` must be None for a multi-label or regression classifier (Keras weighs "
            f"classes of single-label targets only). Received: class_weight={settings.class_weight!r}"
        )
    return class_weights(settings.class_weight, labels, label_names)


def _checked_data(texts, labels, validation, problem_type):
    texts = nonempty(texts, "texts")
    labels = check_labels(labels, texts)
    check_classes(labels, problem_type)
    if validation is not None:
        validation_texts = nonempty(validation[0], "validation texts", "validation[0]")
        validation = validation_texts, check_labels(validation[1], validation_texts, "validation[1]", "validation[0]")
    return texts, labels, validation


def _datasets(classifier, texts, labels, validation, settings, run):
    """`(train_data(epoch), validation_data)`: the texts tokenized once, batched by length each epoch."""
    targets = classifier.encode_targets(labels)
    ids = tokenize_all(texts, classifier.preprocessor, progress=run.verbose != 0)  # once for every epoch

    def train_data(epoch):
        return classification_dataset(
            ids, targets, classifier.preprocessor, batch_size=settings.batch_size, seed=run.seed + epoch,
            batch_multiple=run.strategy.num_replicas_in_sync,
        )

    validation_data = None
    if validation is not None:
        validation_texts, validation_labels = validation
        validation_data = classification_dataset(
            validation_texts,
            classifier.encode_targets(validation_labels),
            classifier.preprocessor,
            batch_size=settings.batch_size,
            shuffle=False,
        )
    return train_data, validation_data


def _compile(classifier, settings, total_steps, strategy):
    with strategy.scope():
        rate = settings.learning_rate
        if settings.slanted_triangular:
            rate = SlantedTriangularLR(settings.learning_rate, total_steps=total_steps)
        optimizer = keras.optimizers.AdamW(rate, weight_decay=settings.weight_decay, beta_1=0.7, beta_2=0.99)
        if settings.factor != 1:
            optimizer = DiscriminativeOptimizer(optimizer, classifier.layer_groups(), factor=settings.factor)
        classifier.compile(optimizer=optimizer, jit_compile=jit_compile(strategy))


def _gradual_unfreezing(classifier):
    """One more layer group trained each epoch up to 3, then all (fastai's recipe)."""
    groups = classifier.layer_groups()
    return GradualUnfreezing(groups, schedule=[n for n in (1, 2, 3) if n < len(groups)] + [len(groups)])


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

    Example:

    ```python
    result = classifier_lr_find(tuned, texts, labels, plot_path="lr_find.png")
    result.suggestions["valley"]
    ```
    """
    keras.utils.set_random_seed(seed)
    source = checked_language_model(language_model)
    texts = nonempty(texts, "texts")
    label_names = label_names_of(labels, "single_label")
    classifier = ULMFiTTextClassifier.from_language_model(source, len(label_names), label_names=label_names, seed=seed)
    classifier.compile(optimizer=keras.optimizers.AdamW(1e-3, beta_1=0.7, beta_2=0.99))
    data = classifier.text_dataset(texts, labels, batch_size=batch_size, shuffle=True, seed=seed)
    return lr_find(classifier, data, num_steps=num_steps, plot_path=plot_path)
