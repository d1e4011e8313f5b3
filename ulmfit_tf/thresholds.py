"""Multi-label decisions: one threshold a label, tuned on held-out texts, and the top-k rule.

A multi-label classifier gives each label its own sigmoid probability; a
label is predicted when its probability reaches that label's threshold.
One threshold of 0.5 for every label is rarely best: rare labels get low
probabilities. `tune_thresholds` picks, for each label, the threshold that
maximises its F1 on the validation split; the classifier keeps them in its
config, so every export applies the same decisions.
"""

import numpy as np

DEFAULT_THRESHOLD = 0.5


def tune_thresholds(probabilities, truth):
    """For each label, the threshold maximising its F1 on these texts.

    Candidates are the midpoints between consecutive distinct
    probabilities of the label (and 0.5): every distinct decision the data
    allows. Ties go to the candidate nearest 0.5; a label with no positive
    text keeps 0.5.

    Args:
        probabilities: Float array `(texts, labels)`, sigmoid probabilities.
        truth: 0/1 array `(texts, labels)`.

    Returns:
        A list of floats, one a label.

    Example:

    >>> [round(t, 3) for t in tune_thresholds([[0.2, 0.9], [0.35, 0.7], [0.1, 0.6]], [[1, 1], [1, 0], [0, 0]])]
    [0.15, 0.8]
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    truth = np.asarray(truth) > 0.5
    if probabilities.ndim != 2 or probabilities.shape != truth.shape or len(probabilities) == 0:
        raise ValueError(
            "Argument `truth` must be a 0/1 array of the probabilities' non-empty (texts, labels) shape. "
            f"Received: probabilities.shape={probabilities.shape}, truth.shape={truth.shape}"
        )
    return [_best_threshold(probabilities[:, j], truth[:, j]) for j in range(probabilities.shape[1])]


def decide(probabilities, thresholds=DEFAULT_THRESHOLD, top_k=None):
    """Which labels each text gets: those at or above their threshold, at most the `top_k` most probable.

    Args:
        probabilities: Float array `(texts, labels)`.
        thresholds: A float, or one float a label.
        top_k: Optional integer: keep only the `top_k` most probable of
            the labels at or above their threshold (`None` keeps all).

    Returns:
        A boolean array `(texts, labels)`.

    Example:

    >>> decide([[0.9, 0.6, 0.2]], thresholds=0.5, top_k=1).tolist()
    [[True, False, False]]
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    chosen = probabilities >= np.asarray(thresholds, dtype=np.float64)
    if top_k is not None:
        if not isinstance(top_k, (int, np.integer)) or top_k < 1:
            raise ValueError(f"Argument `top_k` must be a positive integer. Received: top_k={top_k!r}")
        # The most probable of the chosen labels.
        ranks = np.argsort(np.argsort(-np.where(chosen, probabilities, -np.inf), axis=1, kind="stable"), axis=1)
        chosen &= ranks < top_k
    return chosen


def check_decision_settings(temperature, thresholds, problem_type, num_classes):
    """A classifier's `temperature` and `thresholds`, checked: `(float, list of floats or None)`."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
        raise ValueError(f"Argument `temperature` must be a number > 0. Received: temperature={temperature!r}")
    if thresholds is None:
        return float(temperature), None
    values = np.asarray(thresholds, dtype=np.float64) if np.ndim(thresholds) == 1 else None
    if (
        problem_type != "multi_label" or values is None or len(values) != num_classes
        or not ((values >= 0) & (values <= 1)).all()
    ):
        raise ValueError(
            f"Argument `thresholds` must be one number in [0, 1] for each of the {num_classes} labels of a "
            f"multi-label classifier. Received: thresholds={thresholds!r}, problem_type={problem_type!r}"
        )
    return float(temperature), [float(v) for v in values]


def _best_threshold(scores, positive):
    if not positive.any():
        return DEFAULT_THRESHOLD
    values = np.unique(scores)
    candidates = np.unique(np.r_[(values[:-1] + values[1:]) / 2, values[0] / 2, (values[-1] + 1) / 2, 0.5])
    predicted = scores[None, :] >= candidates[:, None]
    true_positives = (predicted & positive).sum(1)
    f1 = 2 * true_positives / (predicted.sum(1) + positive.sum())
    best = np.flatnonzero(np.isclose(f1, f1.max(), rtol=0, atol=1e-12))
    return float(candidates[best[np.argmin(np.abs(candidates[best] - 0.5))]])
