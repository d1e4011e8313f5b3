import keras
import numpy as np
import pytest

from ulmfit_tf import stages
from ulmfit_tf.datasets import load_rotten_tomatoes


@pytest.fixture(scope="module")
def reviews():
    data = load_rotten_tomatoes()
    return data["train"]["texts"][:160], data["train"]["labels"][:160]


def _pretrain(texts, policy):
    return stages.pretrain_language_model(
        texts, vocabulary_size=200, embedding_dim=16, hidden_dim=32, num_layers=2, batch_size=8, bptt=10,
        epochs=1, dropout_multiplier=0.0, seed=1, dtype_policy=policy, verbose=0,
    )


@pytest.fixture(scope="module")
def reference(reviews):
    return _pretrain(reviews[0], None)


# bfloat16 in the slow run: mixed_float16 covers the same path plus the loss scaling.
@pytest.mark.parametrize("policy", [pytest.param("mixed_bfloat16", marks=pytest.mark.slow), "mixed_float16"])
def test_stages_train_under_mixed_precision(reviews, reference, policy):
    texts, labels = reviews
    language_model = _pretrain(texts, policy)
    assert keras.config.dtype_policy().name == "float32"  # the global policy is left as it was
    assert language_model.backbone.lstm_layers[0].compute_dtype == policy.split("_")[1]
    assert language_model.backbone.lstm_layers[0].variable_dtype == "float32"
    # Logits, and therefore the softmax and the loss, are float32.
    assert language_model.predict(np.full((8, 5), 7, "int32"), verbose=0).dtype == np.float32
    # Half-precision matmuls, same training: the loss agrees with float32.
    np.testing.assert_allclose(language_model.history.history["loss"], reference.history.history["loss"], rtol=0.02)

    finetuned = stages.finetune_language_model(
        language_model, texts, batch_size=8, bptt=10, dtype_policy=policy, seed=1, verbose=0
    )
    classifier = stages.fit_classifier(
        finetuned, texts, labels, batch_size=16, epochs=1, dtype_policy=policy, seed=1, verbose=0
    )
    for model in (finetuned, classifier):
        assert np.isfinite(model.history.history["loss"]).all()
        # mixed_float16 scales the loss (the discriminative optimizer inside).
        is_scaled = isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        assert is_scaled == (policy == "mixed_float16")
    assert classifier.predict(["a fine film"], verbose=0).dtype == np.float32


def test_unknown_dtype_policy_is_refused(reviews):
    with pytest.raises(ValueError, match="Argument `dtype_policy` must be one of"):
        _pretrain(reviews[0], "float8")
