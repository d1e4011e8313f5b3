"""The family's presets: KerasHub's layout and entry points, our guards, `ulmfit_tf.presets`' other sources."""

import json
import os
import subprocess
import sys

import keras_hub
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
BUNDLED = "awd_lstm_small_en_uncased"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The language model is a `keras_hub.models.CausalLM` once ulmfit_language_model.py is one.
requires_causal_lm = pytest.mark.skipif(
    not issubclass(ULMFiTLanguageModel, keras_hub.models.CausalLM), reason="ULMFiTLanguageModel is not a CausalLM yet"
)


def language_model(preprocessor=None, **backbone_kwargs):
    size = preprocessor.vocabulary_size() if preprocessor is not None else len(WORDS)
    backbone = AWDLSTMBackbone(vocabulary_size=size, embedding_dim=8, hidden_dim=12, num_layers=2, seed=1, **backbone_kwargs)
    model = ULMFiTLanguageModel(backbone, preprocessor=preprocessor, seed=2)
    model.decoder_bias.bias.assign(np.random.normal(size=size))
    return model


def classifier(preprocessor=None, **kwargs):
    preprocessor = preprocessor or WordTokenizer(vocabulary=WORDS)
    return ULMFiTTextClassifier.from_language_model(
        language_model(preprocessor), num_classes=3, label_names=["neg", "mixed", "pos"], preprocessor=preprocessor,
        **kwargs,
    )


@pytest.fixture(scope="module")
def sentencepiece():
    return SentencePieceTokenizer.train([a["text"] for a in datasets.load_news_articles()[:100]], vocabulary_size=120)


@pytest.fixture
def saved_classifier(tmp_path):
    model = classifier()
    return model, model.save_to_preset(tmp_path / "classifier")


def test_classifier_round_trip_in_keras_hub_layout(sentencepiece, tmp_path):
    model = classifier(sentencepiece)
    card = {"data": "Rotten Tomatoes", "command": "ulmfit-tf fit-classifier ...", "minutes": 12, "license": "CC0",
            "vectors": "GloVe 6B 50d", "details": "## Per source\n\nnews: 1,234 per word"}
    folder = model.save_to_preset(tmp_path / "classifier", model_card=card)
    assert folder == str(tmp_path / "classifier")
    assert sorted(os.listdir(folder)) == [
        "README.md", "assets", "config.json", "metadata.json", "model.weights.h5", "preprocessor.json", "task.json",
        "task.weights.h5", "tokenizer.json", "ulmfit_tf.json",
    ]
    assert os.listdir(os.path.join(folder, "assets", "tokenizer")) == ["sentencepiece.model"]
    with open(os.path.join(folder, "config.json")) as f:
        assert json.load(f)["registered_name"] == "ulmfit_tf>AWDLSTMBackbone"
    with open(os.path.join(folder, "task.json")) as f:
        assert json.load(f)["registered_name"] == "ulmfit_tf>ULMFiTTextClassifier"
    with open(os.path.join(folder, "metadata.json")) as f:
        metadata = json.load(f)
    assert metadata["class_name"] == "ULMFiTTextClassifier" and "TextClassifier" in metadata["tasks"]
    assert metadata["keras_hub_version"] == keras_hub.__version__
    with open(os.path.join(folder, "README.md")) as f:
        card_text = f.read()
    for line in ["library_name: keras-hub", "pipeline_tag: text-classification", "| Training data | Rotten Tomatoes |",
                 "| Command | `ulmfit-tf fit-classifier ...` |", "| Training time | 12 minutes |",
                 "| Validation perplexity | not recorded |", "| License of the data | CC0 |",
                 "| Tokenizer | `SentencePieceTokenizer`, 120 tokens |", f"| Parameters | {model.count_params():,} |",
                 "| Word vectors | GloVe 6B 50d |"]:
        assert line in card_text
    assert card_text.index("| Saved |") < card_text.index("## Per source\n\nnews: 1,234 per word\n") < card_text.index("```")
    expected = model.predict(TEXTS, verbose=0)
    for load in (keras_hub.models.TextClassifier.from_preset, ULMFiTTextClassifier.from_preset, presets.load_classifier):
        reloaded = load(folder)
        assert type(reloaded) is ULMFiTTextClassifier and reloaded.label_names == ["neg", "mixed", "pos"]
        np.testing.assert_array_equal(reloaded.predict(TEXTS, verbose=0), expected)
    reloaded = presets.load_classifier(folder, label_names=["n", "m", "p"], dropout_multiplier=0.5)
    assert reloaded.label_names == ["n", "m", "p"] and reloaded.backbone.dropout_multiplier == 0.5
    np.testing.assert_array_equal(reloaded.predict(TEXTS, verbose=0), expected)
    # `num_classes` asks KerasHub for a new head on the same encoder.
    fresh = keras_hub.models.TextClassifier.from_preset(folder, num_classes=2, label_names=None)
    assert fresh.num_classes == 2
    np.testing.assert_array_equal(fresh.backbone.encoder_variables()[1], model.backbone.encoder_variables()[1])


