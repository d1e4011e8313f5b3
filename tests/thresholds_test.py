import numpy as np
import pytest
from sklearn.metrics import f1_score

from ulmfit_tf.thresholds import decide
from ulmfit_tf.thresholds import tune_thresholds


def test_each_labels_threshold_reaches_the_best_f1_any_threshold_can():
    rng = np.random.default_rng(0)
    truth = (rng.random((300, 5)) < [0.5, 0.2, 0.05, 0.3, 0.0]).astype(int)
    probabilities = np.clip(0.3 * truth + rng.random((300, 5)) * 0.6, 0, 1)
    thresholds = tune_thresholds(probabilities, truth)
    for j, threshold in enumerate(thresholds):
        if truth[:, j].sum() == 0:
            assert threshold == 0.5
            continue
        ours = f1_score(truth[:, j], probabilities[:, j] >= threshold)
        # Brute force: every probability of the label as the threshold, and a little above each.
        grid = np.r_[probabilities[:, j], probabilities[:, j] + 1e-9]
        best = max(f1_score(truth[:, j], probabilities[:, j] >= t) for t in grid)
        assert ours == pytest.approx(best, abs=1e-12)
        assert ours >= f1_score(truth[:, j], probabilities[:, j] >= 0.5)
    assert sum(t != 0.5 for t in thresholds) == 4  # every label with positives moved from the default


def test_decide_applies_thresholds_then_top_k():
    probabilities = np.array([[0.9, 0.6, 0.7, 0.1], [0.2, 0.3, 0.1, 0.4]])
    assert decide(probabilities).tolist() == [[True, True, True, False], [False, False, False, False]]
    assert decide(probabilities, [0.95, 0.5, 0.5, 0.35]).tolist() == [
        [False, True, True, False], [False, False, False, True]]
    assert decide(probabilities, 0.5, top_k=2).tolist() == [[True, False, True, False], [False] * 4]
    assert decide(probabilities, 0.0, top_k=1).tolist() == [[True, False, False, False], [False, False, False, True]]
    with pytest.raises(ValueError, match=r"^Argument `top_k` must be a positive integer. Received: top_k=0$"):
        decide(probabilities, top_k=0)
    with pytest.raises(ValueError, match=r"Received: probabilities.shape=\(2, 4\), truth.shape=\(2, 3\)$"):
        tune_thresholds(probabilities, [[1, 0, 0], [0, 1, 0]])
