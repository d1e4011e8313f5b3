"""Checks on the texts and labels users give, shared by every entry point.

Training, evaluation and every way of predicting (Keras, `stages`, the
SavedModel and TFLite runners) read their texts through `check_texts`, so
that they all see the same strings: a lone string is one text, bytes are
decoded the same way, and strings are kept exactly (NUL characters
included, which numpy's fixed-width strings would drop).
"""

import collections.abc
import reprlib

import numpy as np
import tensorflow as tf

from ulmfit_tf.errors import UserInputError
from ulmfit_tf.labels import check_label_forms
from ulmfit_tf.text.classification_dataset import encode_labels

# A training label column with more distinct values than this share of its
# (more than `TEXT_LIKE_MIN_LABELS`) rows holds texts or ids, not classes.
TEXT_LIKE_DISTINCT_SHARE = 0.5
TEXT_LIKE_MIN_LABELS = 20


def check_texts(texts, argument="texts"):
    """The texts of a batch as a list of Python strings; refuses anything else.

    A lone string (or bytes) is one text, so the result is always a batch.
    Bytes are decoded as UTF-8, invalid sequences replaced by U+FFFD (as the
    tokenizers do); strings are kept exactly. Numpy arrays and string
    tensors are flattened.

    Args:
        texts: A string, or a list, tuple, numpy array, string tensor or
            other sequence of strings (or bytes).
        argument: String, the argument's name in error messages.

    Returns:
        A list of `str`, empty when `texts` is.

    Raises:
        TypeError: `texts` is not a string or a sequence of them, or holds
            something else (`None`, a number, NaN, ...), named by its index.

    Example:

    >>> check_texts("A fine film.")
    ['A fine film.']
    >>> check_texts(["Dull.", None])
    Traceback (most recent call last):
    TypeError: Argument `texts` must hold strings. Received: texts[1]=None (NoneType)
    """
    if isinstance(texts, (str, bytes)):
        texts = [texts]
    elif isinstance(texts, (np.ndarray, tf.Tensor)):
        texts = np.asarray(texts, dtype=object).ravel().tolist()
    elif not isinstance(texts, collections.abc.Iterable) or isinstance(
        texts, (collections.abc.Mapping, collections.abc.Set)
    ):
        raise TypeError(
            f"Argument `{argument}` must be a string or a list of strings. "
            f"Received: {argument}={reprlib.repr(texts)} ({type(texts).__name__})"
        )
    checked = []
    for index, text in enumerate(texts):
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        elif not isinstance(text, str):
            raise TypeError(
                f"Argument `{argument}` must hold strings. "
                f"Received: {argument}[{index}]={reprlib.repr(text)} ({type(text).__name__})"
            )
        checked.append(str(text))  # a plain `str`, not numpy's `str_`
    return checked


def check_labels(labels, texts, argument="labels", texts_argument="texts"):
    """The labels of `texts`, one per text, none of them missing.

    A lone label (a string or a number) is the label of one text, as a lone
    string is one text for `check_texts`. A missing label (`None`, a float
    NaN or a placeholder such as `"NaN"`: see `ulmfit_tf.labels`) is
    refused, as the command line refuses it in a file.

    Args:
        labels: A sequence of labels, or one label.
        texts: The checked texts (a list).
        argument: String, the labels' argument name in error messages.
        texts_argument: String, the texts' argument name.

    Returns:
        `labels` (a list when it was one label).

    Raises:
        UserInputError: there is not one label per text, or one is missing.
        TypeError: `labels` is not a sequence.
    """
    if isinstance(labels, (str, bytes, int, float, np.generic)):
        labels = [labels]
    if not isinstance(labels, collections.abc.Sized) or isinstance(labels, collections.abc.Mapping):
        raise TypeError(
            f"Argument `{argument}` must hold one label per text. "
            f"Received: {argument}={reprlib.repr(labels)} ({type(labels).__name__})"
        )
    if len(labels) != len(texts):
        raise UserInputError(
            f"Arguments `{texts_argument}` and `{argument}` must have the same length. "
            f"Received: {len(texts)} texts and {len(labels)} labels"
        )
    check_label_forms(labels, problem_type=None, argument=argument)
    return labels


def check_classes(labels, problem_type="single_label", argument="labels"):
    """Refuses training labels that cannot train a classifier.

    The labels must be class names as written (`ulmfit_tf.labels`: no
    missing label, no number written two ways such as `1` and `1.0`, not
    fractional numbers only); a single-label classifier needs two classes
    at least; and a label column where most values are distinct (more than
    half of more than 20 labels) is a column of texts or ids, given as
    labels by mistake.

    Args:
        labels: The training labels, one per text.
        problem_type: `"single_label"`, `"multi_label"` (lists of labels,
            or strings of labels separated by `;`) or `"regression"`
            (nothing is checked).
        argument: String, the labels' argument name in error messages.

    Raises:
        UserInputError: labels not written as class names, one class only,
            or labels that look like texts.
    """
    check_label_forms(labels, problem_type, argument)
    if problem_type == "single_label":
        names = sorted({str(label).strip() for label in labels})
        if len(names) == 1:
            raise UserInputError(
                f"Argument `{argument}` must hold at least two classes to train a classifier. "
                f"Received: all {len(labels):,} labels are {names[0]!r}"
            )
    elif problem_type == "multi_label" and all(isinstance(label, str) for label in labels):
        names = encode_labels(list(labels), multi_label=True)[1]
    else:
        return
    if len(labels) > TEXT_LIKE_MIN_LABELS and len(names) > TEXT_LIKE_DISTINCT_SHARE * len(labels):
        raise UserInputError(
            f"Argument `{argument}` must hold class names, but most of its values are distinct, as in a "
            f"column of texts. Received: {len(names):,} distinct labels for {len(labels):,} texts, such as "
            f"{reprlib.repr(names[0])}. Give the column of class names (on the command line, `--label-column`)"
        )
