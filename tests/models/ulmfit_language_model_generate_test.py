import json
import os
import subprocess
import sys
import textwrap

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from ulmfit_tf import datasets
from ulmfit_tf.models import AWDLSTMBackbone
from ulmfit_tf.models import ULMFiTCausalLMPreprocessor
from ulmfit_tf.models import ULMFiTLanguageModel
from ulmfit_tf.text import SPECIAL_TOKENS
from ulmfit_tf.text import SentencePieceTokenizer
from ulmfit_tf.text import WordTokenizer

WORDS = ["the", "film", "is", "good", "bad", ".", "a", "movie", "very", "not", "fine"]
VOCABULARY = list(SPECIAL_TOKENS) + WORDS
PROMPTS = ["the film is", "a", "not a very fine movie"]
SAMPLERS = ["greedy", "top_k", "top_p", "random", "contrastive", keras_hub.samplers.BeamSampler(num_beams=3)]


def language_model(stateful=False, tokenizer=None):
    backbone = AWDLSTMBackbone(
        vocabulary_size=len(VOCABULARY), embedding_dim=8, hidden_dim=12, num_layers=2,
        stateful=stateful, batch_size=2 if stateful else None, seed=1,
    )
    model = ULMFiTLanguageModel(backbone, preprocessor=tokenizer or WordTokenizer(vocabulary=VOCABULARY), seed=2)
    # Weights far from zero, so that the next token is clearly decided.
    rng = np.random.default_rng(0)
    for variable in model.trainable_variables:
        variable.assign(rng.normal(0, 0.8, size=variable.shape).astype("float32"))
    return model


def full_forward_greedy(model, ids, max_length):
    """Greedy decoding that runs the plain model over the whole sequence at every step."""
    ids = list(ids)
    while len(ids) < max_length:
        logits = model(np.array([ids], "int32"), training=False)
        ids.append(int(np.argmax(logits[0, -1])))
    return ids


def test_greedy_equals_a_full_forward_greedy_loop():
    model = language_model()
    model.compile(sampler="greedy")
    prompts = model.preprocessor.generate_preprocess(PROMPTS, sequence_length=12)
    generated = model.generate_step(prompts, stop_token_ids=None)
    for row, (ids, mask) in enumerate(zip(prompts["token_ids"].numpy(), prompts["padding_mask"].numpy())):
        expected = full_forward_greedy(model, ids[mask], 12)
        assert generated["token_ids"].numpy()[row].tolist() == expected
    texts = model.generate(PROMPTS, max_length=12, stop_token_ids=None)
    assert texts == model.preprocessor.generate_postprocess(generated)


@pytest.mark.parametrize("sampler", SAMPLERS, ids=lambda s: s if isinstance(s, str) else "beam")
def test_every_sampler_writes_after_the_prompt(sampler):
    model = language_model()
    model.compile(sampler=sampler)
    texts = model.generate(PROMPTS, max_length=10, stop_token_ids=None)
    assert isinstance(texts, list) and len(texts) == 3
    for prompt, text in zip(PROMPTS, texts):
        assert text.lower().startswith(prompt)
        assert len(text.split()) <= 9  # max_length counts xxbos


def test_a_string_gives_a_string_and_max_length_bounds_the_ids():
    model = language_model()
    model.compile(sampler="greedy")
    text = model.generate("the film", max_length=6, stop_token_ids=None)
    assert isinstance(text, str) and text.lower().startswith("the film")
    written = model.generate_step(model.preprocessor.generate_preprocess(["the film"], 6), stop_token_ids=None)
    assert written["token_ids"].shape == (1, 6)
    # A prompt longer than max_length is cut to it and nothing is written.
    assert model.generate("the film is very very good", max_length=4, stop_token_ids=None).lower() == "the film is"
    assert model.generate("the film", max_length=6, stop_token_ids=None, strip_prompt=True) == text[len("the film ") :]


def test_a_dataset_of_prompts_is_generated_batch_by_batch():
    model = language_model()
    model.compile(sampler="greedy")
    dataset = tf.data.Dataset.from_tensor_slices(PROMPTS).batch(2)
    expected = model.generate(PROMPTS, max_length=9, stop_token_ids=None)
    assert model.generate(dataset, max_length=9, stop_token_ids=None) == expected


def test_auto_stops_where_the_next_text_would_begin():
    model = language_model()
    model.compile(sampler="greedy")
    bias = np.full(len(VOCABULARY), -20.0, "float32")
    bias[VOCABULARY.index("good")] = 0.0
    bias[2] = 10.0  # xxbos: next text
    model.decoder_bias.bias.assign(bias)
    assert model.generate(PROMPTS, max_length=10) == ["the film is", "a", "not a very fine movie"]
    bias[2] = -20.0
    model.decoder_bias.bias.assign(bias)
    assert model.generate("a", max_length=5) == "a good good good"  # xxbos counts


