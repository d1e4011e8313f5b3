import os
import sys

import numpy as np
import pytest

from ulmfit_tf.convert import from_fastai
from ulmfit_tf.models import ULMFiTLanguageModel

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "fixtures", "fastai_awd_lstm_parity.npz")


@pytest.fixture(scope="module")
def fixture():
    with np.load(FIXTURE) as archive:
        return {k: archive[k] for k in archive.files}


@pytest.fixture
def lm_state(fixture):
    """The language model's weights under fastai's own names (`0.`, `1.`)."""
    return {k[len("lm/"):]: v for k, v in fixture.items() if k[len("lm/"):][:2] in ("0.", "1.")}


def test_zero_state_parity(fixture, lm_state):
    model = from_fastai(lm_state)
    assert isinstance(model, ULMFiTLanguageModel)
    backbone = model.backbone
    sizes = (backbone.vocabulary_size, backbone.embedding_dim, backbone.hidden_dim, backbone.num_layers)
    assert sizes == (300, 16, 24, 3)
    logits = model.predict(fixture["lm/input_ids"], verbose=0)
    np.testing.assert_allclose(logits, fixture["lm/logits"], atol=1e-4)
    raw = backbone.predict(fixture["lm/input_ids"], verbose=0)["sequence_output"]
    np.testing.assert_allclose(raw, fixture["lm/raw_output"], atol=1e-4)


def test_stateful_parity_over_two_chunks(fixture, lm_state):
    model = from_fastai(lm_state, stateful=True, batch_size=3)
    first = model.predict(fixture["lm/input_ids"], batch_size=3, verbose=0)
    second = model.predict(fixture["lm/input_ids_2"], batch_size=3, verbose=0)
    np.testing.assert_allclose(first, fixture["lm/logits"], atol=1e-4)
    np.testing.assert_allclose(second, fixture["lm/logits_2"], atol=1e-4)
    # Without the carried state the second chunk is not fastai's.
    model.reset_state()
    fresh = model.predict(fixture["lm/input_ids_2"], batch_size=3, verbose=0)
    assert np.abs(fresh - fixture["lm/logits_2"]).max() > 1e-3


def test_npz_path_and_vocab(tmp_path, fixture, lm_state):
    path = tmp_path / "lm.npz"
    np.savez(path, **lm_state)
    vocab = [f"tok{i}" for i in range(300)]
    model = from_fastai(str(path), vocab=vocab, dropout_multiplier=0.5)
    assert model.vocabulary == vocab
    assert model.backbone.dropout_multiplier == 0.5
    np.testing.assert_allclose(model.predict(fixture["lm/input_ids"], verbose=0), fixture["lm/logits"], atol=1e-4)


def rename(state, old, new):
    return {k.replace(old, new): v for k, v in state.items()}


def test_bare_and_fastai_0_7_layouts(fixture, lm_state):
    bare = {k[2:]: v for k, v in lm_state.items() if k != "0.encoder_dp.emb.weight"}
    assert "encoder.weight" in bare and "decoder.bias" in bare
    old = {k: v for k, v in lm_state.items() if k not in ("0.encoder.weight",)}
    old = rename(old, "0.encoder_dp.emb.weight", "0.encoder_with_dropout.embed.weight")
    old = {(k.replace(".weight_hh_l0_raw", ".module.weight_hh_l0_raw")): v for k, v in old.items()}
    for state in (bare, old):
        model = from_fastai(state)
        np.testing.assert_allclose(model.predict(fixture["lm/input_ids"], verbose=0), fixture["lm/logits"], atol=1e-4)


def test_pth_file(tmp_path, fixture, lm_state):
    torch = pytest.importorskip("torch")
    path = tmp_path / "lm.pth"
    torch.save({"model": {k: torch.from_numpy(v) for k, v in lm_state.items()}, "opt": {}}, path)
    model = from_fastai(str(path))
    np.testing.assert_allclose(model.predict(fixture["lm/input_ids"], verbose=0), fixture["lm/logits"], atol=1e-4)


def test_pth_without_torch_says_what_to_do(tmp_path, monkeypatch):
    path = tmp_path / "lm.pth"
    path.write_bytes(b"not read")
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match=r"needs `torch`.*numpy.savez"):
        from_fastai(str(path))


@pytest.mark.parametrize("key", ["0.rnns.1.module.bias_hh_l0", "0.rnns.2.weight_hh_l0_raw"])
def test_missing_key_is_named(lm_state, key):
    del lm_state[key]
    with pytest.raises(ValueError, match=rf"Missing key '{key}' in the fastai state dict"):
        from_fastai(lm_state)


def test_wrong_shape_names_key_and_both_shapes(lm_state):
    lm_state["0.rnns.1.module.weight_ih_l0"] = np.zeros((96, 25), "float32")
    with pytest.raises(ValueError, match=r"'0.rnns.1.module.weight_ih_l0' has shape \(96, 25\), but the model needs shape \(96, 24\)"):
        from_fastai(lm_state)


def test_untied_decoder_is_refused(lm_state):
    lm_state["1.decoder.weight"] = lm_state["1.decoder.weight"] + 1
    with pytest.raises(ValueError, match="is not tied to the embedding"):
        from_fastai(lm_state)


def test_bad_inputs():
    with pytest.raises(ValueError, match="has no embedding matrix"):
        from_fastai({"foo": np.zeros(3)})
    with pytest.raises(FileNotFoundError, match="No fastai weights file"):
        from_fastai("/nonexistent/lm.pth")
    with pytest.raises(ValueError, match=r"Argument `task` must be one of"):
        from_fastai({}, task="translation")
    with pytest.raises(ValueError, match="Argument `state_dict` must be a mapping"):
        from_fastai(42)
