"""What the commands read: texts and labels from files, models from folders or presets, token and vector files."""

import numpy as np

from ulmfit_tf import datasets
from ulmfit_tf.batch_predict import file_texts
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.model_directory import load_model_directory
from ulmfit_tf.presets import load_language_model
from ulmfit_tf.text.sentencepiece_tokenizer import SentencePieceTokenizer


def read_texts(paths, text_column="text"):
    """Texts of `.txt` (a text per non-empty line), `.csv`, `.tsv` or `.jsonl` files.

    Example:

    ```python
    texts = read_texts(["news.txt", "more.csv"], "body")
    ```
    """
    texts = [text for path in paths for text in file_texts(path, text_column)]
    if not texts:
        raise UserInputError(f"No texts in {', '.join(paths)}.")
    return texts


def read_labelled(path, args, problem_type="single_label", label_names=None):
    """Texts and labels of a file; the labels are class names as written (see `ulmfit_tf.labels`).

    Multi-label files (`problem_type="multi_label"`) hold a text's labels
    in the label column joined by `args.label_separator` (default `|`;
    blank: no label), or one 0/1 column per label (`args.label_columns`):
    each label is then a list of names. Regression labels are floats.

    Args:
        path: The file.
        args: The command's options: `text_column`, `label_column`,
            `label_separator`, `label_columns`.
        problem_type: `"single_label"`, `"multi_label"` or `"regression"`.
        label_names: Optional; a trained model's class names: labels
            outside them are refused in one line, and the other label
            rules only refuse missing labels.

    Example:

    ```python
    texts, labels = read_labelled("train.csv", args)  # args.text_column, args.label_column
    ```
    """
    separator, columns = getattr(args, "label_separator", None), getattr(args, "label_columns", None)
    multi_label = problem_type == "multi_label"
    if (separator is not None or columns is not None) and not multi_label:
        model = "the model is" if label_names is not None else "--problem-type is"
        raise UserInputError(
            f"--label-separator and --label-columns read multi-label files, but {model} {problem_type}."
        )
    if separator == "":
        raise UserInputError("--label-separator must not be empty; e.g. '|'.")
    if columns is not None and label_names is not None:
        _check_known(columns, label_names, "--label-columns", multi_label=False)
        missing = [str(name) for name in label_names if str(name) not in columns]
        if missing:
            raise UserInputError(f"--label-columns: no column for the model's labels {', '.join(missing)}.")
    table = datasets.read_table(
        path, text_column=args.text_column, label_column=args.label_column,
        problem_type=None if label_names is not None and not multi_label else problem_type,
        label_separator=(separator or "|") if multi_label and columns is None else None, label_columns=columns,
    )
    if not table["texts"]:
        raise UserInputError(f"No texts in {path}.")
    labels = table["labels"] if multi_label else [str(label) for label in table["labels"]]
    if problem_type == "regression":
        labels = _numbers(labels, path)
    elif label_names is not None:
        _check_known(labels, label_names, path, multi_label)
    return table["texts"], labels


def check_table(path, args):
    """Refuses a file `read_labelled` cannot read (missing, a folder, its format, no text column) before a model loads.

    Missing-value placeholders among the labels (`NaN`, ...) are refused
    too; the labels are read once the model says how (`evaluate`, `report`).
    """
    columns = getattr(args, "label_columns", None)
    separator = None if columns is not None else getattr(args, "label_separator", None) or "|"
    table = datasets.read_table(
        path, text_column=args.text_column, label_column=args.label_column, label_separator=separator,
        label_columns=columns,
    )
    if not table["texts"]:
        raise UserInputError(f"No texts in {path}.")


def _numbers(labels, path):
    try:
        return [float(label) for label in labels]
    except ValueError:
        shown = next(label for label in labels if not _is_number(label))
        raise UserInputError(f"{path}: a regression label is a number, not {shown!r}.") from None


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _check_known(labels, label_names, path, multi_label):
    known = {str(name) for name in label_names}
    found = {name for label in labels for name in (label if multi_label else [label])}
    unknown = sorted(found - known)
    if unknown:
        shown = ", ".join(map(repr, unknown[:3])) + (f" and {len(unknown) - 3} more" if len(unknown) > 3 else "")
        raise UserInputError(
            f"{path}: labels the model does not know: {shown}; its labels are {', '.join(map(str, label_names))}."
        )


def command_line_texts(texts):
    """`--text` values as given: bytes that are not UTF-8 become U+FFFD, as in files."""
    return [text.encode("utf-8", "surrogateescape").decode("utf-8", "replace") for text in texts]


def load_model(path, kind):
    """A classifier folder; or a language model: a model folder, a preset (name or folder) or a fastai folder.

    Example:

    ```python
    language_model = load_model("runs/lm", "language_model")
    ```
    """
    if kind == "language_model":
        return load_language_model(path)
    return load_model_directory(path, kind)


def sentencepiece_file(path):
    """`--tokenizer FILE`: the SentencePiece model, or `None`."""
    if path is None:
        return None
    try:
        return SentencePieceTokenizer(path)
    except (OSError, ValueError) as error:
        raise UserInputError(f"--tokenizer {path}: not a SentencePiece model ({error}).") from None


def array_file(path):
    """`--embeddings FILE`: the `.npy` array, or `None`."""
    if path is None:
        return None
    try:  # mapped first, so a header declaring more than the file holds is refused without allocating it
        return np.array(np.load(path, allow_pickle=False, mmap_mode="r"))
    except (OSError, ValueError) as error:
        raise UserInputError(f"--embeddings {path}: not a .npy array ({error}).") from None