def test_generation_leaves_the_training_state_alone():
    model = language_model(stateful=True)
    model.compile(optimizer="adam", loss="auto", sampler="top_k")
    ids = np.random.randint(4, len(VOCABULARY), size=(2, 5))
    model.predict(ids, batch_size=2, verbose=0)
    states = [state.numpy().copy() for lstm in model.backbone.lstm_layers for state in lstm.states]
    weights = [variable.numpy().copy() for variable in model.weights]
    assert any(np.abs(state).max() > 0 for state in states)
    model.generate(PROMPTS, max_length=8)  # a batch of 3, not the model's 2
    for lstm_state, state in zip([s for lstm in model.backbone.lstm_layers for s in lstm.states], states):
        np.testing.assert_array_equal(lstm_state.numpy(), state)
    for variable, value in zip(model.weights, weights):
        np.testing.assert_array_equal(variable.numpy(), value)
    # Training carries on from that state, as if nothing had been generated.
    continued = model.predict(ids, batch_size=2, verbose=0)
    model.backbone.reset_state()
    model.predict(ids, batch_size=2, verbose=0)
    np.testing.assert_allclose(continued, model.predict(ids, batch_size=2, verbose=0), atol=1e-6)
    model.backbone.reset_state()
    assert np.abs(continued - model.predict(ids, batch_size=2, verbose=0)).max() > 1e-3
    model.fit(ids, ids, batch_size=2, epochs=1, verbose=0)


def test_sentencepiece_prompts_start_with_xxbos_and_end_without_xxeos():
    texts = [a["text"] for a in datasets.load_news_articles()[:30]]
    tokenizer = SentencePieceTokenizer.train(texts, vocabulary_size=120, add_eos=True)
    preprocessor = ULMFiTCausalLMPreprocessor(tokenizer, sequence_length=9)
    packed = preprocessor.generate_preprocess(["the", "a longer prompt than nine pieces, surely"])
    ids, mask = packed["token_ids"].numpy(), packed["padding_mask"].numpy()
    assert ids.shape == (2, 9) and ids[:, 0].tolist() == [2, 2]
    assert 3 not in ids[0] and ids[0][mask[0]].tolist() == tokenizer(["the"]).to_list()[0][:-1]
    assert (ids[0][~mask[0]] == 1).all() and mask[1].all()
    backbone = AWDLSTMBackbone(vocabulary_size=120, embedding_dim=8, hidden_dim=12, num_layers=2, seed=0)
    model = ULMFiTLanguageModel(backbone, preprocessor=preprocessor)
    model.compile(sampler="greedy")
    text = model.generate("the", stop_token_ids=None)
    assert isinstance(text, str) and text.startswith("the")


def test_preprocessor_pairs_ids_with_the_next_ids():
    preprocessor = ULMFiTCausalLMPreprocessor(WordTokenizer(vocabulary=VOCABULARY), sequence_length=5)
    x, y, sample_weight = preprocessor(["the film is good", "a"])
    assert x.numpy().tolist() == [[2, 9, 10, 11, 12], [2, 15, 1, 1, 1]]
    assert y.numpy().tolist() == [[9, 10, 11, 12, 1], [15, 1, 1, 1, 1]]
    assert sample_weight.numpy().tolist() == [[1, 1, 1, 1, 0], [1, 0, 0, 0, 0]]
    config = preprocessor.get_config()
    assert "add_start_token" not in config and config["sequence_length"] == 5
    copy = ULMFiTCausalLMPreprocessor.from_config(config)
    assert copy.generate_preprocess("the film")["token_ids"].numpy().tolist() == [[2, 9, 10, 1, 1]]
    assert copy.generate_postprocess(copy.generate_preprocess("the film")) == ["the film"]


def test_word_tokens_are_written_as_text():
    vocabulary = list(SPECIAL_TOKENS) + ["great", "!", "so", "good", "4"]
    preprocessor = ULMFiTCausalLMPreprocessor(WordTokenizer(vocabulary=vocabulary))
    ids = preprocessor.generate_preprocess("Great GOOD!!!! so so so so", sequence_length=16)
    assert preprocessor.generate_postprocess(ids) == ["Great GOOD !!!! so so so so"]


