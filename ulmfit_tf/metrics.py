"""What a classifier gets right and wrong, per class, computed with numpy alone.

`classification_metrics` turns predicted probabilities and target ids into
one JSON-able dict: the numbers `stages.evaluate` returns and
`ulmfit-tf evaluate --json` prints. Precision, recall and F1 follow
scikit-learn's definitions with `zero_division=0`: a class never predicted
has precision 0, a class absent from the targets recall 0, and F1 is
`2 tp / (2 tp + fp + fn)` (0 when that is 0/0). ROC-AUC and average
precision (binary tasks only; the positive class is the second label, id 1)
are scikit-learn's `roc_auc_score` and `average_precision_score` of
`probabilities[:, 1]`, `None` when the targets hold one class only.
`format_metrics` lays the dict out as text tables.
"""

import numpy as np

from ulmfit_tf.thresholds import decide

CALIBRATION_BINS = 15
_EPSILON = 1e-7


def classification_metrics(probabilities, targets, problem_type="single_label", label_names=None, threshold=0.5):
    """Metrics of predicted probabilities against target ids (or values, for regression).

    Every problem type gives `count`. Single-label: `accuracy`, `error` (%),
    `loss` (cross-entropy), `label_names`, `per_class` (label name →
    `precision`, `recall`, `f1`, `support`), their `macro_*` (unweighted
    mean over all classes) and `weighted_*` (weighted by support) averages,
    `confusion_matrix` (rows are true labels, columns predicted, both in
    `label_names` order), `expected_calibration_error` (see
    `expected_calibration_error`) and, for two classes, `positive_label`,
    `roc_auc` and `average_precision`. Multi-label: `accuracy` (of every
    text-label decision), `error`, `loss`, `label_names`, `threshold`,
    `per_class` (a label is predicted when its probability reaches
    `threshold`, as `ulmfit_tf.thresholds.decide` decides), `micro_*` and
    `macro_*` precision, recall and F1.
    Regression: `mae`, `mse`, `rmse`, `pearson` and `spearman` (`None` for
    constant values; a list of one per output for several outputs).

    Args:
        probabilities: Float array `(texts, classes)`, the classifier's
            probabilities (its predictions for regression).
        targets: Integer class ids `(texts,)` for single-label, 0/1 array
            `(texts, labels)` for multi-label, floats for regression.
        problem_type: `"single_label"`, `"multi_label"` or `"regression"`.
        label_names: Optional list of class names in id order. Defaults to
            `"0"`, `"1"`, ...
        threshold: Float, the multi-label decision threshold; or one
            float a label (a classifier's `thresholds`).

    Returns:
        A dict of Python numbers, strings, lists and dicts.

    Example:

    >>> metrics = classification_metrics([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8]], [0, 0, 1], label_names=["neg", "pos"])
    >>> metrics["accuracy"], metrics["per_class"]["pos"]["precision"], metrics["confusion_matrix"]
    (0.6666666666666666, 0.5, [[1, 1], [0, 1]])
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    targets = np.asarray(targets)
    if problem_type == "regression":
        return _regression_metrics(probabilities.reshape(targets.shape), targets.astype(np.float64))
    names = [str(n) for n in label_names] if label_names else [str(i) for i in range(probabilities.shape[1])]
    if problem_type == "multi_label":
        return _multi_label_metrics(probabilities, targets > 0.5, names, threshold)
    return _single_label_metrics(probabilities, targets.astype(np.int64), names)


def expected_calibration_error(probabilities, targets, bins=CALIBRATION_BINS):
    """Expected calibration error of single-label probabilities (Guo et al., 2017).

    The confidence of a prediction is the probability of the predicted
    class. Predictions fall into `bins` equal-width confidence bins
    `(0, 1/bins], (1/bins, 2/bins], ..., ((bins-1)/bins, 1]`; the error is
    the mean over texts of `|accuracy - mean confidence|` of their bin.

    Args:
        probabilities: Float array `(texts, classes)`.
        targets: Integer class ids `(texts,)`.
        bins: Integer, the number of bins. Defaults to `15`.

    Returns:
        A float in [0, 1].

    Example:

    >>> round(expected_calibration_error([[0.9, 0.1], [0.3, 0.7]], [0, 0]), 4)  # (|1 - 0.9| + |0 - 0.7|) / 2
    0.4

    Reference:
        - [Guo et al., 2017](https://arxiv.org/abs/1706.04599)
    """
    rows = calibration_bins(probabilities, targets, bins)
    total = sum(count * abs(accuracy - confidence) for _, _, confidence, accuracy, count in rows)
    return float(total / sum(row[-1] for row in rows))


def calibration_bins(probabilities, targets, bins=CALIBRATION_BINS):
    """Per non-empty confidence bin `(low, high]`: `(low, high, mean confidence, accuracy, count)`.

    The bins of `expected_calibration_error`, and of the report's
    reliability diagram.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(targets)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.digitize(confidence, edges[1:-1], right=True)  # bin i holds (edges[i], edges[i + 1]]
    rows = []
    for index in np.unique(which):
        members = which == index
        rows.append((edges[index], edges[index + 1], confidence[members].mean(), correct[members].mean(),
                     int(members.sum())))
    return rows


def roc_auc(scores, positive):
    """Area under the ROC curve: the chance a positive scores above a negative (ties count half).

    Args:
        scores: Float array `(texts,)`, higher meaning more likely positive.
        positive: Boolean array `(texts,)`.

    Returns:
        A float, or `None` when `positive` holds one class only.

    Example:

    >>> roc_auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True])
    0.75
    """
    scores, positive = np.asarray(scores, dtype=np.float64), np.asarray(positive, dtype=bool)
    positives, negatives = int(positive.sum()), int((~positive).sum())
    if positives == 0 or negatives == 0:
        return None
    rank_sum = _average_ranks(scores)[positive].sum()
    return float((rank_sum - positives * (positives + 1) / 2) / (positives * negatives))


def average_precision(scores, positive):
    """Average precision: the precision at each distinct score, weighted by the recall it adds.

    Args:
        scores: Float array `(texts,)`, higher meaning more likely positive.
        positive: Boolean array `(texts,)`.

    Returns:
        A float, or `None` when there is no positive.

    Example:

    >>> round(average_precision([0.1, 0.4, 0.35, 0.8], [False, False, True, True]), 4)
    0.8333
    """
    scores, positive = np.asarray(scores, dtype=np.float64), np.asarray(positive, dtype=bool)
    if not positive.any():
        return None
    order = np.argsort(-scores, kind="mergesort")
    scores, positive = scores[order], positive[order]
    last = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]  # the last text of each distinct score
    true_positives = np.cumsum(positive)[last]
    precision = true_positives / (last + 1)
    recall = true_positives / true_positives[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def format_metrics(metrics):
    """The metrics as text: the single numbers, then a per-class table and the confusion matrix.

    Args:
        metrics: A dict from `classification_metrics`.

    Returns:
        A string of aligned columns.

    Example:

    >>> print(format_metrics({"accuracy": 0.75, "count": 4}))
    accuracy  0.7500
    count     4
    """
    scalars = [(name, value) for name, value in metrics.items() if not isinstance(value, (dict, list))]
    lines = _columns([[name, _number(value)] for name, value in scalars])
    per_class = metrics.get("per_class")
    if per_class:
        lines += [""] + _columns(
            [["label", "precision", "recall", "f1", "support"]]
            + [[name, *(_number(row[key]) for key in ("precision", "recall", "f1", "support"))]
               for name, row in per_class.items()]
        )
    matrix = metrics.get("confusion_matrix")
    if matrix:
        names = metrics["label_names"]
        lines += ["", "confusion matrix (rows: true label, columns: predicted)"] + _columns(
            [[""] + names] + [[name] + [str(n) for n in row] for name, row in zip(names, matrix)]
        )
    return "\n".join(lines)


def _single_label_metrics(probabilities, targets, names):
    count = len(targets)
    predicted = probabilities.argmax(axis=1)
    matrix = np.zeros((len(names), len(names)), dtype=np.int64)
    np.add.at(matrix, (targets, predicted), 1)
    true_positives = np.diag(matrix)
    precision, recall, f1 = _precision_recall_f1(true_positives, matrix.sum(axis=0), matrix.sum(axis=1))
    support = matrix.sum(axis=1)
    accuracy = float(true_positives.sum() / count)
    loss = -np.mean(np.log(probabilities[np.arange(count), targets] + _EPSILON))
    metrics = {
        "accuracy": accuracy,
        "error": 100 * (1 - accuracy),
        "loss": float(loss),
        "count": count,
        **_averages(precision, recall, f1, support, ("macro", "weighted")),
        "expected_calibration_error": expected_calibration_error(probabilities, targets),
    }
    if len(names) == 2:
        positive = targets == 1
        metrics.update(
            positive_label=names[1],
            roc_auc=roc_auc(probabilities[:, 1], positive),
            average_precision=average_precision(probabilities[:, 1], positive),
        )
    metrics.update(
        label_names=names,
        per_class=_per_class(names, precision, recall, f1, support),
        confusion_matrix=matrix.tolist(),
    )
    return metrics


def _multi_label_metrics(probabilities, truth, names, threshold):
    predicted = decide(probabilities, threshold)
    true_positives = (predicted & truth).sum(axis=0)
    precision, recall, f1 = _precision_recall_f1(true_positives, predicted.sum(axis=0), truth.sum(axis=0))
    micro = _precision_recall_f1(true_positives.sum(), predicted.sum(), truth.sum())
    accuracy = float((predicted == truth).mean())
    loss = -np.mean(truth * np.log(probabilities + _EPSILON) + (1 - truth) * np.log(1 - probabilities + _EPSILON))
    return {
        "accuracy": accuracy,
        "error": 100 * (1 - accuracy),
        "loss": float(loss),
        "count": len(truth),
        "threshold": threshold,
        **{f"micro_{name}": float(value) for name, value in zip(("precision", "recall", "f1"), micro)},
        **_averages(precision, recall, f1, truth.sum(axis=0), ("macro",)),
        "label_names": names,
        "per_class": _per_class(names, precision, recall, f1, truth.sum(axis=0)),
    }


def _regression_metrics(predictions, targets):
    error = predictions - targets
    outputs = zip(predictions.reshape(len(targets), -1).T, targets.reshape(len(targets), -1).T)
    pearson, spearman = zip(*[(_pearson(p, t), _pearson(_average_ranks(p), _average_ranks(t))) for p, t in outputs])
    mse = float((error**2).mean())
    return {
        "mae": float(np.abs(error).mean()),
        "mse": mse,
        "rmse": float(np.sqrt(mse)),
        "pearson": pearson[0] if len(pearson) == 1 else list(pearson),
        "spearman": spearman[0] if len(spearman) == 1 else list(spearman),
        "count": len(targets),
    }


def _precision_recall_f1(true_positives, predicted, support):
    true_positives, predicted, support = (np.asarray(a, dtype=np.float64) for a in (true_positives, predicted, support))
    precision = np.divide(true_positives, predicted, out=np.zeros_like(true_positives), where=predicted > 0)
    recall = np.divide(true_positives, support, out=np.zeros_like(true_positives), where=support > 0)
    both = predicted + support  # 2 tp + fp + fn
    f1 = np.divide(2 * true_positives, both, out=np.zeros_like(true_positives), where=both > 0)
    return precision, recall, f1


def _averages(precision, recall, f1, support, kinds):
    weights = {"macro": np.ones_like(precision), "weighted": np.asarray(support, dtype=np.float64)}
    averages = {}
    for kind in kinds:
        total = weights[kind].sum()
        for name, values in (("precision", precision), ("recall", recall), ("f1", f1)):
            averages[f"{kind}_{name}"] = float((values * weights[kind]).sum() / total) if total else 0.0
    return averages


def _per_class(names, precision, recall, f1, support):
    return {
        name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for name, p, r, f, s in zip(names, precision, recall, f1, support)
    }


def _average_ranks(values):
    """Ranks from 1, tied values sharing the mean of their ranks (scipy's `rankdata`)."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="mergesort")
    _, first, counts = np.unique(values[order], return_index=True, return_counts=True)
    ranks = np.empty(len(values))
    ranks[order] = np.repeat(first + (counts + 1) / 2, counts)
    return ranks


def _pearson(a, b):
    a, b = a - a.mean(), b - b.mean()
    denominator = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denominator) if denominator > 0 else None


def _number(value):
    if value is None:
        return "-"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _columns(rows):
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
