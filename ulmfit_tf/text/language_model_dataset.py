import tensorflow as tf


def language_model_dataset(
    texts,
    tokenizer,
    batch_size=64,
    bptt=72,
    shuffle=True,
    seed=None,
    random_length=False,
    chunk_documents=None,
):
    """Batches of `(x, y)` token windows for a (stateful) language model.

    Documents are tokenized in the `tf.data` graph and laid out as fastai's
    `LMDataLoader` does: their ids, one after the other, form a stream that
    is cut into `batch_size` rows; batch `k` holds the `k`-th window of
    `bptt` tokens of every row, and `y` is `x` shifted by one token. Row `r`
    of each batch therefore continues row `r` of the previous batch, which
    is what a stateful language model needs (`AWDLSTMBackbone(stateful=True,
    batch_size=batch_size)`). The documents are shuffled again at every
    epoch (every new iteration of the dataset).

    For corpora larger than memory, pass a `tf.data.Dataset` of texts (for
    example `tf.data.TextLineDataset(files)`) and `chunk_documents`: the
    stream is then laid out one chunk of that many documents at a time, so
    memory stays bounded by a chunk; each row still continues across
    chunks, and each chunk drops its last, incomplete window (fewer than
    `bptt` tokens per row).

    Args:
        texts: List of strings, or a `tf.data.Dataset` of scalar strings.
        tokenizer: A callable mapping a batch of strings to a
            `tf.RaggedTensor` of ids, such as `SentencePieceTokenizer`.
        batch_size: Integer, rows per batch.
        bptt: Integer, window length (fastai `seq_len`, 72).
        shuffle: Boolean, shuffle documents each epoch.
        seed: Optional integer, seeds the shuffle and the random lengths.
        random_length: Boolean. If `True`, each batch's window length is
            drawn as in AWD-LSTM: `bptt` with probability 0.95, else
            `bptt / 2`, then normal with standard deviation 5, at least 5.
        chunk_documents: Optional integer, documents per chunk (see above).
            Defaults to all documents in one chunk.

    Returns:
        A `tf.data.Dataset` of `(x, y)` int32 tensors of shape
        `(batch_size, window)`.

    Example:

    ```python
    data = language_model_dataset(texts, tokenizer, batch_size=32, bptt=70)
    model.fit(data, epochs=1)
    ```
    """
    for name, value in (("batch_size", batch_size), ("bptt", bptt)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"Argument `{name}` must be a positive integer. Received: {name}={value}")
    if isinstance(texts, tf.data.Dataset):
        documents = texts
    else:
        texts = list(texts)
        if not texts:
            raise ValueError("Argument `texts` must hold at least one document. Received: texts=[]")
        documents = tf.data.Dataset.from_tensor_slices(tf.constant(texts, tf.string))
    if chunk_documents is None:
        if isinstance(texts, tf.data.Dataset):
            raise ValueError(
                "Argument `chunk_documents` must be set when `texts` is a `tf.data.Dataset` "
                "(the stream is laid out one chunk at a time). Received: chunk_documents=None"
            )
        chunk_documents = len(texts)
    if shuffle:
        documents = documents.shuffle(chunk_documents, seed=seed, reshuffle_each_iteration=True)
    chunks = documents.batch(chunk_documents).map(tokenizer, num_parallel_calls=tf.data.AUTOTUNE)
    # One random seed per chunk, new at every epoch, for the window lengths.
    chunk_seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)

    def windows(ids, chunk_seed):
        stream = tf.cast(ids.flat_values, tf.int32)
        row_length = tf.shape(stream)[0] // batch_size
        rows = tf.reshape(stream[: row_length * batch_size], (batch_size, row_length))
        if random_length:
            sizes = _random_lengths(bptt, row_length // 5 + 1, chunk_seed)
        else:
            sizes = tf.fill([(row_length - 1) // bptt], bptt)
        ends = tf.cumsum(sizes)
        # Each window needs one more token for its targets.
        sizes = sizes[ends <= row_length - 1]
        starts = tf.cumsum(sizes, exclusive=True)
        return tf.data.Dataset.from_tensor_slices((starts, sizes)).map(
            lambda start, size: (rows[:, start : start + size], rows[:, start + 1 : start + size + 1])
        )

    return tf.data.Dataset.zip(chunks, chunk_seeds).flat_map(windows).prefetch(tf.data.AUTOTUNE)


def _random_lengths(bptt, count, seed):
    """AWD-LSTM's window lengths: around bptt (95%) or bptt / 2, sd 5, >= 5."""
    seed = tf.stack([seed, tf.constant(0, tf.int64)])
    base = tf.where(tf.random.stateless_uniform([count], seed) < 0.95, float(bptt), bptt / 2)
    noise = 5.0 * tf.random.stateless_normal([count], seed + 1)
    return tf.cast(tf.maximum(5.0, tf.round(base + noise)), tf.int32)
