import json

import keras
import numpy as np
import pytest
from sklearn import metrics as sk

from tests.cli_test import run
from tests.cli_test import write_csv
from tests.models.ulmfit_text_classifier_test import LABELS
from tests.models.ulmfit_text_classifier_test import TEXTS
from tests.models.ulmfit_text_classifier_test import language_model
from tests.models.ulmfit_text_classifier_test import tokenizer  # noqa: F401  (a fixture)
from ulmfit_tf import stages
from ulmfit_tf.model_directory import save_model_directory
from ulmfit_tf.models import ULMFiTTextClassifier


@pytest.fixture(scope="module")
def classifier_folder(tokenizer, tmp_path_factory):
    keras.utils.set_random_seed(3)
    model = ULMFiTTextClassifier.from_language_model(
        language_model(tokenizer.vocabulary_size()), 2, preprocessor=tokenizer, label_names=["fresh", "rotten"],
        seed=1, dropout_multiplier=0.2,
    )
    model.compile(optimizer=keras.optimizers.Adam(0.02))
    model.fit(TEXTS, LABELS, batch_size=8, epochs=2, verbose=0)
    return model, str(save_model_directory(model, tmp_path_factory.mktemp("cli") / "classifier", "classifier"))


def test_evaluate_json_prints_one_object_scripts_can_read(classifier_folder, tmp_path, capsys):
    model, folder = classifier_folder
    texts, labels = TEXTS[:40], LABELS[:40]
    data = write_csv(tmp_path / "test.csv", list(zip(texts, labels)))
    code, out, err = run(["evaluate", "--model", folder, "--data", data, "--json"], capsys)
    assert code == 0, err
    metrics = json.loads(out)
    assert metrics == stages.evaluate(model, texts, labels)

    _, probabilities = stages.predict(model, texts)
    truth = np.array([["fresh", "rotten"].index(label) for label in labels])
    predicted = probabilities.argmax(axis=1)
    assert metrics["label_names"] == ["fresh", "rotten"] and metrics["count"] == 40
    assert metrics["accuracy"] == pytest.approx(sk.accuracy_score(truth, predicted))
    precision, recall, f1, support = sk.precision_recall_fscore_support(truth, predicted, labels=[0, 1], zero_division=0)
    for k, name in enumerate(["fresh", "rotten"]):
        assert metrics["per_class"][name] == pytest.approx(
            {"precision": precision[k], "recall": recall[k], "f1": f1[k], "support": support[k]}
        )
    assert metrics["macro_f1"] == pytest.approx(sk.f1_score(truth, predicted, average="macro"))
    assert metrics["weighted_f1"] == pytest.approx(sk.f1_score(truth, predicted, average="weighted"))
    assert metrics["confusion_matrix"] == sk.confusion_matrix(truth, predicted).tolist()
    assert metrics["roc_auc"] == pytest.approx(sk.roc_auc_score(truth, probabilities[:, 1]))
    assert metrics["average_precision"] == pytest.approx(sk.average_precision_score(truth, probabilities[:, 1]))
    assert 0 <= metrics["expected_calibration_error"] <= 1

    code, out, err = run(["evaluate", "--model", folder, "--data", data], capsys)
    assert code == 0, err
    rows = [line.split() for line in out.splitlines()]
    assert ["accuracy", f"{metrics['accuracy']:.4f}"] in rows and ["count", "40"] in rows
    assert ["label", "precision", "recall", "f1", "support"] in rows
    assert ["fresh", *(str(n) for n in metrics["confusion_matrix"][0])] in rows
