import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from ulmfit_tf.calibration import BOUNDS
from ulmfit_tf.calibration import fit_temperature
from ulmfit_tf.calibration import negative_log_likelihood
from ulmfit_tf.metrics import expected_calibration_error


def over_confident(n=4000, classes=3, seed=0):
    """Logits of a model whose true temperature is 2.5: labels drawn from softmax(logits / 2.5)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 4, size=(n, classes))
    scaled = np.exp(logits / 2.5)
    probabilities = scaled / scaled.sum(1, keepdims=True)
    targets = np.array([rng.choice(classes, p=p) for p in probabilities])
    return logits, targets


def softmax(logits):
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_the_fitted_temperature_is_scipys_minimum_and_finds_the_true_one():
    logits, targets = over_confident()
    temperature = fit_temperature(logits, targets)
    reference = minimize_scalar(
        lambda t: negative_log_likelihood(logits / t, targets), bounds=BOUNDS, method="bounded",
        options={"xatol": 1e-9},
    ).x
    assert temperature == pytest.approx(reference, rel=1e-5)
    assert temperature == pytest.approx(2.5, rel=0.1)
    before = expected_calibration_error(softmax(logits), targets)
    after = expected_calibration_error(softmax(logits / temperature), targets)
    assert after < before / 3 and after < 0.03
    np.testing.assert_array_equal(softmax(logits / temperature).argmax(1), logits.argmax(1))


def test_negative_log_likelihood_is_the_cross_entropy():
    logits = np.array([[2.0, 0.5, -1.0], [0.0, 3.0, 1.0]])
    p = softmax(logits)
    assert negative_log_likelihood(logits, [0, 2]) == pytest.approx(-(np.log(p[0, 0]) + np.log(p[1, 2])) / 2)
    sigmoid = 1 / (1 + np.exp(-logits))
    truth = np.array([[1, 0, 1], [0, 1, 0]])
    expected = -np.mean(truth * np.log(sigmoid) + (1 - truth) * np.log(1 - sigmoid))
    assert negative_log_likelihood(logits, truth, "multi_label") == pytest.approx(expected)


def test_multi_label_and_under_confident_models():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 1, size=(3000, 4))
    truth = (rng.random((3000, 4)) < 1 / (1 + np.exp(-3 * logits))).astype(int)  # true temperature 1/3
    assert fit_temperature(logits, truth, "multi_label") == pytest.approx(1 / 3, rel=0.1)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"^Argument `problem_type` must be 'single_label' or 'multi_label'"):
        fit_temperature([[1.0]], [0.5], "regression")
    with pytest.raises(ValueError, match=r"Received: logits.shape=\(2, 2\), 3 targets$"):
        fit_temperature([[1.0, 0.0], [0.0, 1.0]], [0, 1, 1])
    with pytest.raises(ValueError, match=r"^Argument `targets` must hold class ids in \[0, 2\). Received: ids from 0 to 2$"):
        fit_temperature([[1.0, 0.0], [0.0, 1.0]], [0, 2])
