"""Multi-label end to end on the command line: files read with a separator or one column a label, thresholds."""

import csv
import json

import keras
import numpy as np
import pytest
from sklearn import metrics as sk

from tests.cli_test import run
from tests.models.ulmfit_text_classifier_test import TEXTS
from tests.models.ulmfit_text_classifier_test import language_model
from tests.models.ulmfit_text_classifier_test import tokenizer  # noqa: F401  (a fixture)
from ulmfit_tf import cli
from ulmfit_tf import stages
from ulmfit_tf.batch_predict import class_labels
from ulmfit_tf.model_directory import load_model_directory
from ulmfit_tf.model_directory import save_model_directory
from ulmfit_tf.models import AWDLSTMBackbone
from ulmfit_tf.models import ULMFiTLanguageModel
from ulmfit_tf.models import ULMFiTTextClassifier

NAMES = ["moving", "plot"]
TRAIN = ["--batch-size", "8", "--epochs", "2", "--bptt", "8", "--max-len", "16", "--quiet"]


def tags(text):
    """The labels of a text: `moving` for the good reviews, `plot` when it names the plot (some have neither)."""
    return [name for name, word in (("moving", "moving"), ("plot", "plot")) if word in text.split()]


def write_rows(path, header, rows, delimiter=","):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def separated(path, texts, separator="|"):
    return write_rows(path, ["text", "genres"], [(text, separator.join(tags(text))) for text in texts])


def columns(path, texts, names=NAMES):
    return write_rows(path, ["text", *names], [(text, *(int(name in tags(text)) for name in names)) for text in texts])


@pytest.fixture(scope="module")
def folders(tokenizer, tmp_path_factory):  # noqa: F811
    root = tmp_path_factory.mktemp("multi_label")
    keras.utils.set_random_seed(0)
    backbone = AWDLSTMBackbone(tokenizer.vocabulary_size(), embedding_dim=8, hidden_dim=12, num_layers=2)
    lm = save_model_directory(ULMFiTLanguageModel(backbone, preprocessor=tokenizer), root / "lm", "language_model")
    return {"root": root, "lm": str(lm)}


@pytest.fixture(scope="module")
def trained(folders):
    """A classifier fitted by `fit-classifier` on a file of `|`-joined labels, calibrated on another."""
    root = folders["root"]
    train, validation = separated(root / "train.csv", TEXTS[:32]), separated(root / "valid.csv", TEXTS[32:])
    output = str(root / "classifier")
    code = cli.main([
        "fit-classifier", "--language-model", folders["lm"], "--train", train, "--validation", validation,
        "--label-column", "genres", "--problem-type", "multi_label", "--output", output, *TRAIN,
    ])
    assert code == 0
    return output, load_model_directory(output, "classifier")


def test_fit_classifier_reads_joined_labels_and_keeps_tuned_thresholds(trained):
    _, classifier = trained
    assert classifier.problem_type == "multi_label" and classifier.label_names == NAMES
    # Tuned on the validation file as `tune_thresholds` tunes them.
    from ulmfit_tf.thresholds import tune_thresholds

    probabilities = stages.predict(classifier, TEXTS[32:])[1]
    truth = np.array([[name in tags(text) for name in NAMES] for text in TEXTS[32:]], "float32")
    assert classifier.thresholds == pytest.approx(tune_thresholds(probabilities, truth), abs=1e-6)


def test_label_columns_name_the_labels_in_their_order(folders, tmp_path, capsys):
    data = columns(tmp_path / "train.csv", TEXTS[:16], ["plot", "moving", "never"])
    output = str(tmp_path / "classifier")
    code, out, err = run([
        "fit-classifier", "--language-model", folders["lm"], "--train", data, "--label-columns", "plot,moving,never",
        "--problem-type", "multi_label", "--output", output, "--batch-size", "8", "--epochs", "1", "--quiet",
    ], capsys)
    assert code == 0, err
    classifier = load_model_directory(output, "classifier")
    assert classifier.label_names == ["plot", "moving", "never"] and classifier.num_classes == 3


