
import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import save_and_reload
from ulmfit_tf.layers import weight_drop_lstm
from ulmfit_tf.models import AWDLSTMBackbone
from ulmfit_tf.models import ULMFiTLanguageModel
from ulmfit_tf.models import ULMFiTTextClassifier
from ulmfit_tf.text import SentencePieceTokenizer
from ulmfit_tf.text import ULMFiTTextClassifierPreprocessor

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


@pytest.mark.parametrize(
    "bptt, max_len, lengths",
    [
        # Documents longer than max_len (BPT3C pools their last chunks), one-token texts, an empty row.
        (3, 6, [17, 7, 3, 1, 1, 0]),
        (72, 144, [300, 150, 40, 1]),
    ],
)
@pytest.mark.parametrize("training", [False, True])
def test_hand_written_loop_gives_the_masked_loops_outputs_and_gradients(monkeypatch, bptt, max_len, lengths, training):
    """The LSTMs skip padding without masking each step: the logits and gradients of Keras' masked loop."""
    model = classifier(bptt=bptt, max_len=max_len)
    rng = np.random.default_rng(0)
    ids = np.ones((len(lengths), max(lengths)), "int32")
    for row, length in zip(ids, lengths):
        row[:length] = rng.integers(2, 60, size=length)
    weights = tf.constant(rng.normal(size=(len(lengths), 2)), tf.float32)
    state = [v.numpy() for v in model.non_trainable_variables]  # dropout seeds, BatchNorm statistics

    def step():
        for variable, value in zip(model.non_trainable_variables, state):
            variable.assign(value)
        with tf.GradientTape() as tape:
            logits = model(ids, training=training)
            loss = tf.reduce_sum(logits * weights)
        return [logits] + tape.gradient(loss, model.trainable_variables)

    monkeypatch.setattr(weight_drop_lstm, "HAND_WRITTEN_BACKWARD", False)
    masked = step()
    monkeypatch.setattr(weight_drop_lstm, "HAND_WRITTEN_BACKWARD", True)
    hand_written = step()
    for a, b, name in zip(hand_written, masked, ["logits"] + [v.path for v in model.trainable_variables]):
        np.testing.assert_allclose(tf.convert_to_tensor(a), tf.convert_to_tensor(b), rtol=1e-5, atol=1e-5, err_msg=name)


def test_xla_predictions_match_the_plain_path(tokenizer):
    # `compile(jit_compile=True)`: README's fast path for one request on a CPU.
    plain, fast = (
        ULMFiTTextClassifier.from_language_model(
            language_model(tokenizer.vocabulary_size()), 2, preprocessor=tokenizer, bptt=3, max_len=6, seed=1
        )
        for _ in range(2)
    )
    ids = np.ones((3, 11), "int32")
    for row, n in zip(ids, (11, 5, 1)):  # BPT3C chunks, padding after the text
        row[:n] = np.arange(2, 2 + n)
    plain.predict_on_batch(ids)
    fast.predict_on_batch(ids)
    fast.set_weights(plain.get_weights())
    fast.compile(jit_compile=True)
    assert fast.jit_compile
    np.testing.assert_allclose(fast.predict_on_batch(ids), plain.predict_on_batch(ids), atol=1e-5)
    np.testing.assert_allclose(fast.predict(TEXTS[:5], verbose=0), plain.predict(TEXTS[:5], verbose=0), atol=1e-5)


def test_pooling_mask_keeps_whole_chunks_within_max_len():
    model = classifier(bptt=3, max_len=6)
    ids = np.array([[2] * 8 + [1] * 2, [2] * 4 + [1] * 6])
    mask = model.pooling_mask(ids).numpy().astype(int)
    # Length 8: chunks start at 0, 3, 6; kept where 8 - start <= 6 -> 3 and 6.
    assert mask.tolist() == [[0, 0, 0, 1, 1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]]


