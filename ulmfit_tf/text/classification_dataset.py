import sys

import keras
import numpy as np
import tensorflow as tf

from ulmfit_tf.errors import UserInputError
from ulmfit_tf.labels import check_label_forms
from ulmfit_tf.text.ulmfit_text_classifier_preprocessor import MAX_TOKENS
from ulmfit_tf.text.ulmfit_text_classifier_preprocessor import PADDING_ID
from ulmfit_tf.text.ulmfit_text_classifier_preprocessor import ULMFiTTextClassifierPreprocessor
from ulmfit_tf.text.ulmfit_text_classifier_preprocessor import last_tokens


def encode_labels(labels, label_names=None, multi_label=False):
    """Turns class labels into model targets and a label vocabulary.

    Args:
        labels: Sequence of labels, one per text: class names (strings,
            stripped of surrounding spaces, as the command line reads them)
            or class ids (ints); with `multi_label=True`, each entry is a
            list of labels (or a string of labels separated by `;`).
        label_names: Optional list of the class names, in id order. By
            default, the sorted distinct labels seen, which must be class
            names as written (`ulmfit_tf.labels.check_label_forms`: not
            `1` and `1.0`, not `NaN`, not fractional numbers only). Give it
            to encode validation or test labels with the training
            vocabulary.
        multi_label: Boolean, several labels per text.

    Returns:
        `(targets, label_names)`: int32 class ids of shape `(n,)`, or
        float32 multi-hot rows of shape `(n, classes)`; and the list of
        class names (strings).

    Example:

    >>> encode_labels(["pos", "neg", "pos"])
    (array([1, 0, 1], dtype=int32), ['neg', 'pos'])
    """
    rows = [_as_list(label) for label in labels] if multi_label else [[label] for label in labels]
    rows = [[label.strip() if isinstance(label, str) else label for label in row] for row in rows]
    for line, row in enumerate(rows, start=1):
        for label in row:
            if label is None or (isinstance(label, str) and not label.strip()) or (
                isinstance(label, float) and np.isnan(label)
            ):
                raise UserInputError(f"Label {line} is blank; every text needs a label.")
    if label_names is None:
        check_label_forms(labels, "multi_label" if multi_label else "single_label")
        label_names = sorted({str(label) for row in rows for label in row}, key=_natural)
    label_names = [str(name) for name in label_names]
    index = {name.strip(): i for i, name in enumerate(label_names)}
    ids = []
    for line, row in enumerate(rows, start=1):
        unknown = [label for label in row if str(label) not in index]
        if unknown:
            raise UserInputError(
                f"Label {unknown[0]!r} of text {line} is not one of the known labels "
                f"{label_names}."
            )
        ids.append([index[str(label)] for label in row])
    if multi_label:
        targets = np.zeros((len(ids), len(label_names)), "float32")
        for row, row_ids in zip(targets, ids):
            row[row_ids] = 1.0
        return targets, label_names
    return np.array([row[0] for row in ids], "int32"), label_names