def read_output(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def expected_labels(probabilities, thresholds, top_k=None):
    """Independently: the labels at or above their threshold, most probable first, at most `top_k`."""
    rows = []
    for row in probabilities:
        chosen = sorted((-p, i) for i, p in enumerate(row) if p >= thresholds[i])[:top_k]
        rows.append("|".join(NAMES[i] for _, i in chosen))
    return rows


def test_predict_lists_every_label_above_its_threshold(trained, tmp_path, capsys):
    folder, classifier = trained
    texts = TEXTS[:20]
    probabilities = stages.predict(classifier, texts)[1]
    data = write_rows(tmp_path / "texts.csv", ["text"], [(text,) for text in texts])
    cases = {
        "tuned": ([], classifier.thresholds, None),
        "threshold": (["--threshold", "0.5"], [0.5, 0.5], None),
        "all": (["--threshold", "0"], [0.0, 0.0], None),
        "top-1": (["--threshold", "0", "--top-k", "1"], [0.0, 0.0], 1),
    }
    for name, (options, thresholds, top_k) in cases.items():
        output = str(tmp_path / f"{name}.csv")
        code, _, err = run(["predict", "--model", folder, "--data", data, "--output", output, *options], capsys)
        assert code == 0, err
        rows = read_output(output)
        assert [row["label"] for row in rows] == expected_labels(probabilities, thresholds, top_k), name
        np.testing.assert_allclose([[float(row["p_moving"]), float(row["p_plot"])] for row in rows], probabilities,
                                   atol=1e-6)
    assert {row["label"] for row in read_output(tmp_path / "all.csv")} <= {"moving|plot", "plot|moving"}
    code, out, err = run(["predict", "--model", folder, "--text", TEXTS[0], "--threshold", "0",
                          "--label-separator", ";"], capsys)
    assert code == 0, err
    assert out.splitlines()[1].split("\t")[0] in ("moving;plot", "plot;moving")


def test_evaluate_reads_the_file_as_the_model_does(trained, tmp_path, capsys):
    folder, classifier = trained
    texts = TEXTS[:40]
    data = separated(tmp_path / "test.csv", texts)
    code, out, err = run(["evaluate", "--model", folder, "--data", data, "--label-column", "genres", "--json"], capsys)
    assert code == 0, err
    metrics = json.loads(out)
    probabilities = stages.predict(classifier, texts)[1]
    truth = np.array([[name in tags(text) for name in NAMES] for text in texts])
    predicted = classifier.decide(probabilities)
    assert metrics["micro_f1"] == pytest.approx(sk.f1_score(truth, predicted, average="micro", zero_division=0))
    assert metrics["macro_f1"] == pytest.approx(sk.f1_score(truth, predicted, average="macro", zero_division=0))
    # One 0/1 column a label reads the same.
    data = columns(tmp_path / "test_columns.csv", texts, ["plot", "moving"])
    code, out, err = run(["evaluate", "--model", folder, "--data", data, "--label-columns", "plot,moving", "--json"],
                         capsys)
    assert code == 0, err
    assert json.loads(out)["micro_f1"] == pytest.approx(metrics["micro_f1"])


def test_bad_multi_label_input_is_one_line_before_training(folders, trained, tmp_path, capsys):
    folder, _ = trained
    output = str(tmp_path / "never")
    bad_flag = write_rows(tmp_path / "flags.csv", ["text", "plot"], [("a plot", "1"), ("dull", "yes")])
    plot_only = write_rows(tmp_path / "plot_only.csv", ["text", "plot"], [("a plot", "1")])
    unknown = separated(tmp_path / "unknown.csv", ["a plot"], "|")
    with open(unknown, "a", encoding="utf-8") as f:
        f.write("fine,plot|horror\n")
    cases = [
        (["fit-classifier", "--language-model", folders["lm"], "--train", bad_flag, "--label-columns", "plot",
          "--problem-type", "multi_label", "--output", output],
         f"{bad_flag}, line 3, column 'plot': 'yes' is not 0 or 1; a label column holds 1 where the text has that "
         "label, else 0."),
        (["fit-classifier", "--language-model", folders["lm"], "--train", unknown, "--label-separator", "|",
          "--output", output],
         "--label-separator and --label-columns read multi-label files, but --problem-type is single_label."),
        (["evaluate", "--model", folder, "--data", unknown, "--label-column", "genres"],
         f"{unknown}: labels the model does not know: 'horror'; its labels are moving, plot."),
        (["evaluate", "--model", folder, "--data", plot_only, "--label-columns", "plot"],
         "--label-columns: no column for the model's labels moving."),
    ]
    for argv, message in cases:
        code, out, err = run(argv, capsys)
        assert code == 2, (argv, out, err)
        assert err.strip().splitlines()[-1].endswith(message), err
    assert not (tmp_path / "never").exists()
    for option, value in (("--threshold", "1.5"), ("--top-k", "0")):
        with pytest.raises(SystemExit) as exit_:
            cli.main(["predict", "--model", folder, "--text", "a plot", option, value])
        assert exit_.value.code == 2
    assert "argument --threshold: must be a number from 0 to 1 (got '1.5')" in capsys.readouterr().err


def test_stages_predict_threshold_and_top_k(trained):
    _, classifier = trained
    probabilities = stages.predict(classifier, TEXTS[:6])[1]
    assert stages.predict(classifier, TEXTS[:6], threshold=0.0, top_k=1)[0] == [
        [NAMES[int(row.argmax())]] for row in probabilities
    ]
    assert stages.predict(classifier, TEXTS[:6], threshold=1.0)[0] == [[] for _ in range(6)]


def test_a_threshold_is_refused_for_a_single_label_classifier(tokenizer):  # noqa: F811
    model = ULMFiTTextClassifier.from_language_model(
        language_model(tokenizer.vocabulary_size()), 2, preprocessor=tokenizer, label_names=["a", "b"], seed=1
    )
    with pytest.raises(ValueError, match=r"^Argument `threshold` decides multi-label classifiers\. "
                       r"Received: threshold=0\.5 for a single_label classifier$"):
        stages.predict(model, ["a plot"], threshold=0.5)
    labels, probabilities = stages.predict(model, ["a plot"], top_k=2)
    assert labels == [["a", "b"] if probabilities[0, 0] >= probabilities[0, 1] else ["b", "a"]]


def test_class_labels_top_k_and_thresholds():
    probabilities = np.array([[0.7, 0.9, 0.1], [0.2, 0.3, 0.4]], "float32")
    names = ["a", "b", "c"]
    assert class_labels(probabilities, names, "multi_label", [0.5, 0.95, 0.5]) == [["a"], []]
    assert class_labels(probabilities, names, "multi_label", 0.25) == [["b", "a"], ["c", "b"]]
    assert class_labels(probabilities, names, "multi_label", 0.25, top_k=1) == [["b"], ["c"]]
    assert class_labels(probabilities, names, "single_label", top_k=2) == [["b", "a"], ["c", "b"]]
    assert class_labels(probabilities, names, "single_label") == ["b", "c"]


def test_report_reads_the_file_as_the_model_does(trained, tmp_path, capsys):
    folder, classifier = trained
    data = separated(tmp_path / "test.csv", TEXTS[:24])
    output = str(tmp_path / "report.html")
    code, out, err = run(["report", "--model", folder, "--data", data, "--label-column", "genres", "--output", output,
                          "--top-k", "2"], capsys)
    assert code == 0, err
    metrics = stages.evaluate(classifier, TEXTS[:24], [tags(text) for text in TEXTS[:24]])
    assert out.startswith(f"wrote {output}: ") and f"macro_f1 {metrics['macro_f1']:.4f}" in out


def test_fit_classifier_trains_a_regression_on_numbers(folders, tmp_path, capsys):
    scores = write_rows(tmp_path / "scores.csv", ["text", "score"], [(text, len(text.split())) for text in TEXTS])
    output = str(tmp_path / "regression")
    code, out, err = run([
        "fit-classifier", "--language-model", folders["lm"], "--train", scores, "--label-column", "score",
        "--problem-type", "regression", "--output", output, "--batch-size", "8", "--epochs", "1", "--quiet",
    ], capsys)
    assert code == 0, err
    assert load_model_directory(output, "classifier").problem_type == "regression"
    words = write_rows(tmp_path / "words.csv", ["text", "score"], [("a plot", "3"), ("dull", "high")])
    code, out, err = run([
        "fit-classifier", "--language-model", folders["lm"], "--train", words, "--label-column", "score",
        "--problem-type", "regression", "--output", str(tmp_path / "never"),
    ], capsys)
    assert code == 2 and err.strip().endswith(f"{words}: a regression label is a number, not 'high'.")


def test_export_prints_the_thresholds_an_app_applies(trained, tmp_path, capsys):
    folder, classifier = trained
    output = str(tmp_path / "tags.tflite")
    code, out, err = run(["export", "--model", folder, "--tflite", output, "--quantization", "none"], capsys)
    assert code == 0, err
    shown = ", ".join(f"{name} {value:.4f}" for name, value in zip(NAMES, classifier.thresholds))
    assert ["thresholds", *shown.split()] in [line.split() for line in out.splitlines()]


def test_pipeline_trains_and_exports_a_multi_label_classifier(folders, tmp_path, capsys):
    train, test = separated(tmp_path / "train.csv", TEXTS[:32]), separated(tmp_path / "test.csv", TEXTS[32:])
    output = str(tmp_path / "pipeline")
    code, out, err = run([
        "pipeline", "--language-model", folders["lm"], "--train", train, "--test", test, "--label-column", "genres",
        "--problem-type", "multi_label", "--recipe", "tiny", "--finetune-epochs", "1", "--classifier-epochs", "1",
        "--output", output, "--quiet",
    ], capsys)
    assert code == 0, err
    classifier = load_model_directory(f"{output}/forward_classifier", "classifier")
    assert classifier.problem_type == "multi_label" and classifier.label_names == NAMES
    labels = stages.predict(classifier, TEXTS[32:])[0]
    exact = np.mean([set(label) == set(tags(text)) for label, text in zip(labels, TEXTS[32:])])
    row = next(line for line in out.splitlines() if line.startswith("saved_model test accuracy"))
    assert f"{exact:.4f}" in row
