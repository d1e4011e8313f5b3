import pytest

from ulmfit_tf import datasets
from ulmfit_tf.text import SentencePieceTokenizer
from ulmfit_tf.text import WordTokenizer

TEXTS = ["A fine, moving film.", "", "The end"]


@pytest.fixture(scope="module")
def sentencepiece():
    return SentencePieceTokenizer.train([a["text"] for a in datasets.load_news_articles()[:100]], vocabulary_size=300)


@pytest.mark.parametrize("kind", ["word", "sentencepiece"])
def test_with_direction_reverses_a_copy_and_keeps_the_rest(kind, sentencepiece):
    forward = WordTokenizer(vocabulary=["xxunk", "xxpad", "xxbos", "a", "fine"]) if kind == "word" else sentencepiece
    assert forward.with_direction(False) is forward
    backward = forward.with_direction(True)
    assert backward is not forward and backward.reverse and not forward.reverse
    assert type(backward) is type(forward)
    assert backward(TEXTS).to_list() == [row[::-1] for row in forward(TEXTS).to_list()]
    assert backward.with_direction(True) is backward
    assert backward.with_direction(False)(TEXTS).to_list() == forward(TEXTS).to_list()
    assert {**backward.get_config(), "reverse": False, "name": None} == {**forward.get_config(), "name": None}