def test_fit_predict_and_save_on_raw_texts(tokenizer, tmp_path):
    model = ULMFiTTextClassifier.from_language_model(
        language_model(tokenizer.vocabulary_size()), 2, preprocessor=tokenizer, label_names=["fresh", "rotten"], seed=1,
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
    logits = multi.predict(ids, verbose=0)
    np.testing.assert_allclose(multi.probabilities(logits).numpy(), 1 / (1 + np.exp(-logits)), rtol=1e-5)
    regression = classifier(num_classes=1, problem_type="regression", y_range=(1.0, 5.0))
    regression.compile()
    regression.fit(ids, np.linspace(1, 5, 16), epochs=1, verbose=0)
    head_outputs = keras.Model(regression.inputs, regression.head.output).predict(ids, verbose=0)
    values = regression.predict(ids, verbose=0)
    np.testing.assert_allclose(values, 1.0 + 4.0 / (1 + np.exp(-head_outputs)), rtol=1e-5)


def test_pads_with_the_backbones_padding_id(tokenizer):
    """Texts were padded with 1 whatever the backbone's `padding_id`: a batch's short texts read padding."""
    backbone = AWDLSTMBackbone(tokenizer.vocabulary_size(), 8, 12, 2, padding_id=3, seed=1)
    model = ULMFiTTextClassifier(backbone, 2, preprocessor=tokenizer, bptt=3, max_len=6, seed=1)
    assert isinstance(model.preprocessor, ULMFiTTextClassifierPreprocessor) and model.preprocessor.padding_id == 3
    texts = [TEXTS[0], " ".join(TEXTS[1:6]), ""]
    alone = np.concatenate([model.predict([text], verbose=0) for text in texts])
    np.testing.assert_allclose(model.predict(texts, verbose=0), alone, atol=1e-6)
    dataset = tf.data.Dataset.from_tensor_slices(texts).batch(3)
    np.testing.assert_allclose(model.predict(dataset, verbose=0), alone, atol=1e-6)
    with pytest.raises(ValueError, match=r"must pad with the backbone's `padding_id` \(3\)\. Received: preprocessor.padding_id=1"):
        model.preprocessor = ULMFiTTextClassifierPreprocessor(tokenizer)


def test_long_documents_are_read_by_their_last_tokens(tokenizer):
    """Documents over 8,192 tokens kept their first ones, where BPT3C pools the last ones."""
    model = classifier(bptt=8, max_len=16, preprocessor=tokenizer)
    text = "dull slow plot " * 2000 + "fine moving story " * 1000
    ids = tokenizer([text])[0].numpy()
    assert len(ids) > model.preprocessor.max_tokens == 8192
    predicted = model.predict([text], verbose=0)
    run = tf.function(lambda x: model(x, training=False))  # eager: a minute
    np.testing.assert_allclose(predicted, run(ids[None, -8192:]), atol=1e-5)
    assert np.abs(predicted - run(ids[None, :8192])).max() > 1e-4


def test_string_datasets_are_cut_and_mapped_for_validation_too(tokenizer):
    """A `tf.data` dataset of strings was not cut to `max_tokens`, and `validation_data` as one was not mapped."""
    model = ULMFiTTextClassifier.from_language_model(
        language_model(tokenizer.vocabulary_size()), 2, label_names=["fresh", "rotten"], seed=1,
        preprocessor=ULMFiTTextClassifierPreprocessor(tokenizer, max_tokens=5),
    )
    labels = np.array([0, 1] * 24, "int32")
    strings = tf.data.Dataset.from_tensor_slices((TEXTS, labels)).batch(8)
    (ids, targets), *_ = list(model.text_dataset(strings))
    last = [row[-5:] for row in tokenizer(TEXTS[:8]).to_list()]
    assert max(len(row) for row in tokenizer(TEXTS[:8]).to_list()) > 5
    assert ids.numpy().tolist() == [row + [1] * (5 - len(row)) for row in last]
    assert targets.numpy().tolist() == labels[:8].tolist()
    model.compile(optimizer=keras.optimizers.Adam(0.02))
    history = model.fit(TEXTS, LABELS, batch_size=8, epochs=1, verbose=0, validation_data=strings)
    expected = model.evaluate(strings, verbose=0, return_dict=True)
    np.testing.assert_allclose(history.history["val_loss"][-1], expected["loss"], rtol=1e-5)


def test_keras_hubs_batch_methods_tokenize_strings_and_pass_ids(tokenizer):
    # KerasHub's `train_on_batch`/`test_on_batch`/`predict_on_batch` run `preprocess_samples` on each batch.
    model = classifier(preprocessor=tokenizer, label_names=["fresh", "rotten"])
    ids = model.preprocessor(TEXTS[:4])
    np.testing.assert_allclose(model.predict_on_batch(TEXTS[:4]), model.predict_on_batch(ids), atol=1e-6)
    assert np.isfinite(model.train_on_batch(TEXTS[:4], np.array([0, 1, 0, 1]))).all()
    assert np.isfinite(model.test_on_batch(ids, np.array([0, 1, 0, 1]))).all()


def test_a_language_models_backbone_is_made_a_classifiers():
    # KerasHub builds a task on a preset's backbone: a language model's is re-made with the classifier's settings.
    backbone = AWDLSTMBackbone(60, embedding_dim=8, hidden_dim=12, num_layers=2, dropout_multiplier=0.5, seed=3)
    model = ULMFiTTextClassifier(backbone, 2)
    assert model.backbone is not backbone and model.backbone.padding_id == 1 and not model.backbone.stateful
    assert (model.backbone.input_dropout, model.backbone.dropout_multiplier, model.backbone.seed) == (0.4, 0.5, 3)
    for mine, theirs in zip(model.backbone.encoder_variables(), backbone.encoder_variables()):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())


