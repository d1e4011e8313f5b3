"""fit_classifier's class weights (on a skewed training set) and its calibration on the validation split."""

import numpy as np
import pytest

from tests.stages_test import language_model  # noqa: F401  (the tiny pretrained language model fixture)
from ulmfit_tf import datasets
from ulmfit_tf import stages
from ulmfit_tf.calibration import fit_temperature
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.labels import class_weights


@pytest.fixture(scope="module")
def skewed():
    data = datasets.load_rotten_tomatoes()
    names = data["label_names"]
    texts, labels = data["train"]["texts"], [names[i] for i in data["train"]["labels"]]
    fresh = [i for i, label in enumerate(labels) if label == "fresh"][:180]
    rotten = [i for i, label in enumerate(labels) if label == "rotten"][:18]
    chosen = sorted(fresh + rotten)
    test = data["test"]
    return (
        ([texts[i] for i in chosen], [labels[i] for i in chosen]),
        (test["texts"][:200], [names[i] for i in test["labels"][:200]]),
    )


def test_balanced_class_weights_raise_macro_f1_on_a_skewed_set(language_model, skewed):  # noqa: F811
    (texts, labels), test = skewed
    common = dict(batch_size=16, epochs=8, seed=3, verbose=0, calibrate=False, gradual_unfreezing=False)
    plain = stages.fit_classifier(language_model, texts, labels, **common)
    weighted = stages.fit_classifier(language_model, texts, labels, class_weight="balanced", **common)
    plain_f1, weighted_f1 = (stages.evaluate(model, *test)["macro_f1"] for model in (plain, weighted))
    assert weighted_f1 > plain_f1 + 0.05, (plain_f1, weighted_f1)
    # The rare class is predicted more often once it weighs more.
    rotten = [stages.predict(model, test[0])[0].count("rotten") for model in (plain, weighted)]
    assert rotten[1] > rotten[0]


def test_class_weights_follow_scikit_learns_balanced_rule():
    from sklearn.utils.class_weight import compute_class_weight

    labels = ["a"] * 7 + ["b"] * 2 + ["c"]
    expected = compute_class_weight("balanced", classes=np.array(["a", "b", "c"]), y=np.array(labels))
    assert class_weights("balanced", labels, ["a", "b", "c"]) == pytest.approx(dict(enumerate(expected)))
    assert class_weights({"b": 4}, labels, ["a", "b", "c"]) == {0: 1.0, 1: 4.0, 2: 1.0}
    assert class_weights(None, labels, ["a", "b", "c"]) is None


def test_calibration_on_the_validation_split(language_model, skewed):  # noqa: F811
    (texts, labels), (test_texts, test_labels) = skewed
    validation = (test_texts[:100], test_labels[:100])
    classifier = stages.fit_classifier(
        language_model, texts[:64], labels[:64], validation=validation, batch_size=16, epochs=1, verbose=0
    )
    uncalibrated = classifier.predict(validation[0], verbose=0)
    assert classifier.temperature == pytest.approx(
        fit_temperature(uncalibrated, classifier.encode_targets(validation[1])), rel=1e-6
    )
    assert classifier.temperature != 1.0
    not_calibrated = stages.fit_classifier(
        language_model, texts[:64], labels[:64], validation=validation, batch_size=16, epochs=1, verbose=0,
        calibrate=False,
    )
    assert not_calibrated.temperature == 1.0


def test_bad_class_weights_are_refused_before_training(language_model, skewed):  # noqa: F811
    (texts, labels), _ = skewed
    with pytest.raises(UserInputError, match=r"^Argument `class_weight` must name classes of the labels "
                       r"\(fresh, rotten\)\. Received: 'positive'$"):
        stages.fit_classifier(language_model, texts, labels, class_weight={"positive": 2.0}, verbose=0)
    with pytest.raises(UserInputError, match=r"^Argument `class_weight` must be None for a multi-label"):
        stages.fit_classifier(
            language_model, texts[:4], [["fresh"], ["rotten"], ["fresh"], ["fresh"]], problem_type="multi_label",
            class_weight="balanced", verbose=0,
        )


def test_evaluate_shows_the_calibration_error_before_and_after(language_model, skewed):  # noqa: F811
    (texts, labels), (test_texts, test_labels) = skewed
    classifier = stages.fit_classifier(
        language_model, texts[:64], labels[:64], validation=(test_texts[:100], test_labels[:100]), batch_size=16,
        epochs=1, verbose=0,
    )
    metrics = stages.evaluate(classifier, test_texts[100:], test_labels[100:])
    logits = classifier.predict(test_texts[100:], verbose=0)
    targets = classifier.encode_targets(test_labels[100:])
    raw = np.exp(logits - logits.max(1, keepdims=True))
    raw /= raw.sum(1, keepdims=True)
    from ulmfit_tf.metrics import expected_calibration_error

    assert metrics["temperature"] == classifier.temperature
    assert metrics["expected_calibration_error_uncalibrated"] == pytest.approx(
        expected_calibration_error(raw, targets), abs=1e-6)
    scaled = np.exp(logits / classifier.temperature - (logits / classifier.temperature).max(1, keepdims=True))
    scaled /= scaled.sum(1, keepdims=True)
    assert metrics["expected_calibration_error"] == pytest.approx(expected_calibration_error(scaled, targets), abs=1e-6)
