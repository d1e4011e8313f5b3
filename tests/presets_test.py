import json
import os

import numpy as np
import pytest

from ulmfit_tf import datasets
from ulmfit_tf import presets
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.model_directory import save_model_directory
from ulmfit_tf.models import AWDLSTMBackbone
from ulmfit_tf.models import ULMFiTLanguageModel
from ulmfit_tf.models import ULMFiTTextClassifier
from ulmfit_tf.text import SPECIAL_TOKENS
from ulmfit_tf.text import SentencePieceTokenizer
from ulmfit_tf.text import WordTokenizer

WORDS = list(SPECIAL_TOKENS) + ["a", "fine", "film", "dull", ".", "the", "plot"] + ["xxfake"]
TEXTS = ["A fine film.", "The plot is dull.", "A dull, dull film"]
IDS = np.array([[2, 9, 10, 11, 13], [2, 14, 15, 0, 12]])


def language_model(preprocessor=None, vocabulary=None, **backbone_kwargs):
    size = preprocessor.vocabulary_size if preprocessor is not None else len(vocabulary or WORDS)
    backbone = AWDLSTMBackbone(vocabulary_size=size, embedding_dim=8, hidden_dim=12, num_layers=2, seed=1, **backbone_kwargs)
    model = ULMFiTLanguageModel(backbone, preprocessor=preprocessor, vocabulary=vocabulary, seed=2)
    model.decoder_bias.bias.assign(np.random.normal(size=size))
    return model


@pytest.fixture
def word_lm():
    return language_model(WordTokenizer(vocabulary=WORDS))


@pytest.fixture
def saved_lm(word_lm, tmp_path):
    return word_lm.save_to_preset(tmp_path / "lm")


@pytest.fixture(scope="module")
def sentencepiece():
    return SentencePieceTokenizer.train([a["text"] for a in datasets.load_news_articles()[:100]], vocabulary_size=120)


def test_language_model_round_trip(word_lm, tmp_path):
    card = {"data": "WikiText-103", "command": "ulmfit-tf pretrain ...", "minutes": 12, "license": "CC BY-SA 3.0"}
    folder = word_lm.save_to_preset(tmp_path / "lm", model_card=card)
    assert folder == str(tmp_path / "lm")
    assert sorted(os.listdir(folder)) == [
        "README.md", "assets", "config.json", "metadata.json", "model.weights.h5", "tokenizer.json", "ulmfit_tf.json"
    ]
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    assert config["registered_name"] == "ulmfit_tf>ULMFiTLanguageModel" and config["format_version"] == 1
    assert config["config"]["backbone"]["config"]["hidden_dim"] == 12
    assert config["config"]["backbone"]["config"]["weight_dropout"] == 0.2
    with open(os.path.join(folder, "tokenizer.json")) as f:
        assert json.load(f)["config"]["vocabulary"] == "assets/vocabulary.json"
    with open(os.path.join(folder, "assets", "vocabulary.json")) as f:
        assert json.load(f) == WORDS
    with open(os.path.join(folder, "metadata.json")) as f:
        assert json.load(f)["parameter_count"] == word_lm.count_params()
    with open(os.path.join(folder, "README.md")) as f:
        card_text = f.read()
    for line in ["| Training data | WikiText-103 |", "| Command | `ulmfit-tf pretrain ...` |",
                 "| Training time | 12 minutes |", "| Validation perplexity | not recorded |",
                 "| License of the data | CC BY-SA 3.0 |", "| Tokenizer | `WordTokenizer`, 17 tokens |"]:
        assert line in card_text
    reloaded = ULMFiTLanguageModel.from_preset(folder)
    assert reloaded.vocabulary == WORDS and reloaded.preprocessor.get_vocabulary() == WORDS
    np.testing.assert_array_equal(reloaded.predict(IDS, verbose=0), word_lm.predict(IDS, verbose=0))
    assert reloaded.preprocessor(TEXTS).to_list() == word_lm.preprocessor(TEXTS).to_list()
    assert reloaded.get_config()["backbone"] == word_lm.get_config()["backbone"]


