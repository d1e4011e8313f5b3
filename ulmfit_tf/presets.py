"""Presets: ready-made models by name or folder, in KerasHub's layout.

`ULMFiTLanguageModel.from_preset(preset, **kwargs)` and
`ULMFiTTextClassifier.from_preset(preset, **kwargs)` load, and
`model.save_to_preset(directory)` writes, a preset folder:

- `config.json`: the model's Keras config (`module`, `class_name`,
  `config` with the backbone's sizes and dropouts, `registered_name`) and
  `format_version`;
- `model.weights.h5`: `model.save_weights`;
- `tokenizer.json` (the preprocessor's config) and its file in `assets/`:
  `vocabulary.json` (a `WordTokenizer`'s tokens) or `sentencepiece.model`;
- `metadata.json` (versions, date, parameter count), `README.md` (the model
  card) and `ulmfit_tf.json` (the manifest of every folder ulmfit-tf
  writes).

`preset` is the name of a bundled preset (`list_presets()`) or a folder:
a preset folder, a model folder the command line wrote (`ulmfit_tf.json`
and a `.keras` file), or, for a language model, a fastai pretrained folder
(one `.pth` and one `.pkl`, as fastai's `wt103-fwd` download), read without
torch and without running any code the files hold.
"""

import datetime
import json
import os

import keras

from ulmfit_tf.bounded_reading import parse_json
from ulmfit_tf.bounded_reading import read_bounded
from ulmfit_tf.bounded_reading import read_json_file
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.folders import confined_path
from ulmfit_tf.folders import read_manifest
from ulmfit_tf.folders import write_folder_atomically
from ulmfit_tf.model_directory import FILENAMES
from ulmfit_tf.model_directory import load_model_directory
from ulmfit_tf.text.sentencepiece_tokenizer import SentencePieceTokenizer
from ulmfit_tf.text.word_tokenizer import WordTokenizer

# The model classes import this module (for `PresetMixin`), so the functions
# below import them, and `convert` (which imports them), when called.

PRESET_FORMAT = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.weights.h5"
TOKENIZER_FILE = "tokenizer.json"
METADATA_FILE = "metadata.json"
README_FILE = "README.md"
VOCABULARY_ASSET = "assets/vocabulary.json"
SENTENCEPIECE_ASSET = "assets/sentencepiece.model"
MODEL_CARD_FIELDS = ("description", "data", "command", "minutes", "validation_perplexity", "license")

# Bundled presets: name -> {"folder": a folder under BUNDLED_DIR, "description": one line}.
BUNDLED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bundled_presets")
BUNDLED_PRESETS = {
    "awd_lstm_small_en": {
        "folder": "awd_lstm_small_en",
        "description": (
            "English AWD-LSTM language model (embedding 128, hidden 320, 3 layers, SentencePiece 8,000), "
            "pretrained on 2.8 M words of news, tweets and parliamentary speeches; the main job's starting point"
        ),
    },
}

_DROPOUTS = ("embedding_dropout", "input_dropout", "hidden_dropout", "weight_dropout")
# The settings `from_preset(..., **kwargs)` may change: (backbone's, model's).
_OVERRIDES = {
    "language_model": (
        ("dropout_multiplier", "stateful", "batch_size", "seed") + _DROPOUTS,
        ("output_dropout", "ar_alpha", "tar_beta", "seed", "preprocessor", "name"),
    ),
    "classifier": (
        ("dropout_multiplier", "seed") + _DROPOUTS,
        ("output_dropout", "label_names", "bptt", "max_len", "seed", "preprocessor", "name"),
    ),
}


def list_presets():
    """The bundled presets, `{name: one-line description}`.

    Example:

    ```python
    for name, description in ulmfit_tf.presets.list_presets().items():
        print(name, "-", description)
    ```
    """
    return {name: entry["description"] for name, entry in sorted(BUNDLED_PRESETS.items())}


