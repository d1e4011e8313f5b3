import numpy as np
import pytest

from ulmfit_tf.cli.main import main
from ulmfit_tf.models import AWDLSTMBackbone
from ulmfit_tf.models import ULMFiTLanguageModel
from ulmfit_tf.text import SPECIAL_TOKENS
from ulmfit_tf.text import WordTokenizer

VOCABULARY = list(SPECIAL_TOKENS) + ["the", "film", "is", "good", "bad", ".", "a", "movie", "very", "not", "fine"]


def language_model(reverse=False):
    backbone = AWDLSTMBackbone(vocabulary_size=len(VOCABULARY), embedding_dim=8, hidden_dim=12, num_layers=2, seed=1)
    model = ULMFiTLanguageModel(backbone, preprocessor=WordTokenizer(vocabulary=VOCABULARY, reverse=reverse))
    rng = np.random.default_rng(0)
    for variable in model.trainable_variables:
        variable.assign(rng.normal(0, 0.8, size=variable.shape).astype("float32"))
    return model


@pytest.fixture(scope="module")
def preset(tmp_path_factory):
    model = language_model()
    folder = model.save_to_preset(str(tmp_path_factory.mktemp("generate") / "lm"))
    model.compile(sampler="greedy")
    return folder, model.generate(["the film", "a"], max_length=7)


def generate(capsys, *argv):
    status = main(["generate", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_writes_each_prompt_on_a_line(preset, capsys):
    folder, expected = preset
    status, out, err = generate(
        capsys, "--model", folder, "--prompt", "the film", "--prompt", "a", "--max-length", "7", "--sampler", "greedy"
    )
    assert status == 0 and out.splitlines() == expected and err == ""
    status, out, _ = generate(
        capsys, "--model", folder, "--prompt", "the film", "--max-length", "7", "--sampler", "greedy", "--strip-prompt"
    )
    assert out.splitlines() == [expected[0][len("the film ") :]]


@pytest.mark.parametrize("sampler", ["top_k", "top_p", "random", "beam", "contrastive"])
def test_every_sampler_and_the_seed(preset, capsys, sampler):
    folder, _ = preset
    argv = ["--model", folder, "--prompt", "the film", "--max-length", "8", "--sampler", sampler, "--seed", "3"]
    first = generate(capsys, *argv)
    assert first[0] == 0 and first[1].lower().startswith("the film")
    assert generate(capsys, *argv) == first


def test_bad_input_is_one_line(preset, tmp_path, capsys):
    status, out, err = generate(capsys, "--model", str(tmp_path / "missing"), "--prompt", "a")
    assert status == 2 and out == "" and len(err.splitlines()) == 1
    assert err.startswith("ulmfit-tf generate: error: ") and "Traceback" not in err
    backward = language_model(reverse=True).save_to_preset(str(tmp_path / "backward"))
    status, _, err = generate(capsys, "--model", backward, "--prompt", "a")
    assert status == 2 and "a backward language model" in err and len(err.splitlines()) == 1
    for argv in (["--max-length", "0"], ["--sampler", "nucleus"], []):
        with pytest.raises(SystemExit) as exit:
            main(["generate", "--model", preset[0], *(["--prompt", "a"] if argv else []), *argv])
        assert exit.value.code == 2
