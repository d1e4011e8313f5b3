"""Prediction at scale: texts in chunks, batched by length, answers in input order, texts per second shown.

`predict_probabilities` is the Keras classifier's inference path behind
`stages.predict` and `ulmfit-tf predict`: each classifier's preprocessor
tokenizes the texts once, the texts are sorted by length and cut into
batches padded only to their own longest text, two batches at a time run
through one compiled `tf.function` of the classifier (traced once per
classifier for any batch shape, and kept for the next call), and the rows
go back to the input order. A classifier masks its padding, so a text's
answer does not depend on the texts batched with it: the same, within
float rounding (1e-7), as `classifier.predict` on the texts in their
order, with half the CPU time per text and 2.9 times the texts per second
on 2 loaded cores (BENCHMARKS.md, "Batch prediction").

`chunks` cuts any iterable of texts (a file read line by line) into lists,
so that a caller holds one chunk at a time; `Progress` prints the texts
done and the rate on standard error.
"""

import concurrent.futures
import itertools
import os
import sys
import time
import weakref

import numpy as np
import tensorflow as tf

from ulmfit_tf.datasets import stream_table_texts
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.text.inputs import check_texts
from ulmfit_tf.text.ulmfit_text_classifier_preprocessor import last_tokens
from ulmfit_tf.thresholds import DEFAULT_THRESHOLD
from ulmfit_tf.thresholds import decide

# Texts per batch: the CPU's matrix products are as efficient per text at 64
# as at 256 for this model, and smaller batches waste less on padding.
BATCH_SIZE = 64
# Batches run at once: one batch's small recurrent products keep about one
# core busy, so two batches in flight use two (BENCHMARKS.md).
PARALLEL_BATCHES = 2
# Texts read, predicted and written at a time by `ulmfit-tf predict`.
CHUNK_SIZE = 2048
# Seconds between progress lines when standard error is not a terminal.
PROGRESS_EVERY = 10.0

_COMPILED = weakref.WeakKeyDictionary()  # classifier -> its compiled forward pass


def predict_probabilities(classifiers, texts, batch_size=BATCH_SIZE):
    """Probabilities of texts, averaged over classifiers, rows in the texts' order.

    Args:
        classifiers: A list of `ULMFiTTextClassifier`s with preprocessors
            (checked by `check_ensemble`).
        texts: List of strings (as `check_texts` reads them).
        batch_size: Integer, texts per batch.

    Returns:
        A float32 array `(texts, classes)`: softmax or sigmoid
        probabilities, or regression values.

    Example:

    ```python
    probabilities = predict_probabilities([classifier], ["A fine film.", "Dull."])
    ```
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise UserInputError(f"Argument `batch_size` must be a positive integer. Received: batch_size={batch_size!r}")
    texts = check_texts(texts)
    if not texts:
        return np.zeros((0, classifiers[0].num_classes), "float32")
    total = None
    for classifier in classifiers:
        probabilities = _one_classifier(classifier, texts, batch_size)
        total = probabilities if total is None else total + probabilities
    return total / np.float32(len(classifiers))


def check_ensemble(classifiers):
    """The classifiers as a list, refused unless they share labels and problem type and take texts.

    Args:
        classifiers: A `ULMFiTTextClassifier` or a list of them.

    Returns:
        A list of classifiers.
    """
    classifiers = list(classifiers) if isinstance(classifiers, (list, tuple)) else [classifiers]
    if not classifiers:
        raise UserInputError("Argument `classifiers` must hold at least one classifier. Received: classifiers=[]")
    first = classifiers[0]
    for other in classifiers[1:]:
        if (other.label_names, other.problem_type) != (first.label_names, first.problem_type):
            raise UserInputError(
                "Argument `classifiers` must share labels and problem type to be ensembled. "
                f"Received: {first.label_names} and {other.label_names}"
            )
    for classifier in classifiers:
        if classifier.preprocessor is None:
            raise ValueError(
                "This classifier has no `preprocessor`, so it takes token ids, not strings. "
                "Set `classifier.preprocessor` to the tokenizer or pass ids."
            )
    return classifiers


def class_labels(probabilities, label_names, problem_type, thresholds=None, top_k=None):
    """The label of each row: a class name, a list of names (multi-label), or the value (regression).

    Multi-label rows list the labels at or above their threshold
    (`ulmfit_tf.thresholds.decide`), most probable first. With `top_k`, at
    most that many; a single-label row is then a list of the `top_k` most
    probable classes.

    Args:
        probabilities: Float array `(texts, classes)`.
        label_names: The class names, or `None` for `"0"`, `"1"`, ...
        problem_type: `"single_label"`, `"multi_label"` or `"regression"`.
        thresholds: Multi-label: a float, or one a label (a classifier's
            `thresholds`); `None` is 0.5.
        top_k: Optional positive integer.

    Example:

    >>> class_labels(np.array([[0.2, 0.8]]), ["neg", "pos"], "single_label")
    ['pos']
    >>> class_labels(np.array([[0.7, 0.9, 0.1]]), ["a", "b", "c"], "multi_label", thresholds=[0.5, 0.95, 0.5])
    [['a']]
    """
    names = label_names or [str(i) for i in range(probabilities.shape[1])]
    if problem_type == "regression":
        return probabilities[:, 0].tolist() if probabilities.shape[1] == 1 else probabilities.tolist()
    if problem_type == "single_label" and top_k is None:
        return [names[i] for i in probabilities.argmax(axis=1)]
    if problem_type == "single_label":
        thresholds = 0.0
    chosen = decide(probabilities, DEFAULT_THRESHOLD if thresholds is None else thresholds, top_k)
    order = np.argsort(-probabilities, axis=1, kind="stable")
    return [[names[i] for i in ranked if row[i]] for ranked, row in zip(order, chosen)]


def file_texts(path, text_column="text"):
    """The texts of a file, read one at a time, as the command line reads them.

    A `.txt` file holds a text per line that is not blank (decoded as
    UTF-8, invalid bytes replaced); a `.csv`, `.tsv` or `.jsonl` file holds
    them in `text_column`, read with `datasets.read_table`'s checks
    (`datasets.stream_table_texts`).

    Args:
        path: Path of the file.
        text_column: Name of the column (or key) holding the text.

    Yields:
        Strings, in the file's order.

    Example:

    ```python
    for chunk in chunks(file_texts("reviews.txt")):
        labels, probabilities = stages.predict(classifier, chunk)
    ```
    """
    path = os.fspath(path)
    if not path.endswith(".txt"):
        yield from stream_table_texts(path, text_column)
        return
    if not os.path.isfile(path):
        raise UserInputError(f"No such file: {path!r}.")
    with open(path, encoding="utf-8", errors="replace") as f:
        yield from (line.rstrip("\n") for line in f if line.strip())


def chunks(texts, size=CHUNK_SIZE):
    """Lists of at most `size` consecutive items of an iterable, read lazily.

    Example:

    >>> list(chunks(iter("abcde"), 2))
    [['a', 'b'], ['c', 'd'], ['e']]
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise UserInputError(f"Argument `size` must be a positive integer. Received: size={size!r}")
    iterator = iter(texts)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


