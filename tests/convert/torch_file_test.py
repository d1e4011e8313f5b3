import collections
import os
import pickle
import sys
import zipfile

import numpy as np
import pytest

from tests.convert.torch_files import StridedTensor
from tests.convert.torch_files import torch_save
from tests.convert.torch_files import zip_with_pickle
from ulmfit_tf.convert import read_state_dict
from ulmfit_tf.convert import read_vocabulary
from ulmfit_tf.errors import UserInputError

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures", "fastai_pretrained")


@pytest.fixture(autouse=True)
def no_torch(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)


class CreatesFile:
    """Unpickling this runs `touch path`: the code a hostile file would run."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return os.system, (f"touch {self.path}",)


@pytest.mark.parametrize("layout", ["zip", "legacy"])
def test_reads_the_fastai_fixture(layout):
    weights = read_state_dict(os.path.join(FIXTURES, layout, "pretrained", "lstm_fwd.pth"))
    assert len(weights) == 19
    assert weights["0.encoder.weight"].shape == (408, 24) and weights["0.encoder.weight"].dtype == np.float32
    assert weights["0.rnns.2.weight_hh_l0_raw"].shape == (96, 24)
    np.testing.assert_array_equal(weights["0.encoder.weight"], weights["1.decoder.weight"])
    # The dropped copy holds other values than the raw weight.
    assert np.abs(weights["0.rnns.0.module.weight_hh_l0"] - weights["0.rnns.0.weight_hh_l0_raw"]).max() > 0.1
    assert np.isfinite(weights["1.decoder.bias"]).all() and weights["1.decoder.bias"].std() > 0


@pytest.mark.parametrize("legacy", [False, True])
def test_layouts_dtypes_and_nesting(tmp_path, legacy):
    storage = np.arange(12, dtype="float32")
    state = collections.OrderedDict(
        plain=np.arange(6, dtype="float64").reshape(2, 3),
        # A transposed view starting at element 2 of a shared storage.
        strided=StridedTensor("shared", storage, 2, (3, 2), (1, 3)),
        same_storage=StridedTensor("shared", storage, 0, (4,), (1,)),
        ids=np.array([[1, -2]], "int64"),
        mask=np.array([True, False]),
        scalar=np.array(3.5, "float32"),
    )
    path = tmp_path / "weights.pth"
    torch_save({"model": state, "opt": {"lr": 0.01, "betas": (0.9, 0.99), "step": [1, 2]}}, path, legacy=legacy)
    loaded = read_state_dict(path)
    assert loaded["opt"] == {"lr": 0.01, "betas": (0.9, 0.99), "step": [1, 2]}
    model = loaded["model"]
    assert isinstance(model, collections.OrderedDict) and list(model) == list(state)
    np.testing.assert_array_equal(model["plain"], state["plain"])
    np.testing.assert_array_equal(model["strided"], [[2, 5], [3, 6], [4, 7]])
    np.testing.assert_array_equal(model["same_storage"], [0, 1, 2, 3])
    assert model["ids"].dtype == np.int64 and model["ids"].tolist() == [[1, -2]]
    assert model["mask"].tolist() == [True, False] and model["scalar"].shape == () and model["scalar"] == 3.5


def test_tensor_reaching_past_its_storage_is_refused(tmp_path):
    path = tmp_path / "weights.pth"
    torch_save({"w": StridedTensor("0", np.zeros(4, "float32"), 2, (2, 2), (2, 1))}, path)
    with pytest.raises(UserInputError) as error:
        read_state_dict(path)
    assert str(error.value) == (
        f"{str(path)!r} is not a readable PyTorch file (a `torch.save` state dict): "
        "a tensor reaches element 5 of a storage of 4"
    )


@pytest.mark.parametrize("layout", ["zip", "legacy", "zip_data_pkl"])
def test_pth_that_would_run_code_is_refused_and_the_code_never_runs(tmp_path, layout):
    marker = tmp_path / "pwned"
    path = tmp_path / "lstm_fwd.pth"
    payload = {"0.encoder.weight": np.zeros((2, 2), "float32"), "evil": CreatesFile(marker)}
    if layout == "zip_data_pkl":
        zip_with_pickle(path, pickle.dumps(CreatesFile(marker), protocol=2))
    else:
        torch_save(payload, path, legacy=layout == "legacy")
    with pytest.raises(UserInputError) as error:
        read_state_dict(path)
    assert str(error.value) == (
        f"{str(path)!r} names the global {os.system.__module__}.system, which a state dict of tensors does not "
        "need; ulmfit-tf refuses to unpickle it (it could run code). If you trust the file, load it where it was "
        "made and save its state dict again."
    )
    assert not marker.exists()
    # The same bytes do run their code under a plain unpickler: the payload is real.
    pickle.loads(pickle.dumps(CreatesFile(marker)))
    assert marker.exists()


def test_other_torch_globals_are_refused(tmp_path):
    path = tmp_path / "weights.pth"
    zip_with_pickle(path, b"\x80\x02ctorch\nload\nq\x00.")
    with pytest.raises(UserInputError, match=r"names the global torch\.load, which a state dict of tensors"):
        read_state_dict(path)


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"not a torch file", "is not a readable PyTorch file (a `torch.save` state dict): "),
        (pickle.dumps(12345, protocol=2), "neither torch's zip format nor its legacy format (wrong magic number)"),
    ],
)
def test_unreadable_files(tmp_path, content, reason):
    path = tmp_path / "weights.pth"
    path.write_bytes(content)
    with pytest.raises(UserInputError) as error:
        read_state_dict(path)
    assert str(error.value).startswith(f"{str(path)!r} is not a readable PyTorch file")
    assert reason in str(error.value)


def test_zip_bomb_is_refused(tmp_path):
    path = tmp_path / "weights.pth"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data.pkl", b"\0" * 10_000_000)
    with pytest.raises(UserInputError, match=r"is damaged or hostile: its member 'archive/data.pkl' declares 9\.5 MiB "
                       r"stored in 9\.5 kiB, over the 1\.0 MiB it may expand to; save or download it again\.$"):
        read_state_dict(path)


@pytest.mark.parametrize("layout", ["zip", "legacy"])
def test_truncated_file(tmp_path, layout):
    path = tmp_path / "weights.pth"
    torch_save({"w": np.ones((50, 4), "float32")}, path, legacy=layout == "legacy")
    path.write_bytes(path.read_bytes()[:-300])
    with pytest.raises(UserInputError, match=r"is not a readable PyTorch file"):
        read_state_dict(path)


def test_reads_the_vocabulary_fixture():
    itos = read_vocabulary(os.path.join(FIXTURES, "zip", "pretrained", "itos_wt103.pkl"))
    assert len(itos) == 408 and itos[:3] == ["xxunk", "xxpad", "xxbos"] and itos[-8:] == ["xxfake"] * 8


def test_vocabulary_that_would_run_code_is_refused_and_the_code_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "itos.pkl"
    path.write_bytes(pickle.dumps(["xxunk", CreatesFile(marker)]))
    with pytest.raises(UserInputError) as error:
        read_vocabulary(path)
    assert str(error.value) == (
        f"{str(path)!r} names the global {os.system.__module__}.system, which a list of strings does not need; "
        "ulmfit-tf refuses to unpickle it (it could run code). If you trust the file, load it where it was made "
        "and pickle the list of strings again."
    )
    assert not marker.exists()


@pytest.mark.parametrize("content, received", [({"a": 1}, "a dict"), (["xxunk", 3], "a list holding a int")])
def test_vocabulary_must_be_a_list_of_strings(tmp_path, content, received):
    path = tmp_path / "itos.pkl"
    path.write_bytes(pickle.dumps(content))
    with pytest.raises(UserInputError) as error:
        read_vocabulary(path)
    assert str(error.value) == (
        f"{str(path)!r} must hold a pickled list of strings (a vocabulary, fastai's `itos`). Received: {received}"
    )