class PresetMixin:
    """`from_preset` and `save_to_preset` for ulmfit-tf's models, as KerasHub's."""

    @classmethod
    def from_preset(cls, preset, **kwargs):
        """Loads a model from a bundled preset or a folder.

        A language model loads from a preset folder, a command-line model
        folder or a fastai pretrained folder (one `.pth`, one `.pkl`; its
        `preprocessor` is then a `WordTokenizer` over the `.pkl`'s
        vocabulary). A classifier loads from a classifier preset or model
        folder, or is built on a language model's (as KerasHub's tasks on a
        backbone preset): `num_classes` is then required and every other
        `ULMFiTTextClassifier.from_language_model` argument may be given.

        Args:
            preset: String, a bundled preset's name (`list_presets()`) or
                the path of a folder.
            **kwargs: Settings to change. Language model:
                `dropout_multiplier`, `stateful`, `batch_size`, `seed`, any
                `*_dropout`, `ar_alpha`, `tar_beta`, `preprocessor`, `name`.
                Classifier: `dropout_multiplier`, `seed`, any `*_dropout`,
                `label_names`, `bptt`, `max_len`, `preprocessor`, `name`.

        Returns:
            The model, weights loaded.

        Raises:
            UserInputError: naming the folder and the file when the preset
                is unknown, of another kind or format version, incomplete or
                corrupt.

        Example:

        ```python
        language_model = ULMFiTLanguageModel.from_preset("wt103-fwd/", dropout_multiplier=0.5)
        classifier = ULMFiTTextClassifier.from_preset("my_lm/", num_classes=2)
        ```
        """
        return load_preset(cls, preset, **kwargs)

    def save_to_preset(self, directory, model_card=None, overwrite=False):
        """Writes this model as a preset folder that `from_preset` loads.

        Args:
            directory: The folder: missing, empty, or (with `overwrite`) a
                preset ulmfit-tf wrote.
            model_card: Optional dict for `README.md`, with any of
                `description`, `data` (what it was trained on), `command`
                (what trained it), `minutes`, `validation_perplexity`,
                `license` (of the data); missing ones read "not recorded".
            overwrite: Boolean, replace an existing preset folder.

        Returns:
            The folder, as a string.

        Example:

        ```python
        language_model.save_to_preset(
            "presets/news_lm", model_card={"data": "2017 news articles", "license": "CC BY 4.0"}
        )
        ```
        """
        return save_preset(self, directory, model_card=model_card, overwrite=overwrite)


def preset_folder(preset):
    """The folder of a bundled preset's name, or `preset` itself when it is a folder."""
    if isinstance(preset, str) and preset in BUNDLED_PRESETS:
        folder = confined_path(BUNDLED_DIR, BUNDLED_PRESETS[preset]["folder"])
        if not os.path.isdir(folder):
            raise UserInputError(
                f"The bundled preset {preset!r} is missing from this installation ({folder!r}); reinstall ulmfit-tf."
            )
        return folder
    folder = os.fspath(preset)
    if not os.path.isdir(folder):
        bundled = ", ".join(map(repr, sorted(BUNDLED_PRESETS))) or "none yet"
        raise UserInputError(
            f"No preset named {folder!r} and no folder at {folder!r}. Bundled presets: {bundled}; or give a preset "
            "folder, a model folder or a fastai pretrained folder (one .pth and one .pkl)."
        )
    return folder


def load_preset(cls, preset, **kwargs):
    """`cls.from_preset(preset, **kwargs)`; see `PresetMixin.from_preset`."""
    from ulmfit_tf.models.ulmfit_text_classifier import ULMFiTTextClassifier

    folder = preset_folder(preset)
    wanted = "classifier" if issubclass(cls, ULMFiTTextClassifier) else "language_model"
    manifest = read_manifest(folder)
    if manifest is not None and manifest["kind"] in FILENAMES:
        if wanted == "classifier" and manifest["kind"] == "language_model":
            return _classifier_on(folder, load_model_directory(folder, "language_model"), kwargs)
        return _with_settings(load_model_directory(folder, wanted), wanted, kwargs)
    if manifest is not None and manifest["kind"] != "preset":
        raise UserInputError(f"{folder!r} holds a {manifest['kind'].replace('_', ' ')}, not a preset or a model folder.")
    if manifest is not None or os.path.lexists(os.path.join(folder, CONFIG_FILE)):
        config = _read_config(folder)
        kind = "classifier" if config["class_name"] == "ULMFiTTextClassifier" else "language_model"
        if wanted == "classifier" and kind == "language_model":
            return _classifier_on(folder, _load_preset_folder(folder, config), kwargs)
        if kind != wanted:
            raise UserInputError(
                f"{folder!r} holds a {kind.replace('_', ' ')} preset ({CONFIG_FILE} names {config['class_name']}), "
                f"not a {wanted.replace('_', ' ')}; load it with `{config['class_name']}.from_preset`."
            )
        return _with_settings(_load_preset_folder(folder, config), wanted, kwargs)
    files = sorted(os.listdir(folder))
    weights = [name for name in files if name.endswith(".pth")]
    vocabularies = [name for name in files if name.endswith(".pkl")]
    if len(weights) == 1 and len(vocabularies) == 1:
        language_model = _load_fastai_folder(folder, weights[0], vocabularies[0])
        if wanted == "classifier":
            return _classifier_on(folder, language_model, kwargs)
        return _with_settings(language_model, wanted, kwargs)
    raise UserInputError(
        f"{folder!r} is not a preset: it has no {CONFIG_FILE} (an ulmfit-tf preset), no ulmfit_tf.json (a model "
        f"folder), and not one .pth with one .pkl (a fastai pretrained language model; it has {len(weights)} "
        f".pth and {len(vocabularies)} .pkl)."
    )


