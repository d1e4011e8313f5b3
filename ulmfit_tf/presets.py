"""Pretrained models from anywhere: what KerasHub's `from_preset` does not read.

The family's presets are KerasHub presets: `keras_hub.models.CausalLM`,
`TextClassifier`, `Backbone` and `keras_hub.tokenizers.Tokenizer` load a
bundled name (`list_presets()`), a preset folder, or a `hf://` /
`kaggle://` handle once `ulmfit_tf.models` is imported, and
`model.save_to_preset(folder)` writes one. This module adds:

- `load_language_model(preset, **settings)` and
  `load_classifier(preset, **settings)`, which also read a model folder the
  command line wrote (`ulmfit_tf.json` and a `.keras` file) and a fastai
  pretrained folder (one `.pth` and one `.pkl`, as fastai's `wt103-fwd`
  download), without torch and without running any code the files hold;
  and which change the backbone's settings (`dropout_multiplier`,
  `stateful`, ...) as well as the task's;
- `list_presets()`, the bundled presets and their descriptions.
"""

import os

from ulmfit_tf.bounded_reading import read_bounded
from ulmfit_tf.bounded_reading import read_json_file
from ulmfit_tf.convert.fastai import from_fastai
from ulmfit_tf.convert.torch_file import read_state_dict
from ulmfit_tf.convert.torch_file import read_vocabulary
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.folders import confined_path
from ulmfit_tf.folders import read_manifest
from ulmfit_tf.model_directory import FILENAMES
from ulmfit_tf.model_directory import load_model_directory
from ulmfit_tf.models.awd_lstm_backbone import AWDLSTMBackbone
from ulmfit_tf.models.awd_lstm_presets import backbone_presets
from ulmfit_tf.models.ulmfit_language_model import ULMFiTLanguageModel
from ulmfit_tf.models.ulmfit_text_classifier import ULMFiTTextClassifier
from ulmfit_tf.text.word_tokenizer import WordTokenizer

CONFIG_FILE = "config.json"
# The backbone's settings a load may change (`seed` seeds the task's dropouts too).
BACKBONE_SETTINGS = (
    "dropout_multiplier", "stateful", "batch_size", "seed",
    "embedding_dropout", "input_dropout", "hidden_dropout", "weight_dropout",
)
_HUB_SCHEMES = ("hf://", "kaggle://", "gs://", "modelscope://")


def list_presets():
    """The bundled presets, `{name: one-line description}`.

    Example:

    ```python
    for name, description in ulmfit_tf.presets.list_presets().items():
        print(name, "-", description)
    ```
    """
    return {name: entry["metadata"]["description"] for name, entry in sorted(backbone_presets.items())}


def load_language_model(preset, **settings):
    """A language model from a preset, a model folder or a fastai pretrained folder.

    Args:
        preset: String: a bundled preset's name (`list_presets()`), a
            `hf://` or `kaggle://` handle, or a folder: a KerasHub preset,
            a command-line model folder, or a fastai pretrained folder
            (one `.pth`, one `.pkl`; the model's preprocessor is then a
            `WordTokenizer` over the `.pkl`'s vocabulary).
        **settings: The backbone's (`dropout_multiplier`, `stateful`,
            `batch_size`, `seed`, any `*_dropout`) and the language
            model's constructor arguments.

    Returns:
        A `ULMFiTLanguageModel`, weights loaded.

    Raises:
        UserInputError: naming the folder and the file when the preset is
            unknown, of another kind, incomplete or corrupt, and naming an
            unknown setting.

    Example:

    ```python
    language_model = ulmfit_tf.presets.load_language_model("wt103-fwd/", stateful=True, batch_size=32)
    ```
    """
    return _load(ULMFiTLanguageModel, preset, settings)


def load_classifier(preset, **settings):
    """A text classifier from a classifier's preset or model folder, or built on a language model's.

    On a language model (any source `load_language_model` reads),
    `num_classes` is required and the classifier is
    `ULMFiTTextClassifier.from_language_model`'s: the encoder's weights,
    fastai's classifier dropouts, a new head.

    Args:
        preset: String, as `load_language_model`'s.
        **settings: The backbone's (`dropout_multiplier`, `seed`, any
            `*_dropout`) and the classifier's constructor arguments
            (`num_classes`, `label_names`, `bptt`, `max_len`, ...).

    Returns:
        A `ULMFiTTextClassifier`, weights loaded.

    Example:

    ```python
    classifier = ulmfit_tf.presets.load_classifier("awd_lstm_small_en_uncased", num_classes=2, label_names=["neg", "pos"])
    ```
    """
    return _load(ULMFiTTextClassifier, preset, settings)


def preset_folder(preset):
    """The folder a local preset or a bundled name stands for; `None` for a hub handle."""
    if not isinstance(preset, (str, os.PathLike)):
        raise UserInputError(f"Argument `preset` must be a name, a handle or a folder. Received: preset={preset!r}")
    preset = os.fspath(preset)
    if preset.startswith(_HUB_SCHEMES):
        return None
    if preset in backbone_presets:
        folder = backbone_presets[preset]["kaggle_handle"]
        if not os.path.isfile(os.path.join(folder, CONFIG_FILE)):
            raise UserInputError(
                f"The bundled preset {preset!r} is missing from this installation ({folder!r}); reinstall ulmfit-tf."
            )
        return folder
    if not os.path.isdir(preset):
        bundled = ", ".join(map(repr, sorted(backbone_presets))) or "none yet"
        raise UserInputError(
            f"No preset named {preset!r} and no folder at {preset!r}. Bundled presets: {bundled}; or give a "
            "hf:// or kaggle:// handle, a preset folder, a model folder or a fastai pretrained folder "
            "(one .pth and one .pkl)."
        )
    return preset


