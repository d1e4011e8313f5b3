import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as sk

from ulmfit_tf.metrics import classification_metrics
from ulmfit_tf.metrics import expected_calibration_error
from ulmfit_tf.metrics import format_metrics

NAMES = ["ant", "bee", "cat", "dog"]


def softmax_rows(rng, count, classes):
    logits = rng.normal(size=(count, classes)) * 2
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def test_single_label_numbers_match_scikit_learn_with_a_class_never_predicted():
    rng = np.random.default_rng(0)
    probabilities = softmax_rows(rng, 200, 4)
    probabilities[:, 3] = probabilities[:, :3].min(axis=1) / 2  # "dog" is never the most probable: its precision is 0/0, reported as 0
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    targets = rng.integers(0, 4, size=200)
    predicted = probabilities.argmax(axis=1)
    assert 3 not in predicted and 3 in targets
    metrics = classification_metrics(probabilities, targets, label_names=NAMES)

    labels = list(range(4))
    precision, recall, f1, support = sk.precision_recall_fscore_support(
        targets, predicted, labels=labels, zero_division=0
    )
    assert metrics["label_names"] == NAMES and list(metrics["per_class"]) == NAMES
    for k, name in enumerate(NAMES):
        row = metrics["per_class"][name]
        assert row["precision"] == pytest.approx(precision[k])
        assert row["recall"] == pytest.approx(recall[k])
        assert row["f1"] == pytest.approx(f1[k])
        assert row["support"] == support[k]
    assert metrics["per_class"]["dog"]["precision"] == metrics["per_class"]["dog"]["f1"] == 0.0
    for average in ("macro", "weighted"):
        expected = sk.precision_recall_fscore_support(
            targets, predicted, labels=labels, average=average, zero_division=0
        )
        for name, value in zip(("precision", "recall", "f1"), expected[:3]):
            assert metrics[f"{average}_{name}"] == pytest.approx(value)
    assert metrics["confusion_matrix"] == sk.confusion_matrix(targets, predicted, labels=labels).tolist()
    assert metrics["accuracy"] == pytest.approx(sk.accuracy_score(targets, predicted))
    assert metrics["loss"] == pytest.approx(sk.log_loss(targets, probabilities, labels=labels), rel=1e-5)
    assert metrics["count"] == 200 and metrics["error"] == pytest.approx(100 * (1 - metrics["accuracy"]))
    assert "roc_auc" not in metrics  # binary tasks only


def test_binary_roc_auc_and_average_precision_match_scikit_learn_with_ties():
    rng = np.random.default_rng(1)
    positive = np.round(rng.uniform(size=300), 1)  # few distinct scores: many ties
    probabilities = np.stack([1 - positive, positive], axis=1)
    targets = (rng.uniform(size=300) < positive).astype(int)
    metrics = classification_metrics(probabilities, targets, label_names=["ham", "spam"])
    assert metrics["positive_label"] == "spam"
    assert metrics["roc_auc"] == pytest.approx(sk.roc_auc_score(targets, positive))
    assert metrics["average_precision"] == pytest.approx(sk.average_precision_score(targets, positive))
    one_class = classification_metrics(probabilities[:5], np.zeros(5, int))
    assert one_class["roc_auc"] is None and one_class["average_precision"] is None


def test_expected_calibration_error_by_hand():
    # 15 bins of width 1/15: confidences 0.95 and 0.97 share the last bin, 0.55 and 0.58 the ninth,
    # 0.45 is alone in the seventh.
    probabilities = [[0.95, 0.05, 0.0], [0.03, 0.97, 0.0], [0.55, 0.45, 0.0], [0.42, 0.58, 0.0], [0.45, 0.30, 0.25]]
    targets = [0, 0, 0, 0, 2]  # right, wrong, right, wrong, wrong
    last = abs(1 / 2 - (0.95 + 0.97) / 2)
    ninth = abs(1 / 2 - (0.55 + 0.58) / 2)
    seventh = abs(0 - 0.45)
    expected = (2 * last + 2 * ninth + seventh) / 5
    assert expected_calibration_error(probabilities, targets) == pytest.approx(expected)
    assert classification_metrics(probabilities, targets)["expected_calibration_error"] == pytest.approx(expected)


def test_multi_label_per_label_micro_and_macro_f1_match_scikit_learn():
    rng = np.random.default_rng(2)
    probabilities = rng.uniform(size=(100, 3))
    probabilities[:, 2] *= 0.4  # never above the 0.5 threshold
    truth = (rng.uniform(size=(100, 3)) < 0.4).astype(int)
    predicted = (probabilities > 0.5).astype(int)
    metrics = classification_metrics(probabilities, truth, "multi_label", label_names=["a", "b", "c"])
    precision, recall, f1, support = sk.precision_recall_fscore_support(truth, predicted, zero_division=0)
    for k, name in enumerate("abc"):
        assert [metrics["per_class"][name][key] for key in ("precision", "recall", "f1")] == pytest.approx(
            [precision[k], recall[k], f1[k]]
        )
        assert metrics["per_class"][name]["support"] == support[k]
    for average in ("micro", "macro"):
        assert metrics[f"{average}_f1"] == pytest.approx(sk.f1_score(truth, predicted, average=average, zero_division=0))
    assert metrics["accuracy"] == pytest.approx((predicted == truth).mean())


def test_regression_errors_and_correlations_match_scikit_learn_and_scipy():
    rng = np.random.default_rng(3)
    targets = np.round(rng.normal(size=80), 1)  # ties for the ranks
    predictions = targets + rng.normal(scale=0.5, size=80)
    metrics = classification_metrics(predictions[:, None], targets, "regression")
    assert metrics["mae"] == pytest.approx(sk.mean_absolute_error(targets, predictions))
    assert metrics["mse"] == pytest.approx(sk.mean_squared_error(targets, predictions))
    assert metrics["rmse"] == pytest.approx(np.sqrt(sk.mean_squared_error(targets, predictions)))
    assert metrics["pearson"] == pytest.approx(stats.pearsonr(predictions, targets)[0])
    assert metrics["spearman"] == pytest.approx(stats.spearmanr(predictions, targets)[0])
    assert classification_metrics(np.ones(4), np.arange(4.0), "regression")["pearson"] is None
    two = classification_metrics(np.stack([predictions, -predictions], 1), np.stack([targets, targets], 1), "regression")
    assert two["spearman"] == pytest.approx([metrics["spearman"], -metrics["spearman"]])


def test_format_metrics_shows_the_numbers_per_class_and_the_confusion_matrix():
    metrics = classification_metrics([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8]], [0, 0, 1], label_names=["neg", "pos"])
    lines = format_metrics(metrics).splitlines()
    assert lines[0].split() == ["accuracy", "0.6667"]
    assert ["roc_auc", "1.0000"] in [line.split() for line in lines]
    assert ["label", "precision", "recall", "f1", "support"] in [line.split() for line in lines]
    assert ["pos", "0.5000", "1.0000", "0.6667", "1"] in [line.split() for line in lines]
    assert lines[-3:] == ["     neg  pos", "neg  1    1", "pos  0    1"]
