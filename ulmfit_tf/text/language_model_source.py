import tensorflow as tf

from ulmfit_tf.distribute import distribute_language_model_dataset
from ulmfit_tf.distribute import num_workers
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.text.classification_dataset import tokenize_all
from ulmfit_tf.text.language_model_dataset import language_model_dataset

# Documents per chunk when streaming files: memory is bounded by a chunk.
STREAM_CHUNK_DOCUMENTS = 4096


class LanguageModelSource:
    """The batches of a language-model stage, from texts in memory or streamed from files.

    The texts are laid out as `language_model_dataset` lays them out:
    one stream in `batch_size` rows, read `bptt` tokens at a time. Every
    epoch has the same number of batches, `steps`, counted once here (a
    stateful model and `fit`'s `steps_per_epoch` need it fixed).

    A corpus larger than memory is streamed: give `texts` as a glob pattern
    of UTF-8 text files, one document per line. They are read and
    tokenized on the fly in the `tf.data` graph, `STREAM_CHUNK_DOCUMENTS`
    documents at a time, and `steps` comes from one counting pass in
    constant memory, less one per chunk (a shuffled chunk may give one
    window fewer). Under a multi-worker strategy with at least as many
    files as workers, each worker streams its own shard of the files, laid
    out in its share of the rows.

    Args:
        texts: List of strings; or a glob pattern of text files to stream.
        tokenizer: A tokenizer mapping a batch of strings to ragged ids.
        batch_size: Integer, the global batch: rows of the stream.
        bptt: Integer, tokens per window.
        strategy: Optional `tf.distribute.Strategy` the batches are dealt
            out to (see `distribute_language_model_dataset`). Defaults to
            the current one.
        what: String, what the texts are, for error messages (e.g.
            `"validation texts"`).
        progress: Boolean, show a progress bar while counting texts held in
            memory.

    Example:

    ```python
    source = LanguageModelSource("corpus/shard-*.txt", tokenizer, batch_size=64, bptt=72)
    model.fit(source.dataset(seed=0), steps_per_epoch=source.steps)
    ```
    """

    def __init__(self, texts, tokenizer, batch_size, bptt, strategy=None, what="texts", progress=False):
        self.texts = texts
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.bptt = bptt
        self.strategy = strategy or tf.distribute.get_strategy()
        self.what = what
        self.progress = progress
        if isinstance(texts, str):
            files = text_files(texts)
            workers = num_workers(self.strategy)
            self.shards = [files[i::workers] for i in range(workers)] if 1 < workers <= len(files) else [files]
            rows = batch_size // len(self.shards)
            self.steps = min(count_file_steps(shard, tokenizer, rows, bptt, what) for shard in self.shards)
        else:
            self.shards = None
            self.steps = count_steps(texts, tokenizer, batch_size, bptt, what, progress=progress)

    def dataset(self, shuffle=True, seed=None, start=0, steps=None):
        """A new dataset of `(x, y)` batches, dealt out to the strategy's replicas.

        Args:
            shuffle: Boolean, shuffle the documents.
            seed: Optional integer, seeds the shuffle.
            start: Integer, the first batch of the pass to give (to resume
                or cut a pass into parts; the batches before it are laid
                out and skipped).
            steps: Optional integer, how many batches to give from `start`.
                Defaults to the rest of the pass.
        """
        steps = self.steps - start if steps is None else steps
        if not (0 <= start and 0 < steps and start + steps <= self.steps):
            raise ValueError(
                f"Arguments `start` and `steps` must pick batches within the pass's {self.steps}. "
                f"Received: start={start}, steps={steps}"
            )
        window = dict(start=start, steps=steps)
        if self.shards is None:
            # Every worker lays out the whole stream and keeps its rows.
            data = self._batches(self.texts, self.batch_size, window, shuffle=shuffle, seed=seed)
            return distribute_language_model_dataset(data, self.strategy, self.batch_size)
        rows = self.batch_size // len(self.shards)

        def shard_batches(index):
            documents = tf.data.TextLineDataset(self.shards[index])
            return self._batches(
                documents, rows, window, shuffle=shuffle, seed=seed, chunk_documents=STREAM_CHUNK_DOCUMENTS
            )

        data = shard_batches if len(self.shards) > 1 else shard_batches(0)
        return distribute_language_model_dataset(data, self.strategy, self.batch_size)

    def _batches(self, documents, rows, window, **options):
        data = language_model_dataset(documents, self.tokenizer, rows, self.bptt, **options)
        data = data.take(self.steps).skip(window["start"]).take(window["steps"])
        return data.apply(tf.data.experimental.assert_cardinality(window["steps"]))