def test_backbone_and_tokenizer_round_trip(sentencepiece, tmp_path):
    backbone = AWDLSTMBackbone(vocabulary_size=120, embedding_dim=8, hidden_dim=12, num_layers=2, seed=1)
    folder = backbone.save_to_preset(tmp_path / "backbone")
    assert sorted(os.listdir(folder)) == ["README.md", "config.json", "metadata.json", "model.weights.h5", "ulmfit_tf.json"]
    reloaded = keras_hub.models.Backbone.from_preset(folder, stateful=True, batch_size=2)
    assert type(reloaded) is AWDLSTMBackbone and reloaded.stateful and reloaded.batch_size == 2
    np.testing.assert_array_equal(
        reloaded(IDS)["sequence_output"], backbone(IDS)["sequence_output"]
    )
    sentencepiece.save_to_preset(folder)
    tokenizer = keras_hub.tokenizers.Tokenizer.from_preset(folder)
    assert type(tokenizer) is SentencePieceTokenizer
    assert tokenizer(TEXTS).to_list() == sentencepiece(TEXTS).to_list()


def test_unknown_keyword_arguments_are_refused(saved_classifier):
    _, folder = saved_classifier
    with pytest.raises(UserInputError, match=r"^Argument `statefull` is not an argument of ULMFiTTextClassifier, wh"):
        keras_hub.models.TextClassifier.from_preset(folder, statefull=True)
    with pytest.raises(UserInputError) as error:
        keras_hub.models.Backbone.from_preset(folder, num_layer=3)
    assert str(error.value) == (
        "Argument `num_layer` is not an argument of AWDLSTMBackbone, which takes vocabulary_size, embedding_dim, "
        "hidden_dim, num_layers, embedding_dropout, input_dropout, hidden_dropout, weight_dropout, "
        "dropout_multiplier, padding_id, stateful, batch_size, seed, dtype, name, trainable. Received: num_layer=3"
    )
    with pytest.raises(UserInputError, match=r"^Argument `num_layer` is not an argument of ULMFiTTextClassifier, wh"):
        presets.load_classifier(folder, num_layer=3)


def test_a_save_leaves_nothing_of_another_kind(saved_classifier, tmp_path):
    model, folder = saved_classifier
    with pytest.raises(UserInputError, match=r"already holds a preset: pass --overwrite"):
        model.backbone.save_to_preset(folder)
    # KerasHub's own saver would keep the classifier's task.json here, which
    # `TextClassifier.from_preset(folder, num_classes=2)` would then load.
    model.backbone.save_to_preset(folder, overwrite=True)
    assert sorted(os.listdir(folder)) == ["README.md", "config.json", "metadata.json", "model.weights.h5", "ulmfit_tf.json"]
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".")]  # no temporary folder left
    assert model.save_to_preset(folder, overwrite=True) == folder
    assert "task.json" in os.listdir(folder)


def test_writing_never_replaces_what_it_did_not_write(saved_classifier, tmp_path):
    model, folder = saved_classifier
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(UserInputError, match="ulmfit-tf never replaces them"):
        model.save_to_preset(foreign)
    assert (foreign / "notes.txt").read_text() == "keep me"
    with pytest.raises(UserInputError) as error:
        model.save_to_preset(tmp_path / "other", model_card={"accuracy": 0.9})
    assert str(error.value) == (
        "Argument `model_card` must be a dict with keys among ('description', 'data', 'vectors', 'command', "
        "'minutes', 'validation_perplexity', 'license', 'details'). Received: keys ['accuracy']"
    )
    assert not os.path.exists(tmp_path / "other")


