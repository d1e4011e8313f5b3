import keras
import numpy as np
import pytest
import tensorflow as tf

from ulmfit_tf.interpretation import readable_words
from ulmfit_tf.interpretation import score_from_embeddings
from ulmfit_tf.interpretation import token_attributions
from ulmfit_tf.interpretation import top_losses
from ulmfit_tf.models import AWDLSTMBackbone
from ulmfit_tf.models import ULMFiTLanguageModel
from ulmfit_tf.models import ULMFiTTextClassifier
from ulmfit_tf.text import SentencePieceTokenizer
from ulmfit_tf.text import WordTokenizer
from ulmfit_tf.text.vocabulary import Vocabulary

TEXTS = [
    "a fine moving film", "dull slow plot", "the cast is fine", "a slow and dull story",
    "moving and fine", "its plot is dull", "fine", "slow",
]
LABELS = ["pos", "neg", "pos", "neg", "pos", "neg", "pos", "neg"]


@pytest.fixture(scope="module")
def tokenizer():
    return SentencePieceTokenizer.train([f"{t} {i}" for i, t in enumerate(TEXTS * 8)], vocabulary_size=45)


def classifier(tokenizer, num_classes=2, **kwargs):
    backbone = AWDLSTMBackbone(60, embedding_dim=8, hidden_dim=12, num_layers=2, seed=3)
    return ULMFiTTextClassifier.from_language_model(
        ULMFiTLanguageModel(backbone), num_classes, preprocessor=tokenizer, seed=1, bptt=4, max_len=8, **kwargs
    )


@pytest.fixture(scope="module")
def trained(tokenizer):
    # Trained, so that its probabilities move with the words (an untrained one's barely do).
    keras.utils.set_random_seed(7)
    model = classifier(tokenizer, label_names=["neg", "pos"])
    model.compile(optimizer=keras.optimizers.Adam(3e-2))
    model.fit(TEXTS, LABELS, epochs=30, batch_size=8, verbose=0)
    return model


def test_the_forward_pass_from_embeddings_is_the_classifiers(trained):
    model = trained
    ids = tf.constant(model.preprocessor(TEXTS))
    ours = score_from_embeddings(model, model.backbone.token_embedding(ids), ids)
    np.testing.assert_allclose(ours, model.probabilities(model(ids, training=False)), atol=1e-6)


def test_integrated_gradients_add_up_to_the_change_of_probability(trained):
    model = trained

    def change_from_baseline(text):
        ids = tf.constant(model.preprocessor([text]))
        baseline = score_from_embeddings(model, tf.zeros_like(model.backbone.token_embedding(ids)), ids)[0]
        probability = model.probabilities(model(ids, training=False))[0]
        predicted = int(np.argmax(probability))
        return float(probability[predicted] - baseline[predicted]), predicted, float(probability[predicted])

    # The text whose probability moves most from the baseline (a saturated one would prove nothing).
    text = max(TEXTS + ["a slow and dull story about the fine cast"], key=lambda t: abs(change_from_baseline(t)[0]))
    change, predicted, probability = change_from_baseline(text)
    assert abs(change) > 0.05
    # The max pooling puts kinks on the path, so the trapezoidal rule's gap falls about as 1 / steps
    # (measured on this model: 0.011 at 50 steps, 0.0023 at 200, 0.0010 at 800).
    coarse = token_attributions(model, text, steps=50)
    explained = token_attributions(model, text, steps=800)
    assert explained["class_id"] == predicted and explained["label"] == ["neg", "pos"][predicted]
    assert explained["probability"] == pytest.approx(probability, abs=1e-6)
    assert sum(explained["piece_scores"]) == pytest.approx(change, abs=2e-3)
    assert abs(sum(explained["piece_scores"]) - change) < abs(sum(coarse["piece_scores"]) - change)
    assert sum(explained["word_scores"]) == pytest.approx(sum(explained["piece_scores"][1:]), abs=1e-9)


def test_gradient_method_is_fastais_intrinsic_attention(trained):
    model = trained
    text = "its plot is dull but the cast is fine"
    explained = token_attributions(model, text, class_id=1, method="gradient")
    # fastai: the gradient of the class's softmax probability with respect to the embedding output, here
    # read off the embedding matrix's gradient (one row a position: the lookup's IndexedSlices), through
    # the model's own call from token ids.
    ids = tf.constant(model.preprocessor([text]))
    with tf.GradientTape() as tape:
        probability = tf.nn.softmax(model(ids, training=False))[0, 1]
    gradient = tape.gradient(probability, model.backbone.token_embedding.embeddings)
    assert isinstance(gradient, tf.IndexedSlices)
    per_position = np.abs(gradient.values.numpy()).sum(-1)
    real = ids.numpy()[0] != 1
    expected = per_position[real] / per_position[real].max()
    np.testing.assert_allclose(explained["piece_scores"], expected, rtol=1e-4, atol=1e-6)
    assert explained["label"] == "pos" and max(explained["piece_scores"]) == pytest.approx(1.0)