class Progress:
    """Texts done and texts per second on standard error.

    On a terminal one line redraws itself after each chunk; in a log file or
    pipe a line is printed every `PROGRESS_EVERY` seconds. `done()` prints
    the last line: `predicted 2,000 texts in 3.1 s (645 texts/s)`.

    Args:
        stream: The file written to. Defaults to `sys.stderr`.
        verbose: Boolean; `False` prints nothing.

    Example:

    ```python
    progress = Progress()
    for chunk in chunks(texts):
        ...
        progress.update(len(chunk))
    progress.done()
    ```
    """

    def __init__(self, stream=None, verbose=True):
        self.stream = stream or sys.stderr
        self.verbose = verbose
        self.count = 0
        self.start = self._shown = time.perf_counter()
        self._terminal = self.stream.isatty()

    def update(self, count):
        self.count += count
        now = time.perf_counter()
        if not self.verbose or not (self._terminal or now - self._shown >= PROGRESS_EVERY):
            return
        self._shown = now
        line = f"predict: {self.count:,} texts, {self._rate(now)}"
        self.stream.write("\r" + line if self._terminal else line + "\n")
        self.stream.flush()

    def done(self):
        if self.verbose:
            now = time.perf_counter()
            start = "\r" if self._terminal else ""
            self.stream.write(f"{start}predicted {self.count:,} texts in {now - self.start:.1f} s ({self._rate(now)})\n")
            self.stream.flush()

    def _rate(self, now):
        return f"{self.count / max(now - self.start, 1e-9):,.0f} texts/s"


def _one_classifier(classifier, texts, batch_size):
    preprocessor = classifier.preprocessor
    ids = last_tokens(preprocessor.tokenizer(tf.constant(texts, tf.string)), preprocessor.max_tokens)
    values, starts = ids.flat_values.numpy().astype("int32"), ids.row_splits.numpy()
    lengths = np.diff(starts)
    order = np.argsort(lengths, kind="stable")
    forward = _compiled(classifier)

    def run(begin):
        batch = order[begin : begin + batch_size]
        padded = np.full((len(batch), max(1, int(lengths[batch].max()))), preprocessor.padding_id, "int32")
        for row, index in enumerate(batch):
            padded[row, : lengths[index]] = values[starts[index] : starts[index + 1]]
        return forward(padded).numpy()

    pool = concurrent.futures.ThreadPoolExecutor(PARALLEL_BATCHES)
    try:
        rows = list(pool.map(run, range(0, len(texts), batch_size)))
    finally:
        pool.shutdown(cancel_futures=True)  # a signal stops the chunk after the batches running
    probabilities = np.empty((len(texts), rows[0].shape[1]), "float32")
    probabilities[order] = np.concatenate(rows)
    return probabilities


def _compiled(classifier):
    """The classifier's inference pass, ids to probabilities, traced once for every batch shape."""
    forward = _COMPILED.get(classifier)
    if forward is None:
        model = weakref.ref(classifier)  # the cache must not keep the classifier alive

        @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)])
        def forward(token_ids):
            return tf.cast(model().probabilities(model()(token_ids, training=False)), tf.float32)

        _COMPILED[classifier] = forward
    return forward