def test_keras_hub_finds_the_family_in_a_fresh_process(saved_classifier):
    _, folder = saved_classifier
    script = f"""
import keras_hub
import ulmfit_tf.models
classifier = keras_hub.models.TextClassifier.from_preset({folder!r})
print(type(classifier).__name__, type(classifier.preprocessor).__name__, classifier.label_names)
print(type(keras_hub.models.Backbone.from_preset({folder!r})).__name__)
print(type(keras_hub.tokenizers.Tokenizer.from_preset({folder!r})).__name__)
print(type(keras_hub.models.TextClassifier.from_preset({BUNDLED!r}, num_classes=2)).__name__)
print(type(keras_hub.models.Backbone.from_preset({BUNDLED!r})).__name__)
print(type(keras_hub.tokenizers.Tokenizer.from_preset({BUNDLED!r})).__name__)
print(sorted(ulmfit_tf.models.AWDLSTMBackbone.presets))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=300,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines()[-7:] == [
        "ULMFiTTextClassifier ULMFiTTextClassifierPreprocessor ['neg', 'mixed', 'pos']",
        "AWDLSTMBackbone",
        "WordTokenizer",
        "ULMFiTTextClassifier",
        "AWDLSTMBackbone",
        "SentencePieceTokenizer",
        f"['{BUNDLED}']",
    ]


# The reference outputs were computed on an AVX-512 CPU. An AVX2-only CPU's float32 kernels add in another
# order: measured there, the outputs differ by at most 1.8e-7 (sequence output) and 2.5e-6 (logits up to
# about 10). Weights stored in float16 instead would move the logits by about 1e-3.
SAME_WEIGHTS = {"rtol": 0, "atol": 1e-5}


def test_the_bundled_preset_kept_its_weights():
    # Outputs of the bundled language model computed before its folder moved to KerasHub's layout.
    reference = np.load(os.path.join(ROOT, "tests", "fixtures", "awd_lstm_small_en_uncased_outputs.npz"))
    tokenizer = keras_hub.tokenizers.Tokenizer.from_preset(BUNDLED)
    ids = tokenizer(["A fine film, truly.", "Dull and long; the end was best.", ""]).to_tensor(default_value=1)
    np.testing.assert_array_equal(ids, reference["ids"])
    backbone = keras_hub.models.Backbone.from_preset(BUNDLED)
    assert not backbone.stateful
    np.testing.assert_allclose(backbone(ids)["sequence_output"][..., :16], reference["sequence_output"], **SAME_WEIGHTS)
    classifier = keras_hub.models.TextClassifier.from_preset(BUNDLED, num_classes=2)
    assert classifier.backbone.padding_id == 1 and classifier.backbone.dropout_multiplier == 0.2
    np.testing.assert_array_equal(classifier.backbone.encoder_variables()[0], backbone.encoder_variables()[0])


@requires_causal_lm
def test_the_bundled_language_model_kept_its_weights():
    reference = np.load(os.path.join(ROOT, "tests", "fixtures", "awd_lstm_small_en_uncased_outputs.npz"))
    model = keras_hub.models.CausalLM.from_preset(BUNDLED)
    assert type(model) is ULMFiTLanguageModel
    np.testing.assert_allclose(model.predict(reference["ids"], verbose=0)[..., :16], reference["logits"], **SAME_WEIGHTS)


def test_command_line_model_folders(tmp_path):
    word_lm = language_model(WordTokenizer(vocabulary=WORDS))
    folder = save_model_directory(word_lm, tmp_path / "lm", "language_model")
    model = presets.load_language_model(folder, stateful=True, batch_size=2)
    assert model.backbone.stateful
    np.testing.assert_allclose(model.predict(IDS, batch_size=2, verbose=0), word_lm.predict(IDS, verbose=0), atol=1e-6)
    built = presets.load_classifier(folder, num_classes=2)
    assert built.preprocessor.tokenizer.get_vocabulary() == WORDS
    saved = save_model_directory(built, tmp_path / "classifier", "classifier")
    with pytest.raises(UserInputError, match=r"holds a ULMFiTTextClassifier, not a ULMFiTLanguageModel; load it with"):
        presets.load_language_model(saved)
    assert presets.load_classifier(saved).num_classes == 2
    with pytest.raises(UserInputError) as error:
        presets.load_classifier(folder)
    assert str(error.value) == (
        f"Argument `num_classes` must be set to build a classifier on the language model in {folder!r}. "
        "Received: num_classes=None"
    )


def test_unknown_presets_and_folders(tmp_path, monkeypatch):
    with pytest.raises(UserInputError) as error:
        presets.load_language_model("no-such-preset")
    assert str(error.value) == (
        "No preset named 'no-such-preset' and no folder at 'no-such-preset'. Bundled presets: 'awd_lstm_small_en_uncased'; "
        "or give a hf:// or kaggle:// handle, a preset folder, a model folder or a fastai pretrained folder (one "
        ".pth and one .pkl)."
    )
    with pytest.raises(UserInputError, match=r"is not a preset: it has no config.json"):
        presets.load_classifier(tmp_path)
    monkeypatch.setitem(presets.backbone_presets, "tiny", {"metadata": {"description": "A tiny test LM."},
                                                           "kaggle_handle": str(tmp_path / "gone")})
    assert presets.list_presets()["tiny"] == "A tiny test LM."
    with pytest.raises(UserInputError, match=r"The bundled preset 'tiny' is missing from this installation"):
        presets.load_classifier("tiny", num_classes=2)


@pytest.mark.parametrize(
    "how", ["missing_weights", "truncated_weights", "missing_asset", "symlink_out", "newer_format", "swapped_tokenizer"]
)
def test_damaged_preset_is_named(sentencepiece, tmp_path, how):
    folder = classifier(sentencepiece).save_to_preset(tmp_path / "classifier")
    asset = os.path.join(folder, "assets", "tokenizer", "sentencepiece.model")
    if how == "missing_weights":
        os.remove(os.path.join(folder, "model.weights.h5"))
    elif how == "truncated_weights":
        path = os.path.join(folder, "task.weights.h5")
        data = open(path, "rb").read()
        open(path, "wb").write(data[: len(data) // 2])
    elif how == "missing_asset":
        os.remove(asset)
    elif how == "newer_format":
        with open(os.path.join(folder, "ulmfit_tf.json")) as f:
            manifest = json.load(f)
        with open(os.path.join(folder, "ulmfit_tf.json"), "w") as f:
            json.dump(dict(manifest, format=2), f)
    elif how == "swapped_tokenizer":  # another model's SentencePiece file
        other = SentencePieceTokenizer.train([a["text"] for a in datasets.load_news_articles()[:100]], vocabulary_size=130)
        with open(asset, "wb") as f:
            f.write(other.proto)
    else:
        os.replace(asset, tmp_path / "outside.model")
        os.symlink(tmp_path / "outside.model", asset)
    with pytest.raises(UserInputError) as error:
        presets.load_classifier(folder)
    if how == "newer_format":
        assert str(error.value).startswith(f"{folder!r} was written by ulmfit-tf 0.1.0 in folder format 2; this is")
    elif how == "swapped_tokenizer":
        assert str(error.value) == (
            f"The tokenizer of the preset {folder!r} has 130 tokens, its model 120: the tokenizer's files belong to "
            "another model; save the preset again."
        )
    elif how == "symlink_out":
        assert str(error.value) == (
            f"{folder!r} names a file outside itself ('assets/tokenizer/sentencepiece.model'); the folder is "
            "damaged or hostile."
        )
    else:
        assert str(error.value).startswith(f"The preset {folder!r} is incomplete or corrupt (")


@requires_causal_lm
def test_the_command_line_takes_presets_and_fastai_folders(tmp_path, capsys):
    from ulmfit_tf import cli

    saved_lm = language_model(WordTokenizer(vocabulary=WORDS)).save_to_preset(tmp_path / "lm")
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


@requires_causal_lm
def test_the_bundled_english_language_model():
    from ulmfit_tf.folders import file_size
    from ulmfit_tf.recipe import BUNDLED_LANGUAGE_MODEL
    from ulmfit_tf.recipe import RECIPES
    from ulmfit_tf.stages import perplexity

    assert RECIPES["small"].language_model == BUNDLED_LANGUAGE_MODEL == BUNDLED
    assert BUNDLED in presets.list_presets()
    folder = presets.preset_folder(BUNDLED)
    assert file_size(folder) < 20e6  # in the repository
    card = open(os.path.join(folder, "README.md"), encoding="utf-8").read()
    for needed in ("pretraining/knowledge_lm.sh", "CPU-hours", "per word", "GloVe 6B 50d", "PDDL-1.0", "CC BY-SA 4.0",
                   "| wordnet |", "| all |"):
        assert needed in card
    # The preset keeps no state between calls (a KerasHub preset); `perplexity` reads one stream, as it was trained.
    model = presets.load_language_model(BUNDLED, stateful=True, batch_size=32)
    assert (model.backbone.vocabulary_size, model.backbone.embedding_dim, model.backbone.hidden_dim) == (16000, 128, 320)
    # Case-folded: a text and its lower-cased form are the same ids (GloVe 6B and the on-device clients are uncased).
    tokenizer = model.preprocessor.tokenizer
    np.testing.assert_array_equal(tokenizer(["The Film, SO Good"]).to_tensor(), tokenizer(["the film, so good"]).to_tensor())
    # Trained weights: on English news its perplexity is far below a uniform guess over 16,000 pieces.
    held_out = datasets.load_english_corpus()["validation"][:40]
    assert perplexity(model, held_out, 70) < 200
