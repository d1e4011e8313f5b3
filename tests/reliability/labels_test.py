"""Labels are read as the classes they look like, the same by the command line and the Python API.

The rule (`ulmfit_tf.labels`): a label is the string it is written as,
stripped; a missing-value placeholder (`NaN`, `None`, ...), one number
written two ways (`1`, `1.0`) and fractional numbers only (`0.3`, `0.7`) are
refused. Each case asserts the exact message of the file reader (hence every
command) and of the Python API, and that both accept or refuse the same
labels. No model is trained.
"""

import os

import pytest

from tests.models.ulmfit_text_classifier_test import language_model
from tests.models.ulmfit_text_classifier_test import tokenizer  # noqa: F401  (a fixture)
from ulmfit_tf import cli
from ulmfit_tf import datasets
from ulmfit_tf import stages
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.models import ULMFiTLanguageModel
from ulmfit_tf.models import ULMFiTTextClassifier
from ulmfit_tf.stages.checks import label_names_of
from ulmfit_tf.text import encode_labels
from ulmfit_tf.text.inputs import check_classes
from ulmfit_tf.text.inputs import check_labels

NAN = float("nan")
MISSING = "missing-value placeholders, not labels ({}); fill in the labels or leave those texts out."
FORMS = (
    "the same number written in different ways, which would make different classes ({}); write each class one way "
    "(e.g. '1' everywhere)."
)
FRACTIONS = (
    "fractional numbers as labels, each of which would become a class ({}); to predict a number, fit a "
    'regression model (`stages.fit_classifier(..., problem_type="regression")` in Python); to classify, give the '
    "classes names."
)
API_MISSING = (
    "Argument `labels` must hold a label for every text, not a placeholder for a missing value. Received: {}. "
    "Fill in the labels or leave those texts out"
)

# (labels as a CSV column holds them, the same labels as Python values, the class names or the file's problem)
CASES = [
    (["pos", "neg", "pos"], ["pos", "neg", "pos"], ["neg", "pos"]),
    (["0", "1", "1"], [0, 1, 1], ["0", "1"]),
    (["0.0", "1.0", "1.0"], [0.0, 1.0, 1.0], ["0.0", "1.0"]),  # a float column, one form: two classes
    (["NONE", "FAVOR", " AGAINST "], ["NONE", "FAVOR", "AGAINST"], ["AGAINST", "FAVOR", "NONE"]),  # SemEval stance
    (["0", "1", "1.0", "NaN"], [0, 1, 1.0, NAN], MISSING.format("'NaN' on line 5")),  # the column
    (["0", "1", "1.0"], [0, 1, 1.0], FORMS.format("'1' on line 3, '1.0' on line 4")),
    (["pos", "None", "nan"], ["pos", None, NAN], MISSING.format("'None' on line 3, 'nan' on line 4")),
    (["0.3", "0.7", "0.3"], [0.3, 0.7, 0.3], FRACTIONS.format("'0.3' on line 2, '0.7' on line 3, '0.3' on line 4")),
]


def write_column(folder, labels):
    path = folder / "labels.csv"
    path.write_text("text,label\n" + "".join(f"text {i},{label}\n" for i, label in enumerate(labels)), encoding="utf-8")
    return str(path)


def file_outcome(path):
    """The class names the command line trains on, or the problem it names."""
    try:
        labels = datasets.read_table(path, problem_type="single_label")["labels"]
    except UserInputError as error:
        return str(error).removeprefix(f"{path}, column 'label': ")
    return encode_labels(labels)[1]


def api_outcome(labels):
    """The class names `stages.fit_classifier` trains on (its checks), or whether it refuses."""
    texts = [f"text {i}" for i in range(len(labels))]
    try:
        check_classes(check_labels(labels, texts))
    except UserInputError:
        return "refused"
    return label_names_of(labels, "single_label")


@pytest.mark.parametrize("written, values, expected", CASES)
def test_the_command_line_and_the_api_accept_the_same_labels(tmp_path, written, values, expected):
    assert file_outcome(write_column(tmp_path, written)) == expected
    assert api_outcome(values) == (expected if isinstance(expected, list) else "refused")
    assert api_outcome(written) == api_outcome(values)  # strings, as pandas' `dtype=str` gives them


