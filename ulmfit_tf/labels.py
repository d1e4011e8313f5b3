"""The one rule for labels, shared by the command line and the Python API.

A label is the string it is written as, stripped of surrounding spaces
(numbers and `None` as Python prints them): `pos`, `3` and `0.0` are class
names. Three forms are refused, because reading them as they are would give
a user a classifier other than the one meant:

- a placeholder for a missing value (`MISSING_LABELS`, or a float NaN or
  `None` in Python), which would become a class named "NaN";
- the same number written two ways (`1` and `1.0`, `01` and `1`), which
  would become two classes;
- fractional numbers in a classification task (every label a number, some
  not whole: `0.3`, `0.7`), which would each become a class where a
  regression was likely meant.

`check_label_column` reports them for `datasets.read_table` naming the
file, the column and the lines (missing labels always; the other two with
`problem_type`, as the training commands read); `check_label_forms` for
the Python API naming the argument and the indices: every entry point that
takes labels refuses missing ones (`inputs.check_labels`), and the
training labels of `stages.fit_classifier` and `classifier_lr_find` are
checked by all three rules. No TensorFlow is imported here, so that reading
a file stays fast.
"""

import decimal
import numbers
import re

from ulmfit_tf.errors import UserInputError

# What tools write for a missing value: Python's None, NaN as numpy, pandas
# and JavaScript print it, JSON's null, R's NA, Excel's #N/A, pandas' <NA>,
# and the empty string. Case counts: `NONE` and `none` are class names (the
# stance labels of SemEval-2016 hold `NONE`).
MISSING_LABELS = frozenset({"", "None", "nan", "NaN", "NAN", "null", "NULL", "NA", "N/A", "#N/A", "<NA>"})
NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d{1,3})?")
SHOWN = 3  # offending labels named in a message
PROBLEM_TYPES = ("single_label", "multi_label", "regression", None)
REGRESSION_FIX = (
    'to predict a number, fit a regression model (`stages.fit_classifier(..., problem_type="regression")` in '
    "Python); to classify, give the classes names"
)


def check_label_forms(labels, problem_type="single_label", argument="labels"):
    """Refuses labels that would not be read as the classes they look like, naming indices.

    Args:
        labels: One label per text: strings, numbers, or (for
            `multi_label`) lists of them or `;`-separated strings.
        problem_type: `"single_label"` or `"multi_label"`: every rule of
            this module; `"regression"`, or `None` for labels matched
            against a trained model's classes: only missing labels (with
            `None`, not blank strings: a multi-label text may have no tag).
        argument: String, the labels' argument name in messages.

    Raises:
        UserInputError: `Argument `labels` must hold ... Received:
            labels[i]=...`, naming the first few offending labels and the
            fix.

    Example:

    ```python
    check_label_forms(["pos", "neg", float("nan")])
    # UserInputError: Argument `labels` must hold a label for every text, not a
    # placeholder for a missing value. Received: labels[2]=nan. Fill in the
    # labels or leave those texts out
    check_label_forms(["0", "1", "1.0"])  # ... each class written one way ...
    ```
    """
    problem = _problem(labels, problem_type)
    if problem is not None:
        requirement, _, fix, examples, count = problem
        received = ", ".join(f"{argument}[{index}]={_plain(label)!r}" for index, label in examples)
        raise UserInputError(
            f"Argument `{argument}` must hold {requirement}. Received: {received}{_more(count)}. "
            f"{fix[0].upper()}{fix[1:]}"
        )


def check_label_column(labels, lines, path, column, problem_type="single_label"):
    """Refuses labels read from a file, as `check_label_forms` does, in one line naming the file's lines.

    Args:
        labels: The labels as read (strings, or JSON values).
        lines: The line of the file each label is on.
        path: The file, for the message.
        column: The label column, for the message.
        problem_type: As in `check_label_forms`.

    Raises:
        UserInputError: `PATH, column 'label': ... ('NaN' on line 5); FIX.`
    """
    problem = _problem(labels, problem_type)
    if problem is not None:
        _, found, fix, examples, count = problem
        where = ", ".join(f"{_written(label)!r} on line {lines[index]}" for index, label in examples)
        raise UserInputError(f"{path}, column {column!r}: {found} ({where}{_more(count)}); {fix}.")


