import os
import sys

import numpy as np
import pytest

from tests.conftest import save_and_reload
from tests.convert.torch_files import torch_save
from ulmfit_tf.convert import from_fastai
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.models import ULMFiTLanguageModel
from ulmfit_tf.models import ULMFiTTextClassifier

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


@pytest.mark.parametrize("legacy", [False, True])
def test_pth_file_without_torch(tmp_path, monkeypatch, fixture, lm_state, legacy):
    """`Learner.save`'s {"model", "opt"} with fastai v1's dropped copy `..module.weight_hh_l0` (never used)."""
    monkeypatch.setitem(sys.modules, "torch", None)
    state = dict(lm_state)
    for i in range(3):
        state[f"0.rnns.{i}.module.weight_hh_l0"] = np.full_like(state[f"0.rnns.{i}.weight_hh_l0_raw"], 7.0)
    path = tmp_path / "lm.pth"
    torch_save({"model": state, "opt": {"lr": 1e-3}}, path, legacy=legacy)
    model = from_fastai(str(path))
    np.testing.assert_allclose(model.predict(fixture["lm/input_ids"], verbose=0), fixture["lm/logits"], atol=1e-4)


def test_unreadable_pth_is_named(tmp_path, monkeypatch):
    path = tmp_path / "lm.pth"
    path.write_bytes(b"not read")
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(UserInputError, match=r"lm\.pth' is not a readable PyTorch file"):
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


@pytest.fixture
def clas_state(fixture):
    """The classifier's weights under fastai's own names (`0.module.`, `1.layers.`)."""
    return {k[len("clas/"):]: v for k, v in fixture.items() if k[len("clas/"):][:2] in ("0.", "1.")}


def documents(fixture):
    ends = np.cumsum(fixture["clas/doc_lengths"])
    return np.split(fixture["clas/doc_ids"], ends[:-1])


def classifier_from(clas_state, fixture, **options):
    return from_fastai(
        clas_state, task="classifier", bptt=int(fixture["clas/bptt"]), max_len=int(fixture["clas/max_len"]), **options
    )


def test_classifier_parity_each_document_alone(fixture, clas_state):
    classifier = classifier_from(clas_state, fixture)
    assert isinstance(classifier, ULMFiTTextClassifier)
    assert classifier.num_classes == 3 and classifier.hidden_dims == (50,)
    logits = np.concatenate([classifier.predict(doc[None, :], verbose=0) for doc in documents(fixture)])
    np.testing.assert_allclose(logits, fixture["clas/logits"], atol=1e-4)


def test_classifier_parity_batched_with_padding(fixture, clas_state):
    """The four documents (30, 21, 9, 4 tokens) in one batch padded after the text."""
    classifier = classifier_from(clas_state, fixture)
    docs = documents(fixture)
    batch = np.ones((len(docs), max(map(len, docs))), "int32")
    for row, doc in zip(batch, docs):
        row[: len(doc)] = doc
    logits = classifier.predict(batch, verbose=0)
    np.testing.assert_allclose(logits, fixture["clas/logits"], atol=1e-4)
    np.testing.assert_allclose(logits, fixture["clas/batch_logits"], atol=1e-4)
    # Without BPT3C's limit (pooling every token), the long documents differ.
    everything = classifier_from(clas_state, fixture)
    everything = ULMFiTTextClassifier.from_config(dict(everything.get_config(), max_len=None))
    everything.set_weights(classifier.get_weights())
    assert np.abs(everything.predict(batch, verbose=0)[:2] - logits[:2]).max() > 1e-3


def test_classifier_with_vocab_and_labels_takes_raw_strings(fixture, clas_state, tmp_path):
    vocab = ["xxunk", "xxpad", "xxbos", "xxeos", "xxfld", "xxrep", "xxwrep", "xxup", "xxmaj"]
    vocab += [f"w{i}" for i in range(300 - len(vocab) - 3)] + ["good", "film", "."]
    classifier = classifier_from(clas_state, fixture, vocab=vocab, labels=["neg", "neutral", "pos"])
    assert classifier.label_names == ["neg", "neutral", "pos"]
    texts = ["Good film.", "w3 w4 film film ."]
    ids = classifier.preprocessor.tokenizer(texts).to_list()
    assert ids[0] == [2, 8, 297, 298, 299] and ids[1][0] == 2
    from_strings = classifier.predict(texts, verbose=0)
    padded = np.ones((2, 6), "int32")
    for row, row_ids in zip(padded, ids):
        row[: len(row_ids)] = row_ids
    np.testing.assert_allclose(from_strings, classifier.predict(padded, verbose=0), atol=1e-6)
    reloaded = save_and_reload(classifier, tmp_path)
    np.testing.assert_allclose(reloaded.predict(texts, verbose=0), from_strings, atol=1e-6)
    assert reloaded.label_names == ["neg", "neutral", "pos"]


def test_classifier_errors(fixture, clas_state):
    with pytest.raises(ValueError, match="Argument `vocab` must hold one token per embedding row, 300"):
        classifier_from(clas_state, fixture, vocab=["xxunk", "xxpad"])
    with pytest.raises(ValueError, match="Argument `label_names` must name each of the 3 classes"):
        classifier_from(clas_state, fixture, labels=["a", "b"])
    head_less = {k: v for k, v in clas_state.items() if not k.startswith("1.")}
    with pytest.raises(ValueError, match="no classifier head"):
        from_fastai(head_less, task="classifier")
    broken = dict(clas_state)
    del broken["1.layers.1.0.running_var"]
    with pytest.raises(ValueError, match=r"Missing key '1.layers.1.0.running_var'"):
        from_fastai(broken, task="classifier")