def save_preset(model, directory, model_card=None, overwrite=False):
    """`model.save_to_preset(directory)`; see `PresetMixin.save_to_preset`."""
    from ulmfit_tf import __version__

    card = dict(model_card or {})
    unknown = sorted(set(card) - set(MODEL_CARD_FIELDS))
    if unknown:
        raise UserInputError(
            f"Argument `model_card` must be a dict with keys among {MODEL_CARD_FIELDS}. Received: keys {unknown}"
        )
    config = keras.saving.serialize_keras_object(model)
    for key in ("build_config", "compile_config"):
        config.pop(key, None)
    config["format_version"] = PRESET_FORMAT
    config["config"]["preprocessor"] = None
    tokenizer = getattr(model.preprocessor, "tokenizer", model.preprocessor)  # a classifier's preprocessor holds it
    if tokenizer is not None:
        tokenizer_config, asset, asset_bytes = _tokenizer_files(tokenizer)
        if config["config"].get("vocabulary") == tokenizer.get_vocabulary():
            config["config"]["vocabulary"] = None  # the tokenizer's, as the constructor takes it
    metadata = {
        "keras_version": keras.version(),
        "ulmfit_tf_version": __version__,
        "parameter_count": model.count_params(),
        "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
        "class_name": type(model).__name__,
        "description": card.get("description", ""),
    }

    def write(folder):
        _write_json(os.path.join(folder, CONFIG_FILE), config)
        _save_weights_only(model, os.path.join(folder, WEIGHTS_FILE))
        if tokenizer is not None:
            _write_json(os.path.join(folder, TOKENIZER_FILE), tokenizer_config)
            os.makedirs(os.path.join(folder, os.path.dirname(asset)))
            with open(os.path.join(folder, asset), "wb") as f:
                f.write(asset_bytes)
        _write_json(os.path.join(folder, METADATA_FILE), metadata)
        with open(os.path.join(folder, README_FILE), "w", encoding="utf-8") as f:
            f.write(_model_card(model, card, metadata))

    return write_folder_atomically(directory, write, kind="preset", overwrite=overwrite)


def _save_weights_only(model, path):
    """`model.save_weights`, without the optimizer's state a compiled model's file would also hold."""
    optimizer = getattr(model, "optimizer", None)
    model.optimizer = None
    try:
        model.save_weights(path)
    finally:
        model.optimizer = optimizer


def _read_json(folder, name):
    path = confined_path(folder, name)
    if not os.path.isfile(path):
        raise UserInputError(f"{folder!r} is incomplete: {name!r} is missing.")
    return read_json_file(path, "the preset is damaged")


def _read_config(folder):
    from ulmfit_tf import __version__

    config = _read_json(folder, CONFIG_FILE)
    classes = ("ULMFiTLanguageModel", "ULMFiTTextClassifier")
    if not isinstance(config, dict) or config.get("registered_name") not in [f"ulmfit_tf>{c}" for c in classes]:
        raise UserInputError(
            f"{os.path.join(folder, CONFIG_FILE)!r} is not an ulmfit-tf preset config: it names no "
            f"{' or '.join(classes)}."
        )
    if config.get("format_version") != PRESET_FORMAT:
        raise UserInputError(
            f"{folder!r} holds a preset in format {config.get('format_version')} ({CONFIG_FILE}); this is ulmfit-tf "
            f"{__version__}, which reads preset format {PRESET_FORMAT}. Load it with the version that wrote it."
        )
    config["class_name"] = config["registered_name"].split(">")[1]
    return config