def count_steps(texts, tokenizer, batch_size, bptt, what="texts", progress=False):
    """The batches of a stream of texts held in memory (the same in any order).

    Args:
        texts: List of strings.
        tokenizer: A tokenizer mapping a batch of strings to ragged ids.
        batch_size: Integer, rows of the stream.
        bptt: Integer, tokens per window.
        what: String, what the texts are, for error messages.
        progress: Boolean, show a progress bar while tokenizing.

    Returns:
        The number of batches `language_model_dataset` gives, at least 1; a
        `UserInputError` when there are too few tokens for one.

    Example:

    >>> count_steps(["a b c d e f g h"], WordTokenizer(vocabulary=["xxunk"]), batch_size=2, bptt=3)
    1
    """
    tokens = int(tf.reduce_sum(tokenize_all(texts, tokenizer, progress=progress).row_lengths()))
    steps = max(0, count_windows(tokens, batch_size, bptt))
    if steps == 0:
        raise UserInputError(
            f"The {what} are too short for one batch: {tokens:,} tokens, and a batch needs "
            f"batch_size x (bptt + 1) = {batch_size} x {bptt + 1}. Give more text or lower "
            "`batch_size`/`bptt`."
        )
    return steps


def count_file_steps(files, tokenizer, batch_size, bptt, what="texts"):
    """The batches per epoch of streamed text files, counted in one pass in constant memory.

    Each chunk of `STREAM_CHUNK_DOCUMENTS` lines counts its own windows, less
    one: a shuffled chunk may give one window fewer.

    Args:
        files: List of paths of text files, one document per line.
        tokenizer, batch_size, bptt, what: As in `count_steps`.

    Returns:
        The number of batches every epoch has, at least 1; a
        `UserInputError` when the files give none.

    Example:

    ```python
    steps = count_file_steps(text_files("corpus/*.txt"), tokenizer, batch_size=64, bptt=72)
    ```
    """

    def windows(ids):
        return tf.maximum(tf.constant(0, tf.int64), count_windows(tf.size(ids.flat_values, tf.int64), batch_size, bptt))

    chunks = (
        tf.data.TextLineDataset(files)
        .batch(STREAM_CHUNK_DOCUMENTS)
        .map(tokenizer, num_parallel_calls=tf.data.AUTOTUNE)
        .map(windows)
    )
    zero = tf.constant(0, tf.int64)
    total, count = chunks.reduce((zero, zero), lambda a, w: (a[0] + w, a[1] + 1))
    steps = int(total) - int(count)
    if steps < 1:
        raise UserInputError(
            f"The {what} are too short for one batch per epoch: they give {int(total)} windows of "
            f"batch_size x bptt = {batch_size} x {bptt} tokens. Give more text or lower `batch_size`/`bptt`."
        )
    return steps


def count_windows(tokens, batch_size, bptt):
    """The windows of a stream of `tokens` ids laid out in `batch_size` rows.

    `language_model_dataset` cuts each row into windows of `bptt` tokens,
    each with one more token for its targets.

    Args:
        tokens: Integer (Python or tensor), ids in the stream.
        batch_size: Integer, rows.
        bptt: Integer, tokens per window.

    Returns:
        The number of windows; negative when there are too few tokens.

    Example:

    >>> count_windows(100, batch_size=4, bptt=6)
    4
    """
    return (tokens // batch_size - 1) // bptt


def text_files(pattern):
    """The files a glob pattern names, sorted; a `UserInputError` when there are none.

    Example:

    >>> text_files("corpus/shard-*.txt")  # doctest: +SKIP
    ['corpus/shard-000.txt', 'corpus/shard-001.txt']
    """
    files = sorted(tf.io.gfile.glob(pattern))
    if not files:
        raise UserInputError(f"No files match {pattern!r}: give a glob pattern of text files, one document per line.")
    return files


def first_lines(files, count):
    """The first `count` lines of text files read in order, without their line breaks.

    Example:

    ```python
    sample = first_lines(text_files("corpus/*.txt"), 200_000)  # to train a tokenizer on
    ```
    """
    lines = []
    for path in files:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if len(lines) == count:
                    return lines
                lines.append(line.rstrip("\n"))
    return lines