def _problem(labels, problem_type):
    """`(requirement, found, fix, examples, count)` for the first rule broken, or `None`."""
    if problem_type not in PROBLEM_TYPES:
        raise ValueError(
            f"Argument `problem_type` must be one of {PROBLEM_TYPES}. Received: problem_type={problem_type!r}"
        )
    pairs = [(index, part) for index, label in enumerate(labels) for part in _parts(label, problem_type)]
    missing = [(index, label) for index, label in pairs if _missing(label)]
    if missing:
        return (
            "a label for every text, not a placeholder for a missing value",
            "missing-value placeholders, not labels",
            "fill in the labels or leave those texts out",
            missing[:SHOWN],
            len(missing),
        )
    if problem_type not in ("single_label", "multi_label"):
        return None
    numbers = [(index, label, _number(label)) for index, label in pairs if _number(label) is not None]
    forms = {}
    for index, label, value in numbers:
        forms.setdefault(value, {}).setdefault(_written(label), (index, label))
    for written in forms.values():
        if len(written) > 1:
            shortest = min(written, key=len)
            return (
                "each class written one way",
                "the same number written in different ways, which would make different classes",
                f"write each class one way (e.g. {shortest!r} everywhere)",
                list(written.values())[:SHOWN],
                len(written),
            )
    fractions = [(index, label) for index, label, value in numbers if value != value.to_integral_value()]
    if fractions and len(numbers) == len(pairs):
        return (
            "class names, not fractional numbers",
            "fractional numbers as labels, each of which would become a class",
            REGRESSION_FIX,
            fractions[:SHOWN],
            len(fractions),
        )
    return None


def _parts(label, problem_type):
    """The class names in one text's label: itself; for multi-label, its names (numeric multi-hot rows: none).

    A blank multi-label string holds no name (a text without tags); so does
    a blank string when the problem type is not known (`None`): a blank
    single label is refused where it is encoded.
    """
    if problem_type == "multi_label" or isinstance(label, (list, tuple)):
        names = label.split(";") if isinstance(label, str) else label
        return [name for name in names if isinstance(name, str) and name.strip()]
    if problem_type is None and isinstance(label, str) and not label.strip():
        return []
    return [label]


def _missing(label):
    """`None`, a float NaN, or a string (stripped) in `MISSING_LABELS`."""
    if isinstance(label, (str, bytes)):
        return _written(label) in MISSING_LABELS
    return label is None or (isinstance(label, numbers.Real) and label != label)


def _number(label):
    """The number a string or number label is written as (exactly, a `Decimal`), or `None`."""
    if isinstance(label, (str, bytes, numbers.Real)) and NUMBER.fullmatch(_written(label)):
        return decimal.Decimal(_written(label))
    return None


def _written(label):
    if isinstance(label, bytes):
        label = label.decode("utf-8", "replace")
    return str(label).strip()


def _plain(label):
    """A numpy scalar as the Python value it holds, for messages."""
    return label.item() if type(label).__module__ == "numpy" else label


def _more(count):
    return f" and {count - SHOWN:,} more" if count > SHOWN else ""


def class_weights(class_weight, labels, label_names):
    """Keras' `class_weight` dict (class id -> weight) of a class-weight setting, for single-label training.

    `"balanced"` is scikit-learn's: `n / (classes x count of the class)`,
    so every class adds the same total weight to the loss. A dict names
    classes: those it leaves out weigh 1.

    Args:
        class_weight: `None`, `"balanced"`, or a dict of class name -> weight.
        labels: The training labels (class names or ids).
        label_names: The classifier's class names, in id order.

    Returns:
        A dict of class id -> float, or `None` when `class_weight` is.

    Example:

    >>> class_weights("balanced", ["a", "a", "a", "b"], ["a", "b"])
    {0: 0.6666666666666666, 1: 2.0}
    """
    if class_weight is None:
        return None
    names = [str(name) for name in label_names]
    ids = [label if isinstance(label, numbers.Integral) else names.index(str(label)) for label in labels]
    if class_weight == "balanced":
        counts = [ids.count(i) for i in range(len(names))]
        return {i: len(ids) / (len(names) * count) for i, count in enumerate(counts) if count}
    unknown = sorted(set(map(str, class_weight)) - set(names))
    if unknown:
        raise UserInputError(
            f"Argument `class_weight` must name classes of the labels ({', '.join(names)}). "
            f"Received: {unknown[0]!r}"
        )
    weights = {str(name): float(weight) for name, weight in class_weight.items()}
    return {i: weights.get(name, 1.0) for i, name in enumerate(names)}
