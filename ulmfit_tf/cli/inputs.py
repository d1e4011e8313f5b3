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


def read_labelled(path, args, problem_type="single_label"):
    """Texts and labels of a file; the labels are class names as written (see `ulmfit_tf.labels`).

    `problem_type=None` (labels matched against a trained model's classes)
    refuses only missing labels.

    Example:

    ```python
    texts, labels = read_labelled("train.csv", args)  # args.text_column, args.label_column
    ```
    """
    table = datasets.read_table(
        path, text_column=args.text_column, label_column=args.label_column, problem_type=problem_type
    )
    if not table["texts"]:
        raise UserInputError(f"No texts in {path}.")
    return table["texts"], [str(label) for label in table["labels"]]


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
