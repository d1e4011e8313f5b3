import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import save_and_reload
from ulmfit_tf.models import AWDLSTMBackbone
from ulmfit_tf.models import ULMFiTLanguageModel
from ulmfit_tf.text import SPECIAL_TOKENS
from ulmfit_tf.text import Vocabulary
from ulmfit_tf.text import WordTokenizer

NO_DROPOUT = dict(embedding_dropout=0, input_dropout=0, hidden_dropout=0, weight_dropout=0)


def tiny_model(backbone_kwargs=None, **kwargs):
    config = dict(vocabulary_size=30, embedding_dim=6, hidden_dim=10, num_layers=2, seed=2)
    config.update(backbone_kwargs or {})
    return ULMFiTLanguageModel(AWDLSTMBackbone(**config), seed=3, **kwargs)


def test_decoder_is_tied_to_the_embedding():
    model = tiny_model()
    embedding = model.backbone.token_embedding.embeddings
    matrices = [w for w in model.weights if tuple(w.shape) == (30, 6)]
    assert matrices == [embedding]
    model.decoder_bias.bias.assign(np.random.normal(size=30))
    ids = np.random.randint(0, 30, size=(2, 5))
    hidden = model.backbone(ids)["sequence_output"]
    expected = np.asarray(hidden) @ embedding.numpy().T + model.decoder_bias.bias.numpy()
    np.testing.assert_allclose(model(ids), expected, atol=1e-5)
    # Changing the one matrix changes both the inputs and the decoder.
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(ids))
    (gradient,) = tape.gradient(loss, [embedding])
    assert np.count_nonzero(tf.convert_to_tensor(gradient)) > 0


def test_ar_and_tar_follow_the_formulas():
    model = tiny_model(NO_DROPOUT, output_dropout=0, ar_alpha=2.0, tar_beta=1.0)
    ids = np.random.randint(0, 30, size=(3, 6))
    raw = np.asarray(model.backbone(ids)["sequence_output"])
    model(ids, training=True)
    ar, tar = (float(loss) for loss in model.losses)
    assert ar == pytest.approx(2.0 * np.mean(raw**2), rel=1e-5)
    assert tar == pytest.approx(1.0 * np.mean((raw[:, 1:] - raw[:, :-1]) ** 2), rel=1e-5)
    model(ids, training=False)
    assert model.losses == []