def test_classifier_round_trip_with_sentencepiece(sentencepiece, tmp_path):
    classifier = ULMFiTTextClassifier.from_language_model(
        language_model(sentencepiece), num_classes=3, label_names=["neg", "mixed", "pos"], preprocessor=sentencepiece
    )
    folder = classifier.save_to_preset(tmp_path / "classifier")
    assert os.listdir(os.path.join(folder, "assets")) == ["sentencepiece.model"]
    reloaded = ULMFiTTextClassifier.from_preset(folder)
    assert reloaded.label_names == ["neg", "mixed", "pos"]
    np.testing.assert_array_equal(reloaded.predict(TEXTS, verbose=0), classifier.predict(TEXTS, verbose=0))
    reloaded = ULMFiTTextClassifier.from_preset(folder, label_names=["n", "m", "p"], dropout_multiplier=0.5)
    assert reloaded.label_names == ["n", "m", "p"] and reloaded.backbone.dropout_multiplier == 0.5
    np.testing.assert_array_equal(reloaded.predict(TEXTS, verbose=0), classifier.predict(TEXTS, verbose=0))
    with open(os.path.join(folder, "assets", "sentencepiece.model"), "wb") as f:
        f.write(b"not a model")
    with pytest.raises(UserInputError) as error:
        ULMFiTTextClassifier.from_preset(folder)
    assert str(error.value).startswith(
        f"The tokenizer of {folder!r} (tokenizer.json with 'assets/sentencepiece.model') is corrupt: "
    )


def test_language_model_settings_can_change(word_lm, saved_lm):
    model = ULMFiTLanguageModel.from_preset(saved_lm, stateful=True, batch_size=2, dropout_multiplier=0.5, seed=7)
    backbone = model.backbone
    assert (backbone.stateful, backbone.batch_size, backbone.dropout_multiplier, backbone.seed) == (True, 2, 0.5, 7)
    assert model.seed == 7 and model.preprocessor.get_vocabulary() == WORDS
    np.testing.assert_allclose(model.predict(IDS, batch_size=2, verbose=0), word_lm.predict(IDS, verbose=0), atol=1e-6)
    with pytest.raises(UserInputError) as error:
        ULMFiTLanguageModel.from_preset(saved_lm, num_layers=3)
    assert str(error.value) == (
        "Argument `num_layers` cannot be set when loading a language model preset; it can set ['ar_alpha', "
        "'batch_size', 'dropout_multiplier', 'embedding_dropout', 'hidden_dropout', 'input_dropout', 'name', "
        "'output_dropout', 'preprocessor', 'seed', 'stateful', 'tar_beta', 'weight_dropout']. Received: num_layers=3"
    )


def test_classifier_built_on_a_language_model_preset(word_lm, saved_lm):
    classifier = ULMFiTTextClassifier.from_preset(saved_lm, num_classes=2, label_names=["bad", "good"], seed=5)
    assert classifier.num_classes == 2 and classifier.label_names == ["bad", "good"]
    assert classifier.preprocessor.tokenizer.get_vocabulary() == WORDS
    for mine, theirs in zip(classifier.backbone.encoder_variables(), word_lm.backbone.encoder_variables()):
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    with pytest.raises(UserInputError) as error:
        ULMFiTTextClassifier.from_preset(saved_lm)
    assert str(error.value) == (
        f"Argument `num_classes` must be set to build a classifier on the language model in {saved_lm!r}. "
        "Received: num_classes=None"
    )


def test_vocabulary_without_a_tokenizer(tmp_path):
    vocabulary = ["xxunk", "xxpad"] + [f"w{i}" for i in range(10)]
    model = language_model(vocabulary=vocabulary)
    folder = model.save_to_preset(tmp_path / "lm")
    assert not os.path.exists(os.path.join(folder, "tokenizer.json"))
    reloaded = ULMFiTLanguageModel.from_preset(folder)
    assert reloaded.vocabulary == vocabulary and reloaded.preprocessor is None
    np.testing.assert_array_equal(reloaded.predict(IDS % 12, verbose=0), model.predict(IDS % 12, verbose=0))


def write_json(path, content):
    with open(path, "w") as f:
        json.dump(content, f)


def edit_json(path, change):
    with open(path) as f:
        content = json.load(f)
    change(content)
    write_json(path, content)