def classification_dataset(
    texts,
    targets,
    tokenizer,
    batch_size=64,
    shuffle=True,
    seed=None,
    max_tokens=MAX_TOKENS,
    num_buckets=8,
    batch_multiple=1,
):
    """Batches of `(token_ids, targets)` for a text classifier.

    Texts are tokenized in the graph, then batched by length (the idea of
    fastai's `SortishSampler`): texts are shuffled, grouped into buckets of
    similar length, and each batch is padded (after the text, with the
    preprocessor's `padding_id`, the backbone's) only to its own longest
    text, so little compute goes to padding. Bucket boundaries are the
    length quantiles of the data.

    Long documents are kept whole for the classifier's BPT3C encoder up to
    the preprocessor's `max_tokens` (8,192 by default, about 6,000 English
    words): a longer one keeps its last tokens, the ones BPT3C pools, so
    memory stays bounded.

    Args:
        texts: List of strings, or their ids already tokenized (a
            `tf.RaggedTensor` from `tokenize_all`, so that a text is
            tokenized once for many epochs; the tokenizer is then unused).
        targets: Array of targets, one per text: class ids, multi-hot rows
            (see `encode_labels`), or floats for regression.
        tokenizer: The classifier's `ULMFiTTextClassifierPreprocessor`
            (its tokenizer, `max_tokens` and `padding_id` are used); or a
            bare tokenizer, a callable mapping a batch of strings to a
            `tf.RaggedTensor` of ids such as `SentencePieceTokenizer`
            (padding with 1, fastai's `xxpad`); or `None` with ids.
        batch_size: Integer, texts per batch.
        shuffle: Boolean, reshuffle every epoch (training); `False` keeps
            the order of `texts` and does no bucketing (evaluation).
        seed: Optional integer, seed of the shuffle.
        max_tokens: Optional integer, the most tokens kept per text (its
            last ones) when `tokenizer` is not a preprocessor, which has its
            own `max_tokens`; `None` keeps every token. (Not `max_len`,
            the classifier's BPT3C pooled tokens.)
        num_buckets: Integer, number of length buckets.
        batch_multiple: Integer; when shuffling, every batch holds a
            multiple of this many texts: the replicas of a `tf.distribute`
            strategy then share each batch evenly. The fewer than
            `batch_multiple` texts left over in a length bucket sit out
            that epoch (fastai's training loader drops a whole last batch).

    Returns:
        A `tf.data.Dataset` of `(token_ids, targets)`, `token_ids` int32 of
        shape `(batch, longest)`.

    Example:

    ```python
    targets, label_names = encode_labels(train_labels)
    data = classification_dataset(train_texts, targets, classifier.preprocessor, batch_size=64)
    ```
    """
    if not isinstance(texts, tf.RaggedTensor):
        texts = list(texts)
    targets = np.asarray(targets)
    count = int(texts.nrows()) if isinstance(texts, tf.RaggedTensor) else len(texts)
    if not count:
        raise ValueError("Argument `texts` must hold at least one text. Received: texts=[]")
    if len(targets) != count:
        raise ValueError(
            "Arguments `texts` and `targets` must have the same length. "
            f"Received: {count} texts and {len(targets)} targets"
        )
    if batch_size % batch_multiple:
        raise ValueError(
            f"Argument `batch_size` must be a multiple of `batch_multiple` ({batch_multiple}). "
            f"Received: batch_size={batch_size}"
        )
    if max_tokens is not None and max_tokens < 1:
        raise ValueError(f"Argument `max_tokens` must be a positive integer or None. Received: max_tokens={max_tokens}")
    padding_id = PADDING_ID
    if isinstance(tokenizer, ULMFiTTextClassifierPreprocessor):  # the classifier's: its cut and padding
        tokenizer, max_tokens, padding_id = tokenizer.tokenizer, tokenizer.max_tokens, tokenizer.padding_id
    ids = tf.cast(texts, tf.int32) if isinstance(texts, tf.RaggedTensor) else tokenize_all(texts, tokenizer)
    ids = last_tokens(ids, max_tokens)
    # Rows of a ragged tensor carry a ragged spec that `padded_batch`
    # refuses; inside `map` they are plain tensors, which `identity` keeps.
    dataset = tf.data.Dataset.from_tensor_slices((ids, targets)).map(
        lambda token_ids, target: (tf.identity(token_ids), target)
    )
    if not shuffle:
        dataset = dataset.padded_batch(batch_size, padding_values=(padding_id, _zero(targets)))
        return dataset.prefetch(tf.data.AUTOTUNE)
    lengths = ids.row_lengths().numpy()
    boundaries = np.unique(np.quantile(lengths, np.linspace(0, 1, num_buckets + 1)[1:-1]).astype(int) + 1)
    dataset = dataset.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.bucket_by_sequence_length(
        element_length_func=lambda token_ids, _: tf.shape(token_ids)[0],
        bucket_boundaries=boundaries.tolist(),
        bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
        padding_values=(padding_id, _zero(targets)),
    )
    # Batches leave the buckets in an order set by the shuffle; shuffle them
    # once more so that long and short batches mix.
    if batch_multiple > 1:

        def trim(token_ids, target):
            rows = tf.shape(token_ids)[0] // batch_multiple * batch_multiple
            return token_ids[:rows], target[:rows]

        dataset = dataset.map(trim).filter(lambda token_ids, _: tf.shape(token_ids)[0] > 0)
    dataset = dataset.shuffle(64, seed=seed, reshuffle_each_iteration=True)
    # The batch count does not depend on the shuffle; telling tf.data lets
    # Keras show progress and end epochs without an "ran out of data" warning.
    per_bucket = np.bincount(np.searchsorted(boundaries, lengths, side="right"))
    batches = int(np.sum(per_bucket // batch_size + (per_bucket % batch_size >= batch_multiple)))
    return dataset.apply(tf.data.experimental.assert_cardinality(batches)).prefetch(tf.data.AUTOTUNE)


def tokenize_all(texts, tokenizer, batch_size=1024, progress=False):
    """All texts' ids as one `tf.RaggedTensor`, tokenized in batches.

    Args:
        texts: List of strings.
        tokenizer: A callable mapping a batch of strings to ragged ids, or
            a `ULMFiTTextClassifierPreprocessor` (the ids its classifier
            reads: each text's last `max_tokens`, unpadded).
        batch_size: Integer, texts per tokenizer call.
        progress: Boolean, show a progress bar (texts done, rate).
    """
    if isinstance(tokenizer, ULMFiTTextClassifierPreprocessor):
        return last_tokens(tokenize_all(texts, tokenizer.tokenizer, batch_size, progress), tokenizer.max_tokens)
    # On a terminal a bar that redraws itself; in a log file or pipe, one line at the end.
    bar = keras.utils.Progbar(len(texts), unit_name="text", verbose=1 if sys.stdout.isatty() else 2) if progress else None
    pieces = []
    for start in range(0, len(texts), batch_size):
        pieces.append(tokenizer(tf.constant(texts[start : start + batch_size], tf.string)))
        if bar is not None:
            bar.update(min(start + batch_size, len(texts)))
    return tf.cast(tf.concat(pieces, axis=0), tf.int32)


def _zero(targets):
    return tf.constant(0, tf.as_dtype(targets.dtype))


def _as_list(label):
    if isinstance(label, str):
        return [part.strip() for part in label.split(";") if part.strip()]
    return list(label)


def _natural(name):
    """Sorts "2" before "10"."""
    return (0, int(name), "") if name.lstrip("-").isdigit() else (1, 0, name)