def test_fit_lowers_the_loss_on_a_repeating_stream():
    model = tiny_model()
    model.compile(
        optimizer=keras.optimizers.Adam(0.02, beta_1=0.8, beta_2=0.99),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    stream = np.tile(np.arange(2, 12), 40)
    windows = np.stack([stream[i : i + 11] for i in range(0, 380, 5)])
    history = model.fit(windows[:, :-1], windows[:, 1:], epochs=20, batch_size=16, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0]


def test_logits_stay_float32_under_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = tiny_model()
        logits = model(np.random.randint(0, 30, size=(2, 4)), training=True)
        assert logits.dtype == "float32"
        assert all(loss.dtype == "float32" for loss in model.losses)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_config_and_keras_round_trip(tmp_path):
    vocabulary = ["xxunk", "xxpad"] + [f"w{i}" for i in range(28)]
    model = tiny_model(vocabulary=vocabulary, output_dropout=0.3, ar_alpha=1.5)
    ids = np.random.randint(0, 30, size=(2, 7))
    reloaded = save_and_reload(model, tmp_path)
    assert isinstance(reloaded, ULMFiTLanguageModel)
    assert reloaded.vocabulary == vocabulary
    assert reloaded.get_config() == model.get_config()
    np.testing.assert_array_equal(reloaded.predict(ids, verbose=0), model.predict(ids, verbose=0))
    assert reloaded.backbone.token_embedding.embeddings is reloaded.backbone.embedding_dropout_layer.embeddings


def test_bad_arguments():
    with pytest.raises(ValueError, match="Argument `vocabulary` must hold one token per id, 30 tokens. Received: a vocabulary of 2 tokens"):
        tiny_model(vocabulary=["a", "b"])
    with pytest.raises(ValueError, match="Argument `backbone` must be an `AWDLSTMBackbone`"):
        ULMFiTLanguageModel(keras.layers.Dense(2))
    with pytest.raises(ValueError, match="Argument `alpha` must be >= 0. Received: alpha=-1"):
        tiny_model(ar_alpha=-1)


def test_with_vocabulary_matches_embeddings_as_fastai():
    """fastai's `match_embeds`: shared tokens keep row and bias, new ones get the means, repeats their last id."""
    old = list(SPECIAL_TOKENS) + [f"w{i}" for i in range(19)] + ["xxfake", "xxfake"]
    model = tiny_model(vocabulary=old, preprocessor=WordTokenizer(vocabulary=old, reverse=True))
    model.decoder_bias.bias.assign(np.random.normal(size=30))
    embeddings, bias = model.backbone.token_embedding.embeddings.numpy(), model.decoder_bias.bias.numpy()
    new = ["xxunk", "xxpad", "w3", "brand-new", "xxfake", "w0"]
    matched = model.with_vocabulary(Vocabulary(new))
    assert matched.vocabulary == new and matched.backbone.vocabulary_size == 6
    tokenizer = matched.preprocessor.tokenizer
    assert isinstance(tokenizer, WordTokenizer) and tokenizer.get_vocabulary() == new
    assert tokenizer.reverse and tokenizer.add_bos
    rows = np.concatenate([embeddings, embeddings.mean(0, keepdims=True)])[[0, 1, 12, 30, 29, 9]]
    np.testing.assert_array_equal(matched.backbone.token_embedding.embeddings.numpy(), rows)
    np.testing.assert_allclose(matched.decoder_bias.bias.numpy(), np.append(bias, bias.mean())[[0, 1, 12, 30, 29, 9]])
    for mine, theirs in zip(matched.backbone.encoder_variables()[1:], model.backbone.encoder_variables()[1:]):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    assert matched.get_config()["seed"] == 3 and matched.backbone.seed == 2
    assert model.backbone.vocabulary_size == 30  # the source is left as it was
    ids = np.array([[2, 5, 3, 4]])
    expected = np.asarray(matched.backbone(ids)["sequence_output"]) @ rows.T + matched.decoder_bias.bias.numpy()
    np.testing.assert_allclose(matched.predict(ids, verbose=0), expected, atol=1e-5)


def test_with_vocabulary_needs_a_vocabulary():
    with pytest.raises(ValueError, match="This language model has no `vocabulary` to match the new tokens to"):
        tiny_model().with_vocabulary(["xxunk", "a"])


def test_rebuilt_copies_weights_onto_a_stateful_backbone_and_perplexity_reads_a_stateless_model():
    from ulmfit_tf import stages
    from ulmfit_tf.text import SentencePieceTokenizer

    texts = [f"the cast and the plot of film {i} are fine" for i in range(60)]
    tokenizer = SentencePieceTokenizer.train(texts, vocabulary_size=30)
    model = ULMFiTLanguageModel(AWDLSTMBackbone(30, 8, 12, 2, seed=1), preprocessor=tokenizer)
    stateful = model.rebuilt(stateful=True, batch_size=4)
    assert stateful.backbone.stateful and stateful.backbone.batch_size == 4 and not model.backbone.stateful
    for mine, theirs in zip(stateful.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    ids = np.random.default_rng(0).integers(2, 30, size=(4, 6)).astype("int32")
    np.testing.assert_allclose(stateful(ids), model(ids), atol=1e-6)  # a fresh state is the stateless call
    # The stateless model is read through a copy of `batch_size` rows; the same numbers as that copy gives.
    expected = stages.perplexity(model.rebuilt(stateful=True, batch_size=4), texts, bptt=8)
    assert stages.perplexity(model, texts, bptt=8, batch_size=4) == pytest.approx(expected, rel=1e-6)