def _load_preset_folder(folder, config):
    from ulmfit_tf.models.awd_lstm_backbone import AWDLSTMBackbone
    from ulmfit_tf.models.ulmfit_language_model import ULMFiTLanguageModel
    from ulmfit_tf.models.ulmfit_text_classifier import ULMFiTTextClassifier

    cls = ULMFiTTextClassifier if config["class_name"] == "ULMFiTTextClassifier" else ULMFiTLanguageModel
    tokenizer = None
    if os.path.lexists(os.path.join(folder, TOKENIZER_FILE)):
        tokenizer = _read_tokenizer(folder)
    try:
        settings = dict(config["config"], preprocessor=tokenizer)
        backbone = AWDLSTMBackbone.from_config(dict(settings.pop("backbone")["config"]))
        model = cls(backbone, **settings)
    except (KeyError, TypeError, ValueError) as error:
        raise UserInputError(
            f"{os.path.join(folder, CONFIG_FILE)!r} does not describe a valid {cls.__name__} ({error}); the preset "
            "is damaged."
        ) from None
    weights = confined_path(folder, WEIGHTS_FILE)
    if not os.path.isfile(weights):
        raise UserInputError(f"{folder!r} is incomplete: {WEIGHTS_FILE!r} is missing.")
    try:
        model.load_weights(weights)
    except (OSError, ValueError, KeyError):
        raise UserInputError(
            f"{os.path.join(folder, WEIGHTS_FILE)!r} is corrupt or does not match {CONFIG_FILE}; save the preset again."
        ) from None
    return model


def _tokenizer_files(tokenizer):
    """`tokenizer.json`'s content, the asset's name in the folder and its bytes."""
    config = keras.saving.serialize_keras_object(tokenizer)
    if isinstance(tokenizer, WordTokenizer) and tokenizer.vocabulary is not None:
        config["config"]["vocabulary"] = VOCABULARY_ASSET
        return config, VOCABULARY_ASSET, json.dumps(tokenizer.get_vocabulary()).encode("utf-8")
    if isinstance(tokenizer, SentencePieceTokenizer) and tokenizer.proto is not None:
        config["config"]["proto"] = SENTENCEPIECE_ASSET
        return config, SENTENCEPIECE_ASSET, tokenizer.proto
    raise UserInputError(
        "A preset's preprocessor must be a `WordTokenizer` with a vocabulary or a `SentencePieceTokenizer` with a "
        f"model. Received: preprocessor={tokenizer!r}"
    )


def _read_tokenizer(folder):
    config = _read_json(folder, TOKENIZER_FILE)
    path = os.path.join(folder, TOKENIZER_FILE)
    # Each tokenizer class, and the config entry its asset file replaces.
    classes = {
        "ulmfit_tf>WordTokenizer": (WordTokenizer, "vocabulary"),
        "ulmfit_tf>SentencePieceTokenizer": (SentencePieceTokenizer, "proto"),
    }
    if not (isinstance(config, dict) and config.get("registered_name") in classes and isinstance(config.get("config"), dict)):
        raise UserInputError(f"{path!r} is not a tokenizer config: it names no WordTokenizer or SentencePieceTokenizer.")
    cls, field = classes[config["registered_name"]]
    settings = dict(config["config"])
    asset = settings.get(field)
    if isinstance(asset, str):
        asset_path = confined_path(folder, asset)
        if not os.path.isfile(asset_path):
            raise UserInputError(f"{folder!r} is incomplete: {asset!r} is missing.")
        settings[field] = read_bounded(asset_path, "the preset is damaged")
    try:
        if field == "vocabulary" and isinstance(asset, str):
            settings[field] = parse_json(settings[field], asset_path, "the preset is damaged")
            if not (isinstance(settings[field], list) and all(isinstance(token, str) for token in settings[field])):
                raise ValueError("not a list of strings")
        return cls.from_config(settings)
    except (UnicodeDecodeError, TypeError, ValueError, RuntimeError) as error:
        raise UserInputError(
            f"The tokenizer of {folder!r} ({TOKENIZER_FILE} with {asset!r}) is corrupt: {error}"
        ) from None