def damage(folder, how, outside):
    tokenizer = os.path.join(folder, "tokenizer.json")
    if how == "format_version":
        edit_json(os.path.join(folder, "config.json"), lambda c: c.update(format_version=2))
    elif how == "missing_weights":
        os.remove(os.path.join(folder, "model.weights.h5"))
    elif how == "missing_asset":
        os.remove(os.path.join(folder, "assets", "vocabulary.json"))
    elif how == "truncated_weights":
        path = os.path.join(folder, "model.weights.h5")
        with open(path, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(data[: len(data) // 2])
    elif how == "invalid_json":
        with open(os.path.join(folder, "config.json"), "w") as f:
            f.write('{"module": ')
    elif how == "parent_path":
        edit_json(tokenizer, lambda c: c["config"].update(vocabulary="../outside.json"))
    elif how == "absolute_path":
        edit_json(tokenizer, lambda c: c["config"].update(vocabulary=outside))
    elif how == "symlink_out":
        os.remove(os.path.join(folder, "assets", "vocabulary.json"))
        os.symlink(outside, os.path.join(folder, "assets", "vocabulary.json"))
    elif how == "corrupt_vocabulary":
        write_json(os.path.join(folder, "assets", "vocabulary.json"), {"not": "a list"})


@pytest.mark.parametrize(
    "how, message",
    [
        ("format_version", "{folder!r} holds a preset in format 2 (config.json); this is ulmfit-tf 0.1.0, which reads "
                           "preset format 1. Load it with the version that wrote it."),
        ("missing_weights", "{folder!r} is incomplete: 'model.weights.h5' is missing."),
        ("missing_asset", "{folder!r} is incomplete: 'assets/vocabulary.json' is missing."),
        ("truncated_weights", "{weights!r} is corrupt or does not match config.json; save the preset again."),
        ("invalid_json", "{config!r} is not valid JSON (Expecting value: line 1 column 12 (char 11)); the preset is "
                         "damaged."),
        ("parent_path", "{folder!r} names a file outside itself ('../outside.json'); the folder is damaged or hostile."),
        ("absolute_path", "{folder!r} names a file outside itself ({outside!r}); the folder is damaged or hostile."),
        ("symlink_out", "{folder!r} names a file outside itself ('assets/vocabulary.json'); the folder is damaged or "
                        "hostile."),
        ("corrupt_vocabulary", "The tokenizer of {folder!r} (tokenizer.json with 'assets/vocabulary.json') is corrupt: "
                               "not a list of strings"),
    ],
)
def test_damaged_preset_is_named(saved_lm, tmp_path, how, message):
    outside = str(tmp_path / "outside.json")
    write_json(outside, WORDS)
    damage(saved_lm, how, outside)
    with pytest.raises(UserInputError) as error:
        ULMFiTLanguageModel.from_preset(saved_lm)
    names = {"folder": saved_lm, "outside": outside}
    names.update(weights=os.path.join(saved_lm, "model.weights.h5"), config=os.path.join(saved_lm, "config.json"))
    assert str(error.value) == message.format(**names)


def test_another_kind_of_preset_is_named(tmp_path):
    classifier = ULMFiTTextClassifier.from_language_model(language_model(WordTokenizer(vocabulary=WORDS)), num_classes=2)
    folder = classifier.save_to_preset(tmp_path / "classifier")
    with pytest.raises(UserInputError) as error:
        ULMFiTLanguageModel.from_preset(folder)
    assert str(error.value) == (
        f"{folder!r} holds a classifier preset (config.json names ULMFiTTextClassifier), not a language model; "
        "load it with `ULMFiTTextClassifier.from_preset`."
    )


def test_unknown_presets_and_folders(tmp_path):
    with pytest.raises(UserInputError) as error:
        ULMFiTLanguageModel.from_preset("no-such-preset")
    assert str(error.value) == (
        "No preset named 'no-such-preset' and no folder at 'no-such-preset'. Bundled presets: 'awd_lstm_small_en'; or "
        "give a preset folder, a model folder or a fastai pretrained folder (one .pth and one .pkl)."
    )
    with pytest.raises(UserInputError, match=r"is not a preset: it has no config.json"):
        ULMFiTLanguageModel.from_preset(tmp_path)


def test_bundled_presets_by_name(word_lm, tmp_path, monkeypatch):
    monkeypatch.setattr(presets, "BUNDLED_DIR", str(tmp_path / "bundled"))
    monkeypatch.setattr(presets, "BUNDLED_PRESETS", {"tiny-lm": {"folder": "tiny_lm", "description": "A tiny test LM."}})
    assert presets.list_presets() == {"tiny-lm": "A tiny test LM."}
    with pytest.raises(UserInputError, match=r"The bundled preset 'tiny-lm' is missing from this installation"):
        ULMFiTLanguageModel.from_preset("tiny-lm")
    word_lm.save_to_preset(tmp_path / "bundled" / "tiny_lm")
    model = ULMFiTLanguageModel.from_preset("tiny-lm")
    np.testing.assert_array_equal(model.predict(IDS, verbose=0), word_lm.predict(IDS, verbose=0))
    monkeypatch.setitem(presets.BUNDLED_PRESETS, "escape", {"folder": "../elsewhere", "description": "Bad."})
    with pytest.raises(UserInputError, match=r"names a file outside itself \('../elsewhere'\)"):
        ULMFiTLanguageModel.from_preset("escape")
    with pytest.raises(UserInputError, match=r"Bundled presets: 'escape', 'tiny-lm'; or give"):
        ULMFiTLanguageModel.from_preset("tiny")


def test_command_line_model_folders(word_lm, tmp_path):
    folder = save_model_directory(word_lm, tmp_path / "lm", "language_model")
    model = ULMFiTLanguageModel.from_preset(folder, stateful=True, batch_size=2)
    assert model.backbone.stateful
    np.testing.assert_allclose(model.predict(IDS, batch_size=2, verbose=0), word_lm.predict(IDS, verbose=0), atol=1e-6)
    classifier = ULMFiTTextClassifier.from_preset(folder, num_classes=2)
    assert classifier.preprocessor.tokenizer.get_vocabulary() == WORDS
    saved = save_model_directory(classifier, tmp_path / "classifier", "classifier")
    with pytest.raises(UserInputError, match=r"holds a classifier, not a language model"):
        ULMFiTLanguageModel.from_preset(saved)


def test_writing_never_replaces_what_it_did_not_write(word_lm, saved_lm, tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(UserInputError, match="ulmfit-tf never replaces them"):
        word_lm.save_to_preset(foreign)
    assert (foreign / "notes.txt").read_text() == "keep me"
    with pytest.raises(UserInputError, match=r"already holds a preset: pass --overwrite"):
        word_lm.save_to_preset(saved_lm)
    assert word_lm.save_to_preset(saved_lm, overwrite=True) == saved_lm
    with pytest.raises(UserInputError) as error:
        word_lm.save_to_preset(tmp_path / "other", model_card={"accuracy": 0.9})
    assert str(error.value) == (
        "Argument `model_card` must be a dict with keys among ('description', 'data', 'command', 'minutes', "
        "'validation_perplexity', 'license'). Received: keys ['accuracy']"
    )


def test_the_command_line_takes_presets_and_fastai_folders(saved_lm, tmp_path, capsys):
    from ulmfit_tf import cli

    fastai_folder = os.path.join(os.path.dirname(__file__), "fixtures", "fastai_pretrained", "zip", "pretrained")
    train = tmp_path / "train.csv"
    reviews = datasets.load_rotten_tomatoes()
    rows = [f'"{text}",{reviews["label_names"][label]}' for text, label in
            zip(reviews["train"]["texts"][:48], reviews["train"]["labels"][:48])]
    train.write_text("text,label\n" + "\n".join(row.replace('""', "") for row in rows) + "\n")
    for source in (str(saved_lm), fastai_folder):
        output = tmp_path / f"tuned_{os.path.basename(os.path.dirname(source))}"
        code = cli.main(["finetune-lm", "--language-model", source, "--texts", str(train), "--output", str(output),
                         "--batch-size", "4", "--bptt", "8", "--quiet"])
        assert code == 0, capsys.readouterr().err
        code = cli.main(["fit-classifier", "--language-model", source, "--train", str(train), "--output",
                         str(tmp_path / "clf"), "--overwrite", "--epochs", "1", "--batch-size", "16", "--quiet"])
        assert code == 0, capsys.readouterr().err
    code = cli.main(["fit-classifier", "--language-model", "no-such-preset", "--train", str(train), "--output",
                     str(tmp_path / "x"), "--quiet"])
    assert code == 2 and "no-such-preset" in capsys.readouterr().err


def test_the_bundled_english_language_model():
    from ulmfit_tf import datasets
    from ulmfit_tf.folders import file_size
    from ulmfit_tf.pipeline import BUNDLED_LANGUAGE_MODEL
    from ulmfit_tf.pipeline import RECIPES
    from ulmfit_tf.stages import perplexity

    assert RECIPES["small"]["language_model"] == BUNDLED_LANGUAGE_MODEL
    assert BUNDLED_LANGUAGE_MODEL in presets.list_presets()
    folder = presets.preset_folder(BUNDLED_LANGUAGE_MODEL)
    assert file_size(folder) < 20e6  # in the repository
    card = open(os.path.join(folder, "README.md"), encoding="utf-8").read()
    for needed in ("pretraining/english_lm.sh", "CPU-hours", "per word", "Apache-2.0"):
        assert needed in card
    model = ULMFiTLanguageModel.from_preset(BUNDLED_LANGUAGE_MODEL)
    assert (model.backbone.vocabulary_size, model.backbone.embedding_dim, model.backbone.hidden_dim) == (8000, 128, 320)
    assert not model.preprocessor.reverse
    # Trained weights: on held-out English its perplexity is far below a uniform guess over 8,000 pieces.
    held_out = datasets.load_english_corpus()["validation"][:40]
    assert perplexity(model, held_out, 70) < 150
