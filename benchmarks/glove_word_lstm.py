"""The strongest simple neural baseline: a one-layer word LSTM whose embedding starts from GloVe 6B 50d.

The recipe of `../shared/DESIGN.md` ("Baselines a user would pick
instead"), a plain Keras model, not ulmfit-tf: words lower-cased and split
on `[a-z0-9']+|[^\\sa-z0-9]` (`baselines.glove_words`); a vocabulary of the
training split's words seen at least twice (its texts only, never its
labels: as ULMFiT's LM fine-tuning reads them), ids 0 (padding) and 1
(unknown) first; the embedding (50, trainable) starts from each word's
GloVe vector, a word GloVe lacks from a normal draw with the vectors'
standard deviation; spatial dropout 0.2, one LSTM of 128, the max and the
mean of its outputs over the real words, dropout 0.4, a softmax; Adam 2e-3,
batch 64, 4 epochs or enough epochs for 240 updates, whichever is more.
Seeded by `keras.utils.set_random_seed`; its spread over seeds is real.

    from glove_word_lstm import glove_word_lstm
    glove_word_lstm(train, test, glove, seed=1, vocabulary_texts=train[0])
"""

import collections
import math

import numpy as np

from baselines import glove_rows
from baselines import glove_words

MIN_COUNT = 2
EPOCHS, MIN_UPDATES, BATCH_SIZE = 4, 240, 64


def vocabulary(texts):
    """Words seen at least `MIN_COUNT` times, most frequent first (ties in first-seen order)."""
    counts = collections.Counter(word for text in texts for word in glove_words(text))
    return [word for word, count in counts.most_common() if count >= MIN_COUNT]


def word_ids(texts, index):
    """Right-padded int32 ids `(texts, longest)`: 0 pads, 1 is an unknown word (and an empty text)."""
    rows = [[index.get(word, 1) for word in glove_words(text)] or [1] for text in texts]
    ids = np.zeros((len(rows), max(len(row) for row in rows)), "int32")
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
    return ids


def starting_embedding(words, glove, seed):
    """`(2 + len(words), dim)`: GloVe's vector for each word it has, a normal draw otherwise."""
    row, vectors = glove_rows(glove[0]), glove[1]
    rng = np.random.default_rng(seed)
    embedding = rng.normal(0.0, float(vectors.std()), (len(words) + 2, vectors.shape[1])).astype("float32")
    for i, word in enumerate(words):
        if word in row:
            embedding[i + 2] = vectors[row[word]]
    return embedding


def build(embedding, num_classes):
    import keras
    from keras import ops

    ids = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(
        *embedding.shape, embeddings_initializer=keras.initializers.Constant(embedding), mask_zero=True
    )(ids)
    x = keras.layers.SpatialDropout1D(0.2)(x)
    x = keras.layers.LSTM(128, return_sequences=True)(x)
    real = ops.expand_dims(ops.cast(ops.not_equal(ids, 0), x.dtype), -1)
    mean = ops.sum(x * real, axis=1) / ops.maximum(ops.sum(real, axis=1), 1.0)
    largest = ops.max(x - (1.0 - real) * 1e9, axis=1)
    x = keras.layers.Dropout(0.4)(ops.concatenate([largest, mean], axis=-1))
    model = keras.Model(ids, keras.layers.Dense(num_classes, activation="softmax")(x))
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="sparse_categorical_crossentropy")
    return model


def glove_word_lstm(train, test, glove, seed, vocabulary_texts):
    """Test accuracy of the word LSTM trained on `train` (texts, int labels); `glove` = (words, vectors)."""
    import keras

    keras.utils.set_random_seed(seed)
    words = vocabulary(vocabulary_texts)
    index = {word: i + 2 for i, word in enumerate(words)}
    labels = np.asarray(train[1], "int32")
    model = build(starting_embedding(words, glove, seed), int(max(max(train[1]), max(test[1])) + 1))
    steps = math.ceil(len(labels) / BATCH_SIZE)
    epochs = max(EPOCHS, math.ceil(MIN_UPDATES / steps))
    model.fit(word_ids(train[0], index), labels, batch_size=BATCH_SIZE, epochs=epochs, shuffle=True, verbose=0)
    predicted = model.predict(word_ids(test[0], index), batch_size=256, verbose=0).argmax(axis=-1)
    return {"test_accuracy": float(np.mean(predicted == np.asarray(test[1]))), "seed": seed, "epochs": epochs}
