import keras
import numpy as np
import pytest
import sentencepiece
import tensorflow as tf

from ulmfit_tf import datasets
from ulmfit_tf.text import SentencePieceTokenizer


@pytest.fixture(scope="module")
def tokenizer():
    texts = [a["text"] for a in datasets.load_news_articles()[:300]]
    return SentencePieceTokenizer.train(texts, vocabulary_size=800)


def test_special_ids_follow_fastai(tokenizer):
    assert tokenizer.get_vocabulary()[:4] == ["xxunk", "xxpad", "xxbos", "xxeos"]
    assert tokenizer.vocabulary_size() == 800
    ids = tokenizer(["The President said.", "the president"]).to_list()
    assert all(row[0] == 2 for row in ids)
    assert 1 not in sum(ids, [])  # never padding
    with_eos = SentencePieceTokenizer(tokenizer.proto, add_bos=False, add_eos=True)
    row = with_eos(["The President said."]).to_list()[0]
    assert row == ids[0][1:] + [3]


def test_case_fold_gives_the_ids_of_the_lowercased_text(tokenizer):
    texts = [a["text"] for a in datasets.load_news_articles()[:300]]
    folded = SentencePieceTokenizer.train(texts, vocabulary_size=800, case_fold=True)
    sample = ["The PRESIDENT Said on Tuesday That TAXES Would Rise.", "NASA's new CEO"]
    assert folded(sample).to_list() == folded([t.lower() for t in sample]).to_list()
    assert not any(piece != piece.lower() for piece in folded.get_vocabulary()[4:])
    # The cased model keeps case apart.
    assert tokenizer(sample).to_list() != tokenizer([t.lower() for t in sample]).to_list()


def test_vocabulary_is_the_models_pieces_in_id_order(tokenizer):
    from sentencepiece import sentencepiece_model_pb2

    model = sentencepiece_model_pb2.ModelProto()
    model.ParseFromString(tokenizer.proto)
    vocabulary = tokenizer.get_vocabulary()
    assert vocabulary == [piece.piece for piece in model.pieces]
    # The in-graph op's ids name these pieces.
    processor = sentencepiece.SentencePieceProcessor(model_proto=tokenizer.proto)
    text = "The President said on Tuesday that taxes would rise."
    ids = tokenizer([text]).to_list()[0]
    assert [vocabulary[i] for i in ids[1:]] == processor.encode(text, out_type=str)


def test_case_is_kept_and_text_round_trips(tokenizer):
    upper, lower = tokenizer(["President", "president"]).to_list()
    assert upper != lower
    texts = ["The President said on Tuesday that taxes would rise.", "Markets fell 3% in early trading."]
    np.testing.assert_array_equal(tokenizer.detokenize(tokenizer(texts)).numpy(), [t.encode() for t in texts])


@pytest.mark.parametrize(
    "text",
    ["", "   \t\n ", b"broken \xff\xfe utf-8", "nul\x00byte", "emoji \U0001F600 here", "日本語のテキスト", "Ελληνικά και русский", "x" * 20000],
)
def test_awkward_text_gives_valid_ids(tokenizer, text):
    ids = tokenizer(tf.constant([text])).to_list()[0]
    assert ids[0] == 2
    assert all(0 <= i < 800 for i in ids)
    if isinstance(text, str) and not text.strip():
        assert ids == [2]


def test_scalar_and_graph_mode(tokenizer):
    assert tokenizer("Hello").to_list() == tokenizer(["Hello"]).to_list()
    dataset = tf.data.Dataset.from_tensor_slices(["one text", "another, longer text"]).batch(2).map(tokenizer)
    batch = next(iter(dataset))
    assert batch.to_list() == tokenizer(["one text", "another, longer text"]).to_list()


class TokenizingModel(keras.Model):
    def __init__(self, tokenizer, **kwargs):
        super().__init__(**kwargs)
        self.tokenizer = tokenizer

    def call(self, texts):
        return self.tokenizer(texts).to_tensor(default_value=1)

    def get_config(self):
        return {"tokenizer": keras.saving.serialize_keras_object(self.tokenizer)}

    @classmethod
    def from_config(cls, config):
        return cls(keras.saving.deserialize_keras_object(config["tokenizer"]))


def test_saved_and_reloaded_with_a_model(tokenizer, tmp_path):
    model = TokenizingModel(tokenizer)
    texts = tf.constant(["Saved with the model.", "Reloaded from the file."])
    expected = model(texts)
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras", custom_objects={"TokenizingModel": TokenizingModel})
    assert reloaded.tokenizer.proto == tokenizer.proto
    np.testing.assert_array_equal(reloaded(texts), expected)


def test_errors():
    with pytest.raises(ValueError, match="No SentencePiece model is set"):
        SentencePieceTokenizer()(["text"])
    with pytest.raises(ValueError, match=r"Argument `vocabulary_size` is too large for these texts: they allow at most \d+ pieces"):
        SentencePieceTokenizer.train(["a tiny corpus", "of two texts"], vocabulary_size=5000)
    with pytest.raises(ValueError, match="at least one non-empty text"):
        SentencePieceTokenizer.train(["", "  "])
    with pytest.raises(ValueError, match="Argument `proto` must be the bytes of a SentencePiece model"):
        SentencePieceTokenizer(proto=123)
    with pytest.raises(ValueError, match="Argument `proto` is not a serialized SentencePiece model"):
        SentencePieceTokenizer(proto=b"")


def test_feeds_the_language_model_pipeline(tokenizer):
    from ulmfit_tf.text import language_model_dataset

    texts = [a["text"] for a in datasets.load_news_articles()[300:340]]
    x, y = next(iter(language_model_dataset(texts, tokenizer, batch_size=4, bptt=16, seed=0)))
    assert x.shape == (4, 16) and x.dtype == tf.int32
    assert int(tf.reduce_max(x)) < tokenizer.vocabulary_size()
    assert 2 in x.numpy()  # xxbos marks where documents begin


def test_reverse_gives_backward_ids_and_still_detokenizes(tokenizer):
    texts = ["The President said.", "", "Markets fell"]
    backward = SentencePieceTokenizer(tokenizer.proto, reverse=True)
    assert backward(texts).to_list() == [row[::-1] for row in tokenizer(texts).to_list()]
    assert backward.detokenize(backward(texts)).numpy().tolist() == [t.encode() for t in texts]