def _load(cls, preset, settings):
    folder = preset_folder(preset)
    if folder is None:
        return _load_keras_hub(cls, preset, settings)
    _check_confined(folder)
    manifest = read_manifest(folder)  # refuses a folder of another format
    if os.path.lexists(os.path.join(folder, CONFIG_FILE)):
        _check_preset_files(folder)
        return _load_keras_hub(cls, folder, settings)
    if manifest is not None and manifest["kind"] in FILENAMES:
        model = load_model_directory(folder)
    elif manifest is not None:
        raise UserInputError(f"{folder!r} holds a {manifest['kind'].replace('_', ' ')}, not a preset or a model folder.")
    else:
        model = _load_fastai_folder(folder)
    if cls is ULMFiTTextClassifier and isinstance(model, ULMFiTLanguageModel):
        return ULMFiTTextClassifier.from_language_model(model, **_with_num_classes(folder, settings))
    if not isinstance(model, cls):
        raise UserInputError(
            f"{folder!r} holds a {type(model).__name__}, not a {cls.__name__}; load it with "
            f"`load_{'classifier' if isinstance(model, ULMFiTTextClassifier) else 'language_model'}`."
        )
    return _with_settings(model, settings)


def _check_preset_files(folder):
    """Refuses, in one line, JSON files too large or too deep and assets too large (KerasHub reads them unbounded)."""
    damaged = "the preset is damaged; save it again"
    for name in sorted(os.listdir(folder)):
        if name.endswith(".json"):
            read_json_file(confined_path(folder, name), damaged)
    assets = os.path.join(folder, "assets")
    for root, _, names in os.walk(assets) if os.path.isdir(assets) else ():
        for name in names:
            read_bounded(confined_path(folder, os.path.relpath(os.path.join(root, name), folder)), damaged)


def _load_keras_hub(cls, preset, settings):
    """`cls.from_preset`, with the backbone's settings given to the backbone."""
    backbone_settings, settings = _split(settings)
    if backbone_settings:
        settings["backbone"] = AWDLSTMBackbone.from_preset(preset, **backbone_settings)
    try:
        model = cls.from_preset(preset, **settings)
    except (OSError, KeyError, RuntimeError) as error:
        raise UserInputError(f"The preset {preset!r} is incomplete or corrupt ({error}); save it again.") from None
    tokenizer = getattr(model.preprocessor, "tokenizer", None)
    if tokenizer is not None and tokenizer.vocabulary_size() != model.backbone.vocabulary_size:
        raise UserInputError(
            f"The tokenizer of the preset {preset!r} has {tokenizer.vocabulary_size()} tokens, its model "
            f"{model.backbone.vocabulary_size}: the tokenizer's files belong to another model; save the preset again."
        )
    return model


def _check_confined(folder):
    """Refuses a folder whose files lead outside it (links), which KerasHub's loader would follow."""
    for parent, _, names in os.walk(folder):
        for name in names:
            confined_path(folder, os.path.relpath(os.path.join(parent, name), folder))


def _load_fastai_folder(folder):
    files = sorted(os.listdir(folder))
    weights = [name for name in files if name.endswith(".pth")]
    vocabularies = [name for name in files if name.endswith(".pkl")]
    if not (len(weights) == 1 and len(vocabularies) == 1):
        raise UserInputError(
            f"{folder!r} is not a preset: it has no {CONFIG_FILE} (a KerasHub preset), no ulmfit_tf.json (a model "
            f"folder), and not one .pth with one .pkl (a fastai pretrained language model; it has {len(weights)} "
            f".pth and {len(vocabularies)} .pkl)."
        )
    itos = read_vocabulary(confined_path(folder, vocabularies[0]))
    state_dict = read_state_dict(confined_path(folder, weights[0]))
    try:
        return from_fastai(state_dict, vocab=itos, preprocessor=WordTokenizer(vocabulary=itos))
    except ValueError as error:
        raise UserInputError(
            f"The fastai pretrained folder {folder!r} cannot be used ({weights[0]!r} with "
            f"{vocabularies[0]!r}): {error}"
        ) from None


def _with_settings(model, settings):
    """`model` rebuilt with some settings changed, weights kept."""
    if not settings:
        return model
    backbone_settings, settings = _split(settings)
    config = model.get_config()
    config["backbone"] = AWDLSTMBackbone.from_config({**model.backbone.get_config(), **backbone_settings})
    config["preprocessor"] = model.preprocessor
    rebuilt = type(model).from_config({**config, **settings})
    rebuilt.set_weights(model.get_weights())
    return rebuilt


def _split(settings):
    """The backbone's settings and the task's (`seed` seeds both)."""
    settings = dict(settings)
    backbone_settings = {key: settings.pop(key) for key in BACKBONE_SETTINGS if key in settings}
    if "seed" in backbone_settings:
        settings["seed"] = backbone_settings["seed"]
    return backbone_settings, settings


def _with_num_classes(source, settings):
    if "num_classes" not in settings:
        raise UserInputError(
            f"Argument `num_classes` must be set to build a classifier on the language model in {source!r}. "
            "Received: num_classes=None"
        )
    return settings