def _load_fastai_folder(folder, weights_name, vocabulary_name):
    from ulmfit_tf.convert.fastai import from_fastai
    from ulmfit_tf.convert.torch_file import read_state_dict
    from ulmfit_tf.convert.torch_file import read_vocabulary

    weights_path = confined_path(folder, weights_name)
    itos = read_vocabulary(confined_path(folder, vocabulary_name))
    state_dict = read_state_dict(weights_path)
    try:
        return from_fastai(state_dict, vocab=itos, preprocessor=WordTokenizer(vocabulary=itos))
    except ValueError as error:
        raise UserInputError(
            f"The fastai pretrained folder {folder!r} cannot be used ({weights_name!r} with "
            f"{vocabulary_name!r}): {error}"
        ) from None


def _with_settings(model, kind, settings):
    """`model` rebuilt with some settings changed (`from_preset`'s kwargs), weights kept."""
    from ulmfit_tf.models.awd_lstm_backbone import AWDLSTMBackbone

    if not settings:
        return model
    backbone_keys, model_keys = _OVERRIDES[kind]
    for key, value in settings.items():
        if key not in backbone_keys + model_keys:
            raise UserInputError(
                f"Argument `{key}` cannot be set when loading a {kind.replace('_', ' ')} preset; it can set "
                f"{sorted(set(backbone_keys + model_keys))}. Received: {key}={value!r}"
            )
    config = dict(model.get_config(), preprocessor=model.preprocessor)
    backbone_config = dict(config.pop("backbone")["config"])
    backbone_config.update({k: v for k, v in settings.items() if k in backbone_keys})
    config.update({k: v for k, v in settings.items() if k in model_keys})
    rebuilt = type(model)(AWDLSTMBackbone.from_config(backbone_config), **config)
    rebuilt.set_weights(model.get_weights())
    return rebuilt


def _classifier_on(folder, language_model, settings):
    from ulmfit_tf.models.ulmfit_text_classifier import ULMFiTTextClassifier

    if "num_classes" not in settings:
        raise UserInputError(
            f"Argument `num_classes` must be set to build a classifier on the language model in {folder!r}. "
            "Received: num_classes=None"
        )
    settings = dict(settings)
    settings.setdefault("preprocessor", language_model.preprocessor)
    return ULMFiTTextClassifier.from_language_model(language_model, **settings)


def _write_json(path, content):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(content, f, indent=2)


def _model_card(model, card, metadata):
    backbone = model.backbone
    tokenizer = getattr(model.preprocessor, "tokenizer", model.preprocessor)  # a classifier's preprocessor holds it
    tokenizer_line = "none (the model takes token ids)"
    if tokenizer is not None:
        tokenizer_line = f"`{type(tokenizer).__name__}`, {tokenizer.vocabulary_size} tokens"
    kind = "language model" if metadata["class_name"] == "ULMFiTLanguageModel" else "text classifier"

    def field(name, template="{}"):
        return "not recorded" if card.get(name) in (None, "") else template.format(card[name])

    return "\n".join(
        [
            f"# ULMFiT {kind}",
            "",
            card.get("description") or f"An AWD-LSTM {kind} saved by ulmfit-tf {metadata['ulmfit_tf_version']}.",
            "",
            "| | |",
            "|---|---|",
            f"| Model | `{metadata['class_name']}`: {backbone.num_layers} LSTM layers, embedding {backbone.embedding_dim}, "
            f"hidden {backbone.hidden_dim}, vocabulary {backbone.vocabulary_size} |",
            f"| Tokenizer | {tokenizer_line} |",
            f"| Parameters | {metadata['parameter_count']:,} |",
            f"| Training data | {field('data')} |",
            f"| Command | {field('command', '`{}`')} |",
            f"| Training time | {field('minutes', '{} minutes')} |",
            f"| Validation perplexity | {field('validation_perplexity')} |",
            f"| License of the data | {field('license')} |",
            f"| Saved | {metadata['date_saved']}, Keras {metadata['keras_version']} |",
            "",
            "Load it with:",
            "",
            "```python",
            f"from ulmfit_tf.models import {metadata['class_name']}",
            "",
            f'model = {metadata["class_name"]}.from_preset("path/to/this/folder")',
            "```",
            "",
        ]
    )
