import json
import os

import keras
import pytest
import tensorflow as tf

from ulmfit_tf.text import Vocabulary
from ulmfit_tf.text import WordTokenizer

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "fixtures", "fastai_tokens.json")


@pytest.fixture(scope="module")
def fixture():
    with open(FIXTURE) as f:
        return json.load(f)


def tokens(texts, **kwargs):
    return [[t.decode() for t in row] for row in WordTokenizer(**kwargs)(texts).to_list()]


def test_reproduces_fastai_on_the_fixture(fixture):
    items = fixture["items"]
    got = tokens([item["text"] for item in items])
    expected = [item["tokens"] for item in items]
    mismatched = [(e, g) for e, g in zip(expected, got) if e != g]
    assert not mismatched, mismatched[:3]


# Expected tokens: fastai 2.8.12's `Tokenizer(WordTokenizer())` on each text.
@pytest.mark.parametrize(
    "text, expected",
    [
        ("<br />Great &amp; fun &quot;film&quot;", ["xxmaj", "great", "&", "&", "fun", "&", "'", "film", "&", "'"]),
        ("Sooooo good!!!!", ["s", "xxrep", "5", "o", "good", "xxrep", "4", "!"]),
        ("no no no no!", ["xxwrep", "4", "no", "!"]),
        ("word word word word word here", ["xxwrep", "5", "word", "here"]),
        ("#1 hit / must see", ["#", "1", "hit", "/", "must", "see"]),
        ("   spaces   everywhere  ", ["spaces", "everywhere"]),
        ("I LOVE this", ["i", "xxup", "love", "this"]),
        ("THE END.", ["xxup", "the", "xxup", "end", "."]),
        ("Émile Zola's café", ["émile", "xxmaj", "zola", "'s", "café"]),
        ("(Danny Huston gives)", ["(", "danny", "xxmaj", "huston", "gives", ")"]),
        ("Don't do it, it's bad... really", ["xxmaj", "do", "n't", "do", "it", ",", "it", "'s", "bad", "…", "really"]),
        ("can’t and cannot, gonna", ["ca", "n’t", "and", "can", "not", ",", "gon", "na"]),
        ("a kilt-wearing K-19 9-11 fan", ["a", "kilt", "-", "wearing", "xxup", "k-19", "9", "-", "11", "fan"]),
        ("at 5 p.m. vs. the U.S. team", ["at", "5", "p.m.", "vs.", "the", "xxup", "u.s", ".", "team"]),
        ("one\ntwo", ["one", "\n", "two"]),
    ],
)
def test_rules_one_by_one(text, expected):
    assert tokens([text])[0] == ["xxbos"] + expected


@pytest.mark.parametrize("text", ["", "  \t ", b"bad \xff\xfe bytes", "nul\x00byte", "emoji \U0001F600!", "日本語 и русский", "x" * 50000])
def test_awkward_text(text):
    row = WordTokenizer()(tf.constant([text])).to_list()[0]
    assert row[0] == b"xxbos"
    assert all(token.strip() for token in row[1:]) or row[1:] == [b"\n"]
    for token in row:
        token.decode("utf-8")  # valid UTF-8 throughout


def test_in_tf_data_with_a_vocabulary():
    tokenizer = WordTokenizer()
    vocabulary = Vocabulary.from_corpus(tokenizer(["The film is good.", "The film is bad."]).to_list(), min_freq=2)
    dataset = tf.data.Dataset.from_tensor_slices(["The film is great."]).batch(1).map(tokenizer).map(vocabulary)
    ids = next(iter(dataset)).to_list()[0]
    assert vocabulary.decode(tf.constant(ids)).numpy().tolist() == [b"xxbos", b"xxmaj", b"the", b"film", b"is", b"xxunk", b"."]


def test_config_and_options():
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(WordTokenizer(add_bos=False)))
    assert restored.add_bos is False
    assert tokens(["Hi there"], add_bos=False) == [["xxmaj", "hi", "there"]]
    assert tokens("One") == [["xxbos", "xxmaj", "one"]]


def test_vocabulary_maps_tokens_to_ids_and_round_trips():
    itos = ["xxunk", "xxpad", "xxbos", "xxeos", "xxfld", "xxrep", "xxwrep", "xxup", "xxmaj", "a", "fine", "film", "."]
    tokenizer = WordTokenizer(vocabulary=itos)
    ids = tokenizer(["A fine film.", "A dull film."])
    assert ids.dtype == tf.int32
    assert ids.to_list() == [[2, 9, 10, 11, 12], [2, 9, 0, 11, 12]]
    assert tokenizer.vocabulary_size() == 13 and tokenizer.get_vocabulary() == itos
    restored = WordTokenizer.from_config(tokenizer.get_config())
    assert restored(["A dull film."]).to_list() == [[2, 9, 0, 11, 12]]


def test_reverse_reads_each_text_last_token_first():
    forward = tokens(["A fine film.", "", "Hi there"])
    backward = tokens(["A fine film.", "", "Hi there"], reverse=True)
    assert backward == [row[::-1] for row in forward]
    assert WordTokenizer.from_config(WordTokenizer(reverse=True).get_config()).reverse