def test_errors():
    backbone = AWDLSTMBackbone(60, embedding_dim=8, hidden_dim=12, num_layers=2, padding_id=1)
    with pytest.raises(ValueError) as error:
        ULMFiTTextClassifier(backbone)
    assert str(error.value) == (
        "Argument `num_classes` must be a positive integer (to build a classifier on a language model's preset, "
        "pass `num_classes=`). Received: num_classes=None"
    )
    with pytest.raises(ValueError, match="Argument `max_len` must be None or an integer >= bptt"):
        classifier(bptt=8, max_len=4)
    with pytest.raises(ValueError, match="Argument `problem_type` must be one of"):
        classifier(problem_type="ranking")
    with pytest.raises(ValueError, match="Argument `y_range` must be"):
        classifier(y_range=(0, 1))
    with pytest.raises(ValueError, match="no `preprocessor`"):
        ULMFiTTextClassifier(backbone, 2).predict(["text"])
    with pytest.raises(ValueError, match="no `label_names`"):
        classifier().encode_targets(["fresh"])
    with pytest.raises(ValueError, match="same sizes"):
        classifier().load_encoder(language_model(vocabulary_size=61))


def test_one_batch_of_texts_is_predicted_in_one_compiled_call(tokenizer, tmp_path):
    model = classifier(preprocessor=tokenizer)
    texts = TEXTS[:20]  # 20 texts of 2 to 10 words: many lengths, one batch
    fast = model.predict(texts)
    by_dataset = model.predict(texts, batch_size=8, verbose=0)  # three batches: Keras' predict on the length-bucketed dataset
    assert model._text_predict is not None and fast.shape == (20, 2)
    np.testing.assert_allclose(fast, by_dataset, atol=1e-6)
    assert model._text_predict.function.experimental_get_tracing_count() == 1
    for i, text in enumerate(texts[:6]):  # one text at a time, each its own length: XLA, once per bucket
        np.testing.assert_allclose(model.predict([text]), fast[i : i + 1], atol=1e-5)
        np.testing.assert_allclose(model.predict(text), fast[i : i + 1], atol=1e-5)
    lengths = [model.preprocessor([text]).shape[1] for text in texts[:6]]
    buckets = {model._text_predict.bucket(n) for n in lengths}
    assert model._text_predict.one_text.experimental_get_tracing_count() == len(buckets) < len(set(lengths))
    assert model._text_predict.function.experimental_get_tracing_count() == 1
    long_text = " ".join(texts)  # a longer bucket, its own compilation
    np.testing.assert_allclose(model.predict([long_text]), model.predict([long_text, "x"], batch_size=1)[:1], atol=1e-5)
    assert model._text_predict.one_text.experimental_get_tracing_count() == len(buckets) + 1
    assert [model._text_predict.bucket(n) for n in (1, 16, 17, 33, 100)] == [16, 16, 32, 64, 128]
    with pytest.raises(TypeError, match=r"^Argument `x` must hold strings\. Received: x\[1\]=3 \(int\)$"):
        model.predict(["fine", 3])
    model.preprocessor = ULMFiTTextClassifierPreprocessor(tokenizer, max_tokens=3)  # a new preprocessor is used
    np.testing.assert_allclose(model.predict(texts), model.predict(texts, batch_size=8, verbose=0), atol=1e-6)
    module = tf.Module()
    module.model = model
    tf.saved_model.save(module, str(tmp_path / "saved"))  # tf.Module tracking does not reach the holder's function
    assert not hasattr(tf.saved_model.load(str(tmp_path / "saved")).model, "_text_predict")