def test_the_api_names_the_offending_labels_by_index():
    texts = [f"text {i}" for i in range(8)]
    with pytest.raises(UserInputError) as error:
        check_labels([0, 1, 1.0, NAN] * 2, texts)
    assert str(error.value) == API_MISSING.format("labels[3]=nan, labels[7]=nan")
    with pytest.raises(UserInputError) as error:
        check_classes(["1", "01", "1.0", "+1", "2", "2", "2", "2"])
    assert str(error.value) == (
        "Argument `labels` must hold each class written one way. Received: labels[0]='1', labels[1]='01', "
        "labels[2]='1.0' and 1 more. Write each class one way (e.g. '1' everywhere)"
    )
    with pytest.raises(UserInputError) as error:
        check_classes([0.25, 0.5, 0.75, 1.0] * 2)
    assert str(error.value) == (
        "Argument `labels` must hold class names, not fractional numbers. Received: labels[0]=0.25, labels[1]=0.5, "
        'labels[2]=0.75 and 3 more. To predict a number, fit a regression model (`stages.fit_classifier(..., '
        'problem_type="regression")` in Python); to classify, give the classes names'
    )
    check_classes([0.25, 0.5, 0.75, 1.0] * 2, problem_type="regression")  # numbers are a regression's targets
    check_classes(["a;b", "b", "1;2", ""], problem_type="multi_label")  # "": a text without tags
    check_labels(["a;b", ""], ["x", "y"])
    with pytest.raises(UserInputError, match=r"Received: labels\[1\]=' '. Fill in"):
        check_classes(["a", " ", "b"])
    with pytest.raises(UserInputError, match=r"Received: labels\[1\]='NaN'"):
        check_classes(["a;b", "b;NaN"], problem_type="multi_label")
    with pytest.raises(ValueError) as error:
        check_classes(["a", "b"], problem_type="classification")
    assert str(error.value) == (
        "Argument `problem_type` must be one of ('single_label', 'multi_label', 'regression', None). "
        "Received: problem_type='classification'"
    )


def test_every_entry_point_refuses_before_any_work(tokenizer):  # noqa: F811
    lm = ULMFiTLanguageModel(language_model(tokenizer.vocabulary_size()).backbone, preprocessor=tokenizer)
    texts = [f"text {i}" for i in range(4)]
    missing = API_MISSING.format("labels[3]=nan")
    with pytest.raises(UserInputError) as error:
        stages.fit_classifier(lm, texts, [0, 1, 1.0, NAN], verbose=0)
    assert str(error.value) == missing
    with pytest.raises(UserInputError, match=r"^Argument `validation\[1\]` must hold a label for every text"):
        stages.fit_classifier(lm, texts, [0, 1, 0, 1], validation=(texts, ["0", "1", "None", "0"]), verbose=0)
    with pytest.raises(UserInputError, match=r"^Argument `labels` must hold class names, not fractional numbers"):
        stages.classifier_lr_find(lm, texts, [0.3, 0.7, 0.3, 0.7], num_steps=2)
    classifier = ULMFiTTextClassifier.from_language_model(lm, 2, preprocessor=tokenizer, label_names=["0", "1"])
    with pytest.raises(UserInputError) as error:
        stages.evaluate(classifier, texts, [0, 1, 1, NAN])
    assert str(error.value) == missing


@pytest.mark.parametrize(
    "labels, problem",
    [
        (["0", "1", "1.0", "NaN"], MISSING.format("'NaN' on line 5")),
        (["0.3", "0.7"], FRACTIONS.format("'0.3' on line 2, '0.7' on line 3")),
    ],
)
def test_the_commands_refuse_in_one_line_before_loading_a_model(tmp_path, capsys, labels, problem):
    path = write_column(tmp_path, labels)
    model = str(tmp_path / "no_model")
    commands = [
        ["fit-classifier", "--language-model", model, "--train", path, "--output", str(tmp_path / "out")],
        ["lr-find", "--language-model", model, "--train", path, "--plot", str(tmp_path / "lr.png")],
        ["pipeline", "--train", path, "--test", path, "--output", str(tmp_path / "run")],
    ]
    if "NaN" in labels:  # evaluate matches labels with the model's classes: only missing ones are refused
        commands.append(["evaluate", "--model", model, "--data", path])
    for argv in commands:
        assert cli.main(argv) == 2, argv
        _, err = capsys.readouterr()
        assert err == f"ulmfit-tf {argv[0]}: error: {path}, column 'label': {problem}\n"
    assert sorted(os.listdir(tmp_path)) == ["labels.csv"]


def test_read_table_without_a_problem_type_keeps_numbers_for_a_regression(tmp_path):
    path = write_column(tmp_path, ["0.3", "0.70", "1"])
    assert datasets.read_table(path)["labels"] == ["0.3", "0.70", "1"]
    path = write_column(tmp_path, ["0.3", "NA"])
    with pytest.raises(UserInputError) as error:
        datasets.read_table(path)
    assert str(error.value) == f"{path}, column 'label': " + MISSING.format("'NA' on line 3")
