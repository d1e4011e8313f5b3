"""Temperature scaling (Guo et al., 2017): probabilities a classifier's confidence can be trusted with.

A classifier fine-tuned to low training loss is over-confident: among the
texts it gives 0.95, fewer than 95% are right. Temperature scaling divides
the logits by one number `T`, fitted to minimise the negative
log-likelihood on held-out texts (the validation split): accuracy is
unchanged (the order of the logits is), the probabilities become
calibrated. The classifier keeps `T` in its config, so the `.keras` file,
the SavedModel and every TFLite file give the same calibrated
probabilities.
"""

import numpy as np

from ulmfit_tf.thresholds import tune_thresholds

BOUNDS = (0.05, 20.0)  # the temperatures searched
_ITERATIONS = 80  # golden-section steps: the bracket shrinks to 1e-16 of its width


def fit_temperature(logits, targets, problem_type="single_label"):
    """The temperature minimising the negative log-likelihood of `softmax(logits / T)` (or sigmoid).

    The likelihood is a convex function of `1 / T` (a log-sum-exp minus a
    linear term), so a golden-section search over `1 / T` finds its one
    minimum in `BOUNDS`.

    Args:
        logits: Float array `(texts, classes)`, the classifier's outputs.
        targets: Integer class ids `(texts,)` (single-label) or a 0/1 array
            `(texts, labels)` (multi-label).
        problem_type: `"single_label"` or `"multi_label"`.

    Returns:
        A float in `BOUNDS`.

    Example:

    >>> logits = np.array([[4.0, 0.0], [0.0, 4.0], [4.0, 0.0], [4.0, 0.0]])
    >>> fit_temperature(logits, [0, 1, 1, 0]) > 1  # over-confident: one of four is wrong at 0.98
    True

    Reference:
        - [Guo et al., 2017](https://arxiv.org/abs/1706.04599)
    """
    if problem_type not in ("single_label", "multi_label"):
        raise ValueError(
            "Argument `problem_type` must be 'single_label' or 'multi_label' (regression has no temperature). "
            f"Received: problem_type={problem_type!r}"
        )
    logits = np.asarray(logits, dtype=np.float64)
    targets = np.asarray(targets)
    if logits.ndim != 2 or len(logits) == 0 or len(logits) != len(targets):
        raise ValueError(
            "Argument `logits` must be a non-empty (texts, classes) array with one target a text. "
            f"Received: logits.shape={logits.shape}, {len(targets)} targets"
        )
    if problem_type == "single_label":
        targets = targets.astype(np.int64)
        if targets.min() < 0 or targets.max() >= logits.shape[1]:
            raise ValueError(
                f"Argument `targets` must hold class ids in [0, {logits.shape[1]}). "
                f"Received: ids from {targets.min()} to {targets.max()}"
            )
    low, high = 1.0 / BOUNDS[1], 1.0 / BOUNDS[0]
    ratio = (np.sqrt(5.0) - 1.0) / 2.0
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    loss_a, loss_b = (negative_log_likelihood(logits * x, targets, problem_type) for x in (a, b))
    for _ in range(_ITERATIONS):
        if loss_a <= loss_b:
            high, b, loss_b = b, a, loss_a
            a = high - ratio * (high - low)
            loss_a = negative_log_likelihood(logits * a, targets, problem_type)
        else:
            low, a, loss_a = a, b, loss_b
            b = low + ratio * (high - low)
            loss_b = negative_log_likelihood(logits * b, targets, problem_type)
    return float(1.0 / ((low + high) / 2.0))


def negative_log_likelihood(logits, targets, problem_type="single_label"):
    """Mean cross-entropy of softmax (single-label) or sigmoid (multi-label) logits: see `cross_entropies`."""
    return float(np.mean(cross_entropies(logits, targets, problem_type)))


def cross_entropies(logits, targets, problem_type="single_label"):
    """Each text's cross-entropy of softmax (single-label) or sigmoid (multi-label) logits, computed stably.

    Multi-label: the mean over the labels of each text's binary
    cross-entropies.

    Args:
        logits: Float array `(texts, classes)`.
        targets: Class ids `(texts,)`, or a 0/1 array `(texts, labels)`.
        problem_type: `"single_label"` or `"multi_label"`.

    Returns:
        A float64 array `(texts,)`.
    """
    logits = np.asarray(logits, dtype=np.float64)
    if problem_type == "multi_label":
        truth = np.asarray(targets, dtype=np.float64)
        return np.mean(np.maximum(logits, 0) - logits * truth + np.log1p(np.exp(-np.abs(logits))), axis=-1)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_normaliser = np.log(np.exp(shifted).sum(axis=1))
    chosen = shifted[np.arange(len(shifted)), np.asarray(targets, dtype=np.int64)]
    return log_normaliser - chosen


def calibrate(classifier, texts, labels, batch_size=64):
    """Fits a classifier's `temperature` (and, for multi-label, its `thresholds`) on held-out labelled texts.

    Temperature scaling minimises the negative log-likelihood of the texts'
    labels (`fit_temperature`); each label's threshold then maximises its
    F1 at the new temperature (`ulmfit_tf.thresholds.tune_thresholds`).
    The order of the logits, so single-label accuracy, is unchanged.

    Args:
        classifier: A `ULMFiTTextClassifier` (single- or multi-label).
        texts: Strings (or padded ids), the validation split.
        labels: Their labels, as `fit` takes them.
        batch_size: Integer.

    Returns:
        The fitted temperature (also set on the classifier).

    Example:

    ```python
    temperature = calibrate(classifier, validation_texts, validation_labels)
    ```
    """
    if classifier.problem_type == "regression":
        raise ValueError("Argument `classifier` must classify: a regression has no temperature to fit.")
    logits = np.asarray(classifier.predict(texts, batch_size=batch_size, verbose=0), "float64")
    targets = classifier.encode_targets(labels)
    classifier.temperature = fit_temperature(logits, targets, classifier.problem_type)
    if classifier.problem_type == "multi_label":
        scaled = 1.0 / (1.0 + np.exp(-logits / classifier.temperature))
        classifier.thresholds = tune_thresholds(scaled, targets)
    return classifier.temperature
