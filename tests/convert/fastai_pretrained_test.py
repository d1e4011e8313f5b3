"""fastai's pretrained-LM flow, `presets.load_language_model(folder)` + `with_vocabulary`, against fastai 2.8.12 itself.

The fixtures (`tests/fixtures/fastai_pretrained/`, see its README) hold a
fastai `wt103-fwd`-style folder in torch's zip and legacy formats, a target
corpus with fastai's vocabulary for it, and fastai's logits after its own
`load_pretrained` (`match_embeds`).
"""

import json
import os
import pickle
import shutil
import sys

import numpy as np
import pytest

from tests.convert.torch_file_test import CreatesFile
from tests.convert.torch_files import torch_save
from ulmfit_tf import presets
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.stages import finetune_language_model
from ulmfit_tf.text import Vocabulary
from ulmfit_tf.text import WordTokenizer

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "fastai_pretrained")
LAYOUTS = ["zip", "legacy"]


@pytest.fixture(autouse=True)
def no_torch(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)


def fixture(layout):
    with open(os.path.join(FIXTURES, layout, "target.json")) as f:
        target = json.load(f)
    with np.load(os.path.join(FIXTURES, layout, "expected.npz")) as archive:
        expected = {key: archive[key] for key in archive.files}
    return os.path.join(FIXTURES, layout, "pretrained"), target, expected


@pytest.mark.parametrize("layout", LAYOUTS)
def test_reproduces_fastai_load_pretrained(layout):
    folder, target, expected = fixture(layout)
    pretrained = presets.load_language_model(folder)
    assert pretrained.backbone.vocabulary_size == 408 and isinstance(pretrained.preprocessor.tokenizer, WordTokenizer)
    assert pretrained.vocabulary[:3] == ["xxunk", "xxpad", "xxbos"]
    vocabulary = Vocabulary.from_corpus(WordTokenizer()(target["texts"]).to_list())
    assert vocabulary.tokens == target["vocab"]
    model = pretrained.with_vocabulary(vocabulary)
    logits = model.predict(expected["input_ids"], verbose=0)
    np.testing.assert_allclose(logits, expected["logits"], atol=1e-4)
    # Both chunks as one sequence from a zero state give both of fastai's.
    both = model.predict(np.concatenate([expected["input_ids"], expected["input_ids_2"]], axis=1), verbose=0)
    np.testing.assert_allclose(both[:, 12:], expected["logits_2"], atol=1e-4)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_stateful_continuation(layout):
    folder, target, expected = fixture(layout)
    model = presets.load_language_model(folder, stateful=True, batch_size=3).with_vocabulary(target["vocab"])
    assert model.backbone.stateful and model.backbone.batch_size == 3
    first = model.predict(expected["input_ids"], batch_size=3, verbose=0)
    second = model.predict(expected["input_ids_2"], batch_size=3, verbose=0)
    np.testing.assert_allclose(first, expected["logits"], atol=1e-4)
    np.testing.assert_allclose(second, expected["logits_2"], atol=1e-4)


def test_finetune_accepts_it_as_it_is():
    folder, target, _ = fixture("zip")
    model = presets.load_language_model(folder, dropout_multiplier=0.5).with_vocabulary(target["vocab"])
    tuned = finetune_language_model(model, target["texts"][:40], batch_size=4, bptt=10, epochs=1, verbose=0)
    assert tuned.preprocessor.tokenizer.get_vocabulary() == target["vocab"]
    assert np.isfinite(tuned.history.history["loss"]).all()
    classifier = presets.load_classifier(folder, num_classes=2)
    assert classifier.predict(["A fine film."], verbose=0).shape == (1, 2)


def copy_folder(tmp_path, layout="zip"):
    folder = tmp_path / "wt103-fwd"
    shutil.copytree(fixture(layout)[0], folder)
    return folder


def test_malicious_pth_in_a_folder_is_refused(tmp_path):
    folder = copy_folder(tmp_path)
    marker = tmp_path / "pwned"
    torch_save({"0.encoder.weight": np.zeros((2, 2), "float32"), "x": CreatesFile(marker)}, folder / "lstm_fwd.pth")
    with pytest.raises(UserInputError, match=r"lstm_fwd\.pth' names the global \w+\.system, which a state dict"):
        presets.load_language_model(folder)
    assert not marker.exists()


def test_malicious_pkl_in_a_folder_is_refused(tmp_path):
    folder = copy_folder(tmp_path)
    marker = tmp_path / "pwned"
    (folder / "itos_wt103.pkl").write_bytes(pickle.dumps(["xxunk", CreatesFile(marker)]))
    with pytest.raises(UserInputError, match=r"itos_wt103\.pkl' names the global \w+\.system, which a list of strings"):
        presets.load_language_model(folder)
    assert not marker.exists()


def test_vocabulary_of_another_size_is_named(tmp_path):
    folder = copy_folder(tmp_path)
    (folder / "itos_wt103.pkl").write_bytes(pickle.dumps(["xxunk", "xxpad", "the"]))
    with pytest.raises(UserInputError) as error:
        presets.load_language_model(folder)
    assert str(error.value) == (
        f"The fastai pretrained folder {str(folder)!r} cannot be used ('lstm_fwd.pth' with 'itos_wt103.pkl'): "
        "Argument `vocabulary` must hold one token per id, 408 tokens. Received: a vocabulary of 3 tokens"
    )


def test_two_pth_files_are_not_a_fastai_folder(tmp_path):
    folder = copy_folder(tmp_path)
    shutil.copy(folder / "lstm_fwd.pth", folder / "lstm_bwd.pth")
    with pytest.raises(UserInputError) as error:
        presets.load_language_model(folder)
    assert str(error.value) == (
        f"{str(folder)!r} is not a preset: it has no config.json (a KerasHub preset), no ulmfit_tf.json (a model "
        "folder), and not one .pth with one .pkl (a fastai pretrained language model; it has 2 .pth and 1 .pkl)."
    )