def test_backward_and_bare_models():
    backward = language_model(tokenizer=WordTokenizer(vocabulary=VOCABULARY, reverse=True))
    with pytest.raises(ValueError, match="A backward language model cannot continue a prompt"):
        backward.generate("the film")
    with pytest.raises(ValueError, match="Argument `sequence_length` must be a positive integer"):
        ULMFiTCausalLMPreprocessor(WordTokenizer(vocabulary=VOCABULARY), sequence_length=0)
    model = language_model()
    model.compile(sampler="greedy")
    inputs = model.preprocessor.generate_preprocess(PROMPTS, sequence_length=8)
    model.preprocessor = None
    ids = model.generate(dict(inputs), stop_token_ids=None)
    assert ids["token_ids"].shape == (3, 8)
    with pytest.raises(ValueError, match="This language model has no preprocessor to read text with"):
        model.generate("the film")
    uncompiled = ULMFiTLanguageModel(model.backbone, compile=False)
    with pytest.raises(ValueError, match=r"built with `compile=False`: call `compile\(sampler=...\)`"):
        uncompiled.generate(dict(inputs))


def test_keras_file_keeps_the_preprocessor(tmp_path):
    model = language_model()
    path = tmp_path / "lm.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    assert isinstance(reloaded.preprocessor, ULMFiTCausalLMPreprocessor)
    assert reloaded.preprocessor.tokenizer.get_vocabulary() == VOCABULARY
    model.compile(sampler="greedy")
    reloaded.compile(sampler="greedy")
    assert reloaded.generate(PROMPTS, max_length=9) == model.generate(PROMPTS, max_length=9)


def test_causal_lm_from_preset_gives_this_model_back_in_a_fresh_process(tmp_path):
    texts = [a["text"] for a in datasets.load_news_articles()[:30]]
    tokenizer = SentencePieceTokenizer.train(texts, vocabulary_size=120)
    backbone = AWDLSTMBackbone(vocabulary_size=120, embedding_dim=8, hidden_dim=12, num_layers=2, seed=0)
    model = ULMFiTLanguageModel(backbone, preprocessor=ULMFiTCausalLMPreprocessor(tokenizer, sequence_length=8))
    model.decoder_bias.bias.assign(np.random.default_rng(0).normal(size=120).astype("float32"))
    folder = model.save_to_preset(str(tmp_path / "preset"))
    ids = np.array([[2, 5, 9, 30, 31]])
    model.compile(sampler="greedy")
    script = textwrap.dedent(
        f"""
        import json, keras_hub, numpy as np
        import ulmfit_tf.models
        model = keras_hub.models.CausalLM.from_preset({folder!r})
        model.compile(sampler="greedy")
        print(json.dumps({{
            "class": type(model).__name__,
            "preprocessor": type(model.preprocessor).__name__,
            "sequence_length": model.preprocessor.sequence_length,
            "alone": type(keras_hub.models.CausalLMPreprocessor.from_preset({folder!r})).__name__,
            "logits": model.predict(np.array({ids.tolist()}), verbose=0).tolist(),
            "text": model.generate("The"),
        }}))
        """
    )
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded["class"] == "ULMFiTLanguageModel" and loaded["preprocessor"] == "ULMFiTCausalLMPreprocessor"
    assert loaded["sequence_length"] == 8 and loaded["alone"] == "ULMFiTCausalLMPreprocessor"
    np.testing.assert_array_equal(np.array(loaded["logits"], "float32"), model.predict(ids, verbose=0))
    assert loaded["text"] == model.generate("The")


def test_generates_under_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = language_model()
        for sampler in ("greedy", "contrastive"):
            model.compile(sampler=sampler)
            texts = model.generate(PROMPTS, max_length=8, stop_token_ids=None)
            assert [text.lower()[: len(prompt)] for text, prompt in zip(texts, PROMPTS)] == PROMPTS
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_the_cache_holds_the_prompts_up_to_the_shortest_one():
    model = language_model()
    token_ids = model.preprocessor.generate_preprocess(PROMPTS, sequence_length=10)["token_ids"]
    hidden_states, cache = model._build_cache(token_ids, 2)  # "a": xxbos a
    expected = model.backbone(token_ids)["sequence_output"]
    np.testing.assert_allclose(hidden_states[:, :2], expected[:, :2], atol=1e-5)
    # The cache is the state before the last of those tokens, which the sampler's first step reads.
    _, first, _ = model.call_with_cache(token_ids[:, :1], tuple((h * 0, c * 0) for h, c in cache), compute_head=False)
    np.testing.assert_allclose(first[:, 0], expected[:, 0], atol=1e-5)
    _, last, _ = model.call_with_cache(token_ids[:, 1:2], cache, compute_head=False)
    np.testing.assert_allclose(last[:, 0], expected[:, 1], atol=1e-5)