def test_pieces_become_readable_words(tokenizer):
    model = classifier(tokenizer)
    explained = token_attributions(model, "a fine moving film")
    assert "".join(explained["words"]) == "afinemovingfilm"
    assert explained["pieces"][0] == tokenizer.get_vocabulary()[2] or explained["pieces"][0].startswith("<")
    assert readable_words(["xxbos", "xxmaj", "the", "xxup", "cast", "shines"], [9, 1, 2, 3, 4, 5]) == (
        ["The", "CAST", "shines"], [3.0, 7.0, 5.0]
    )
    assert readable_words(["xxbos", "\u2581b", "xxunk", "\u2581film"], [1, 0.5, 0.25, 2])[0] == ["b\u2047", "film"]
    assert readable_words(["xxbos", "\u2581gri", "pping", "\u2581film"], [1, 0.5, 0.25, 2]) == (
        ["gripping", "film"], [0.75, 2.0]
    )


def test_word_tokenizer_classifier_explains_words():
    texts = ["Fine moving film", "dull SLOW plot"]
    tokens = WordTokenizer()(texts).to_list()
    vocabulary = Vocabulary.from_corpus([[t.decode() for t in row] for row in tokens], min_freq=1)
    tokenizer = WordTokenizer(vocabulary=vocabulary)
    vocabulary_size = len(tokenizer.get_vocabulary())
    backbone = AWDLSTMBackbone(vocabulary_size, embedding_dim=8, hidden_dim=12, num_layers=2, seed=3)
    model = ULMFiTTextClassifier.from_language_model(ULMFiTLanguageModel(backbone), 2, preprocessor=tokenizer)
    explained = token_attributions(model, "Fine SLOW film")
    assert explained["pieces"] == ["xxbos", "xxmaj", "fine", "xxup", "slow", "film"]
    assert explained["words"] == ["Fine", "SLOW", "film"]


def test_top_losses_rank_by_the_classifiers_loss(trained):
    model = trained
    rows = top_losses(model, TEXTS, LABELS, k=3)
    logits = model.predict(TEXTS, verbose=0)
    targets = np.array([["neg", "pos"].index(label) for label in LABELS])
    reference = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)(targets, logits).numpy()
    order = np.argsort(-reference)[:3]
    assert [row["index"] for row in rows] == order.tolist()
    np.testing.assert_allclose([row["loss"] for row in rows], reference[order], rtol=1e-5)
    first = rows[0]
    assert first["text"] == TEXTS[first["index"]] and first["label"] == LABELS[first["index"]]
    probabilities = tf.nn.softmax(logits[first["index"]]).numpy()
    assert first["predicted"] == ["neg", "pos"][int(probabilities.argmax())]
    assert first["probability"] == pytest.approx(float(probabilities.max()), rel=1e-5)
    assert len(top_losses(model, TEXTS, LABELS, k=100)) == len(TEXTS)


def test_top_losses_multi_label_and_regression(tokenizer):
    multi = classifier(tokenizer, num_classes=3, problem_type="multi_label", label_names=["a", "b", "c"])
    truth = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 0]], "float32")
    rows = top_losses(multi, TEXTS[:4], truth, k=4)
    logits = multi.predict(TEXTS[:4], verbose=0)
    reference = keras.losses.BinaryCrossentropy(from_logits=True, reduction=None)(truth, logits).numpy()
    assert [row["index"] for row in rows] == np.argsort(-reference).tolist()
    np.testing.assert_allclose(sorted(row["loss"] for row in rows), np.sort(reference), rtol=1e-5)
    assert {tuple(row["label"]) for row in rows} == {("a", "c"), ("b",), ("a", "b"), ()}
    regression = classifier(tokenizer, num_classes=1, problem_type="regression")
    values = np.arange(4, dtype="float32")
    rows = top_losses(regression, TEXTS[:4], values, k=1)
    outputs = regression.predict(TEXTS[:4], verbose=0)[:, 0]
    assert rows[0]["loss"] == pytest.approx(float(np.max((outputs - values) ** 2)), rel=1e-5)


def test_bad_arguments_are_one_clear_line(tokenizer):
    model = classifier(tokenizer)
    with pytest.raises(ValueError, match=r"^Argument `k` must be a positive integer. Received: k=0$"):
        top_losses(model, TEXTS, LABELS, k=0)
    with pytest.raises(ValueError, match=r"Received: 2 labels$"):
        top_losses(model, TEXTS, LABELS[:2])
    with pytest.raises(ValueError, match=r"^Argument `method` must be one of"):
        token_attributions(model, "fine", method="lime")
    with pytest.raises(ValueError, match=r"^Argument `class_id` must be in \[0, 2\). Received: class_id=5$"):
        token_attributions(model, "fine", class_id=5)
