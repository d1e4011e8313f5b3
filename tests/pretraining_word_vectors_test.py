"""pretraining/word_vectors.py: pieces get their word's vector, related words' mean, or a random row."""

import importlib.util
import pathlib

import numpy as np
import pytest
import sentencepiece

from ulmfit_tf import datasets
from ulmfit_tf.text import SentencePieceTokenizer

PATH = pathlib.Path(__file__).parent.parent / "pretraining" / "word_vectors.py"
spec = importlib.util.spec_from_file_location("pretraining_word_vectors", PATH)
word_vectors = importlib.util.module_from_spec(spec)
spec.loader.exec_module(word_vectors)


@pytest.fixture(scope="module")
def processor():
    texts = [a["text"] for a in datasets.load_news_articles()[:200]]
    proto = SentencePieceTokenizer.train(texts, vocabulary_size=500, case_fold=True).proto
    return sentencepiece.SentencePieceProcessor(model_proto=proto)


def test_whole_words_take_their_vector_other_pieces_the_mean_of_related_words(processor):
    whole = [p for p in map(processor.id_to_piece, range(4, 500)) if p.startswith("▁") and len(p) > 3][:5]
    words = [p[1:] for p in whole]
    # Longer words made of several pieces, whose pieces then take their mean.
    candidates = ["governments", "presidential", "unemployment", "restrictions", "international", "nationalism",
                  "investigations", "negotiations", "administrations", "considerations"]
    longer = [w for w in candidates if len(processor.encode(w)) > 1]
    vectors = np.arange(len(words + longer) * 2, dtype=np.float32).reshape(-1, 2)
    found, kinds = word_vectors.piece_vectors(processor, words + longer, vectors)
    for i, piece in enumerate(whole):
        piece_id = processor.piece_to_id(piece)
        assert kinds[piece_id] == "word" and np.array_equal(found[piece_id], vectors[i])
    assert kinds.count("related") > 0
    for piece_id in range(500):
        related = [j for j, w in enumerate(longer) if piece_id in processor.encode(w)]
        if kinds[piece_id] == "related":
            assert len(related) >= word_vectors.MIN_RELATED
            np.testing.assert_allclose(found[piece_id], vectors[[len(words) + j for j in related]].mean(axis=0))
    assert all(kinds[i] == "random" and np.isnan(found[i]).all() for i in (0, 1, 2, 3))  # specials


def test_embedding_scales_to_the_initializer_and_projects_to_the_width():
    rng = np.random.default_rng(1)
    found = rng.normal(scale=0.6, size=(300, 50)).astype(np.float32)
    found[:20] = np.nan  # no vector: random rows
    limit = word_vectors.INITIALIZER_LIMIT
    for fill in ("projection", "random"):
        result = word_vectors.embedding(found, 128, fill=fill, seed=0)
        assert result.shape == (300, 128) and result.dtype == np.float32
        assert np.abs(result[:20]).max() <= limit
        assert result[20:].std() == pytest.approx(limit / np.sqrt(3), rel=0.1)
    projected = word_vectors.embedding(found, 128, fill="projection", seed=0)[20:]
    # An orthonormal projection keeps the vectors' geometry: the cosine similarities are unchanged.
    def cosines(x):
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        return x @ x.T
    np.testing.assert_allclose(cosines(projected), cosines(found[20:]), atol=1e-5)
    appended = word_vectors.embedding(found, 128, fill="random", seed=0)[20:, :50]
    np.testing.assert_allclose(cosines(appended), cosines(found[20:]), atol=1e-5)
    with pytest.raises(ValueError, match=r"^Argument `fill` must be 'projection' or 'random'\. Received: fill='zeros'$"):
        word_vectors.embedding(found, 128, fill="zeros")


def test_scale_multiplies_every_row():
    rng = np.random.default_rng(2)
    found = rng.normal(scale=0.6, size=(100, 50)).astype(np.float32)
    found[:10] = np.nan
    np.testing.assert_allclose(
        word_vectors.embedding(found, 128, seed=3, scale=16.0), 16 * word_vectors.embedding(found, 128, seed=3), rtol=1e-6
    )
    with pytest.raises(ValueError, match=r"^Argument `scale` must be a positive number\. Received: scale=0$"):
        word_vectors.embedding(found, 128, scale=0)


def test_spacy_keys_are_murmurhash64a_of_the_strings():
    # spaCy's documented hashes (`nlp.vocab.strings["coffee"]`, `["apple"]`).
    assert word_vectors.murmurhash64a("coffee".encode()) == 3197928453018144401
    assert word_vectors.murmurhash64a("apple".encode()) == 8566208034543834098


def test_wider_vectors_keep_their_principal_components():
    rng = np.random.default_rng(2)
    # 300-d vectors that vary in 10 directions only: 10 components keep all their geometry.
    found = (rng.normal(size=(200, 10)) @ rng.normal(size=(10, 300))).astype(np.float32)
    reduced = word_vectors.embedding(found, 10, seed=0)
    centred = found - found.mean(axis=0)
    np.testing.assert_allclose(reduced @ reduced.T / (reduced ** 2).sum(), centred @ centred.T / (centred ** 2).sum(),
                               atol=1e-5)
