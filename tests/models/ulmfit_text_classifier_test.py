import keras
import numpy as np
import pytest

from tests.conftest import save_and_reload
from ulmfit_tf.models import AWDLSTMBackbone
from ulmfit_tf.models import ULMFiTLanguageModel
from ulmfit_tf.models import ULMFiTTextClassifier
from ulmfit_tf.text import SentencePieceTokenizer

_WORDS = ["the", "film", "cast", "plot", "and", "a", "story", "its"]
_RNG = np.random.default_rng(0)
# Reviews of many lengths, so that length buckets mix both labels.
TEXTS = [
    " ".join(_RNG.choice(_WORDS, size=int(n)).tolist() + [("fine moving" if i % 2 == 0 else "dull slow")])
    for i, n in enumerate(_RNG.integers(1, 9, size=48))
]
LABELS = ["fresh", "rotten"] * 24


@pytest.fixture(scope="module")
def tokenizer():
    corpus = [f"{t} {t.upper()} {i}" for i, t in enumerate(TEXTS * 4)]
    return SentencePieceTokenizer.train(corpus, vocabulary_size=60)


def language_model(vocabulary_size=60, **kwargs):
    backbone = AWDLSTMBackbone(vocabulary_size, embedding_dim=8, hidden_dim=12, num_layers=2, **kwargs)
    return ULMFiTLanguageModel(backbone)


def classifier(num_classes=2, **kwargs):
    return ULMFiTTextClassifier.from_language_model(language_model(), num_classes, seed=1, **kwargs)


def test_from_language_model_copies_the_encoder_with_classifier_dropouts():
    lm = language_model(stateful=True, batch_size=4)
    model = ULMFiTTextClassifier.from_language_model(lm, num_classes=3, bptt=4, max_len=8)
    backbone = model.backbone
    assert backbone.padding_id == 1 and not backbone.stateful
    assert (backbone.input_dropout, backbone.weight_dropout) == (0.4, 0.5)
    for mine, theirs in zip(backbone.encoder_variables(), lm.backbone.encoder_variables()):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    assert model.predict(np.array([[2, 5, 6, 1]]), verbose=0).shape == (1, 3)
    groups = model.layer_groups()
    assert [len(g) for g in groups] == [1, 1, 1, 1]
    grouped = {id(v) for group in groups for layer in group for v in layer.trainable_variables}
    assert grouped == {id(v) for v in model.trainable_variables}


def test_documents_alone_and_batched_agree_under_bpt3c():
    model = classifier(bptt=3, max_len=6)
    rng = np.random.default_rng(0)
    docs = [rng.integers(2, 60, size=n) for n in (17, 7, 3, 1)]
    alone = np.concatenate([model.predict(doc[None], verbose=0) for doc in docs])
    batch = np.ones((4, 17), "int32")
    for row, doc in zip(batch, docs):
        row[: len(doc)] = doc
    np.testing.assert_allclose(model.predict(batch, verbose=0), alone, atol=1e-5)


def test_pooling_mask_keeps_whole_chunks_within_max_len():
    model = classifier(bptt=3, max_len=6)
    ids = np.array([[2] * 8 + [1] * 2, [2] * 4 + [1] * 6])
    mask = model.pooling_mask(ids).numpy().astype(int)
    # Length 8: chunks start at 0, 3, 6; kept where 8 - start <= 6 -> 3 and 6.
    assert mask.tolist() == [[0, 0, 0, 1, 1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]]


def test_fit_predict_and_save_on_raw_texts(tokenizer, tmp_path):
    model = ULMFiTTextClassifier.from_language_model(
        language_model(tokenizer.vocabulary_size), 2, preprocessor=tokenizer, label_names=["fresh", "rotten"], seed=1,
        dropout_multiplier=0.2,
    )
    model.compile(optimizer=keras.optimizers.Adam(0.02))
    history = model.fit(TEXTS, LABELS, batch_size=8, epochs=8, verbose=0, validation_data=(TEXTS[:4], LABELS[:4]))
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["val_accuracy"][-1] == 1.0
    probabilities = model.probabilities(model.predict(TEXTS[:4], verbose=0)).numpy()
    assert probabilities.argmax(axis=1).tolist() == [0, 1, 0, 1]
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)
    reloaded = save_and_reload(model, tmp_path)
    np.testing.assert_allclose(reloaded.predict(TEXTS[:4], verbose=0), model.predict(TEXTS[:4], verbose=0), atol=1e-6)
    assert reloaded.evaluate(TEXTS[:4], LABELS[:4], verbose=0, return_dict=True)["accuracy"] == 1.0


def test_multi_label_and_bounded_regression():
    ids = np.random.default_rng(0).integers(2, 60, size=(16, 6))
    multi = classifier(num_classes=3, problem_type="multi_label", label_names=["a", "b", "c"])
    multi.compile()
    targets = multi.encode_targets([["a", "c"], ["b"]] * 8)
    assert targets[:2].tolist() == [[1, 0, 1], [0, 1, 0]]
    multi.fit(ids, targets, epochs=1, verbose=0)
    probabilities = multi.probabilities(multi.predict(ids, verbose=0)).numpy()
    assert ((probabilities > 0) & (probabilities < 1)).all()
    regression = classifier(num_classes=1, problem_type="regression", y_range=(1.0, 5.0))
    regression.compile()
    regression.fit(ids, np.linspace(1, 5, 16), epochs=1, verbose=0)
    values = regression.predict(ids, verbose=0)
    assert ((values > 1.0) & (values < 5.0)).all()


def test_errors():
    backbone = AWDLSTMBackbone(60, embedding_dim=8, hidden_dim=12, num_layers=2)
    with pytest.raises(ValueError, match="Argument `backbone` must mask padding"):
        ULMFiTTextClassifier(backbone, 2)
    with pytest.raises(ValueError, match="Argument `max_len` must be None or an integer >= bptt"):
        classifier(bptt=8, max_len=4)
    with pytest.raises(ValueError, match="Argument `problem_type` must be one of"):
        classifier(problem_type="ranking")
    with pytest.raises(ValueError, match="Argument `y_range` must be"):
        classifier(y_range=(0, 1))
    with pytest.raises(ValueError, match="no `preprocessor`"):
        classifier().predict(["text"])
    with pytest.raises(ValueError, match="no `label_names`"):
        classifier().encode_targets(["fresh"])
    with pytest.raises(ValueError, match="same sizes"):
        classifier().load_encoder(language_model(vocabulary_size=61))
