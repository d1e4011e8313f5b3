"""Using trained models: a classifier's predictions and metrics, a language model's perplexity."""

import math

import keras
import numpy as np
import tensorflow as tf

from ulmfit_tf.batch_predict import check_ensemble
from ulmfit_tf.batch_predict import class_labels
from ulmfit_tf.batch_predict import predict_probabilities
from ulmfit_tf.metrics import classification_metrics
from ulmfit_tf.metrics import expected_calibration_error
from ulmfit_tf.stages.checks import checked_language_model
from ulmfit_tf.stages.checks import nonempty
from ulmfit_tf.text.inputs import check_labels
from ulmfit_tf.text.language_model_dataset import language_model_dataset
from ulmfit_tf.thresholds import DEFAULT_THRESHOLD


def predict(classifiers, texts, batch_size=64, threshold=None, top_k=None):
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
        threshold: Optional float in [0, 1]: multi-label, every label at
            or above it, instead of the classifier's `thresholds`.
        top_k: Optional positive integer: at most `top_k` labels a text,
            the most probable (multi-label: of those chosen); a
            single-label text then gets a list of its `top_k` most
            probable classes.

    Returns:
        `(labels, probabilities)`: a list with one class name per text
        (a list of names, most probable first, for multi-label or with
        `top_k`; the value for regression) and a float array
        `(texts, classes)`; `([], (0, classes) array)` for no texts.

    Example:

    ```python
    labels, probabilities = predict(classifier, ["A fine film.", "Dull."])
    ```
    """
    classifiers = check_ensemble(classifiers)
    first = classifiers[0]
    if threshold is not None and first.problem_type != "multi_label":
        raise ValueError(
            "Argument `threshold` decides multi-label classifiers. "
            f"Received: threshold={threshold!r} for a {first.problem_type} classifier"
        )
    probabilities = predict_probabilities(classifiers, texts, batch_size)
    thresholds = first.thresholds if threshold is None else threshold
    return class_labels(probabilities, first.label_names, first.problem_type, thresholds, top_k), probabilities


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
        `average_precision`; micro and macro averages for multi-label, at
        the classifier's `thresholds`;
        `mae`, `mse`, `rmse`, `pearson` and `spearman` for regression; and
        `count`. A single-label classifier calibrated on validation texts
        (`temperature` not 1) adds its `temperature` and
        `expected_calibration_error_uncalibrated`, the error at
        temperature 1, to compare.

    Example:

    ```python
    metrics = stages.evaluate(classifier, ["A triumph.", "A mess."], ["fresh", "rotten"])
    metrics["macro_f1"], metrics["per_class"]["rotten"]["recall"], metrics["confusion_matrix"]
    ```
    """
    first = classifiers[0] if isinstance(classifiers, (list, tuple)) else classifiers
    texts = nonempty(texts, "texts")
    targets = first.encode_targets(check_labels(labels, texts))
    _, probabilities = predict(classifiers, texts, batch_size)
    threshold = first.thresholds or DEFAULT_THRESHOLD  # multi-label: decided as `predict` decides
    metrics = classification_metrics(probabilities, targets, first.problem_type, first.label_names, threshold)
    single = not isinstance(classifiers, (list, tuple)) or len(classifiers) == 1
    if single and first.problem_type == "single_label" and first.temperature != 1.0:
        # softmax(z / T) = p, so softmax(T log p) = softmax(z): the probabilities at temperature 1.
        logits = first.temperature * np.log(np.maximum(np.asarray(probabilities, "float64"), 1e-30))
        raw = np.exp(logits - logits.max(axis=1, keepdims=True))
        raw /= raw.sum(axis=1, keepdims=True)
        metrics["temperature"] = first.temperature
        metrics["expected_calibration_error_uncalibrated"] = expected_calibration_error(raw, targets)
    return metrics


def perplexity(language_model, texts, bptt=70, batch_size=32):
    """Per-token perplexity of a language model on texts, read as one stream.

    The texts are laid out as in training (`language_model_dataset` without
    shuffling: the model's batch size in rows, `bptt` tokens a window) and
    the LSTM state carries from window to window, as fastai's `validate`
    does. The model's state is reset before and after; a model that keeps
    no state (the bundled preset) is read through a stateful copy
    (`ULMFiTLanguageModel.rebuilt`) of `batch_size` rows.

    Args:
        language_model: A `ULMFiTLanguageModel` with its `preprocessor`.
        texts: List of strings.
        bptt: Integer, window length.
        batch_size: Integer, rows of the stream for a model that keeps no
            state (a stateful model reads with its own batch size).

    Returns:
        A float, or `None` when the texts hold less than one window.

    Example:

    ```python
    lm = ULMFiTLanguageModel.from_preset("awd_lstm_small_en_uncased")
    stages.perplexity(lm, ["The minister said on Tuesday that ..."])
    ```
    """
    model = checked_language_model(language_model)
    if not model.backbone.stateful:
        model = model.rebuilt(stateful=True, batch_size=batch_size)
    batch_size = model.backbone.batch_size
    data = language_model_dataset(texts, model.preprocessor.tokenizer, batch_size, bptt, shuffle=False)
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
