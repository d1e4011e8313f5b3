"""benchmarks/glove_word_lstm.py: vocabulary, ids, the GloVe start, padding-free pooling, and that it learns."""

import importlib.util
import pathlib
import sys

import numpy as np

BENCHMARKS = pathlib.Path(__file__).parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
spec = importlib.util.spec_from_file_location("benchmarks_glove_word_lstm", BENCHMARKS / "glove_word_lstm.py")
word_lstm = importlib.util.module_from_spec(spec)
spec.loader.exec_module(word_lstm)


def test_vocabulary_and_ids():
    texts = ["A good film, good!", "a BAD film", "good"]
    # Seen twice or more, most frequent first: good (3), a (2), film (2); "," "!" "bad" once.
    assert word_lstm.vocabulary(texts) == ["good", "a", "film"]
    index = {"good": 2, "a": 3, "film": 4}
    ids = word_lstm.word_ids(["a good film!", "", "zzz good"], index)
    np.testing.assert_array_equal(ids, [[3, 2, 4, 1], [1, 0, 0, 0], [1, 2, 0, 0]])
    assert ids.dtype == np.int32


def test_the_embedding_starts_from_glove():
    glove = (["the", "good", "good", "film"], np.array([[1, 1], [2, 2], [9, 9], [3, 3]], np.float32))
    embedding = word_lstm.starting_embedding(["film", "zzz", "good"], glove, seed=0)
    assert embedding.shape == (5, 2) and embedding.dtype == np.float32
    np.testing.assert_array_equal(embedding[2], [3, 3])
    np.testing.assert_array_equal(embedding[4], [2, 2])  # a word listed twice takes its first row
    assert not np.isin(embedding[3], glove[1]).all()  # unknown to GloVe: drawn


def test_pooling_reads_only_the_real_words():
    import keras

    keras.utils.set_random_seed(0)
    model = word_lstm.build(np.random.default_rng(0).normal(size=(6, 4)).astype("float32"), num_classes=2)
    short = np.array([[2, 3, 4]], "int32")
    padded = np.array([[2, 3, 4, 0, 0, 0, 0]], "int32")
    np.testing.assert_allclose(model.predict(short, verbose=0), model.predict(padded, verbose=0), atol=1e-6)


def test_it_learns_a_separable_task(monkeypatch):
    monkeypatch.setattr(word_lstm, "MIN_UPDATES", 60)  # 240 in the recipe
    words = ["good", "great", "bad", "awful", "film", "plot"]
    glove = (words, np.random.default_rng(1).normal(size=(len(words), 50)).astype("float32"))
    rng = np.random.default_rng(2)
    texts, labels = [], []
    for _ in range(128):
        label = int(rng.integers(2))
        texts.append(f"{rng.choice(words[4:])} {rng.choice(words[:2] if label else words[2:4])} {rng.choice(words[4:])}")
        labels.append(label)
    result = word_lstm.glove_word_lstm((texts[:96], labels[:96]), (texts[96:], labels[96:]), glove, 1, texts)
    assert result["test_accuracy"] == 1.0 and result["epochs"] == 30  # 2 steps an epoch: 60 updates
