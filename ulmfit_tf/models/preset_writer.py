"""`save_to_preset` for the family: KerasHub's layout, written all at once, with our model card.

KerasHub's `save_to_preset` writes into the folder as it goes: a save over
a preset of another kind leaves that kind's `task.json` and
`task.weights.h5` behind (the folder then fails to load), and an
interrupted save leaves half a preset. Here KerasHub's saver fills a fresh
hidden folder that replaces the target in one rename
(`ulmfit_tf.folders.write_folder_atomically`), only when the target is
missing, empty, or (with `overwrite=True`) a preset ulmfit-tf wrote; the
folder also gets our manifest (`ulmfit_tf.json`), `metadata.json` names
ulmfit-tf's version and the class, and `README.md` is the model card.
"""

import json
import os

import keras
import keras_hub

from ulmfit_tf import __version__
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.folders import write_folder_atomically

METADATA_FILE = "metadata.json"
README_FILE = "README.md"
MODEL_CARD_FIELDS = ("description", "data", "vectors", "command", "minutes", "validation_perplexity", "license", "details")
KINDS = {"ULMFiTLanguageModel": "language model", "ULMFiTTextClassifier": "text classifier"}
# The folders being filled: KerasHub's task saver calls the backbone's
# `save_to_preset` on the same folder, which then saves there as it is.
_FILLING = set()


class AtomicPresetTask:
    """`save_to_preset` and `load_task_weights` of the family's tasks: listed before the KerasHub task base."""

    def save_to_preset(self, preset_dir, max_shard_size=10, model_card=None, overwrite=False):
        """Writes this model as a KerasHub preset folder, all at once.

        KerasHub's layout (`config.json` and `model.weights.h5` for the
        backbone, `task.json` and `task.weights.h5` for the head,
        `preprocessor.json`, `tokenizer.json` and `assets/tokenizer/`,
        `metadata.json`) with ulmfit-tf's manifest and a model card
        (`README.md`); see `write_preset`.

        Args:
            preset_dir: The folder: missing, empty, or (with `overwrite`) a
                preset ulmfit-tf wrote.
            max_shard_size: KerasHub's weight shard size, in GB.
            model_card: Optional dict of the card's fields (`description`,
                `data`, `command`, `minutes`, `validation_perplexity`,
                `license`).
            overwrite: Boolean, replace an existing preset folder.

        Returns:
            The folder, as a string.

        Example:

        ```python
        classifier.save_to_preset("presets/reviews", model_card={"data": "Rotten Tomatoes"})
        keras_hub.models.TextClassifier.from_preset("presets/reviews")
        ```
        """
        base = super(AtomicPresetTask, self)
        return write_preset(
            self, preset_dir, lambda folder: base.save_to_preset(folder, max_shard_size), model_card, overwrite
        )

    def load_task_weights(self, filepath):
        # The file holds no optimizer state (`save_to_preset` leaves it out);
        # Keras would warn that this model's optimizer finds none.
        optimizer, self.optimizer = self.optimizer, None
        try:
            super().load_task_weights(filepath)
        finally:
            self.optimizer = optimizer


def write_preset(model, directory, save, model_card=None, overwrite=False):
    """Writes `model` as a preset folder through KerasHub's saver, atomically.

    Args:
        model: A backbone or task of the family.
        directory: The folder: missing, empty, or (with `overwrite`) a
            preset ulmfit-tf wrote.
        save: Callable taking a folder, KerasHub's `save_to_preset` of
            `model` (bound to its base class).
        model_card: Optional dict for `README.md`, with any of
            `description`, `data` (what it was trained on), `vectors` (the
            word vectors its embedding started from), `command` (what
            trained it), `minutes`, `validation_perplexity`, `license` (of
            the data); missing ones read "not recorded". `details`, if
            given, is Markdown placed after the table.
        overwrite: Boolean, replace an existing preset folder.

    Returns:
        The folder, as a string.

    Example:

    ```python
    write_preset(model, "presets/news_lm", lambda folder: Task.save_to_preset(model, folder))
    ```
    """
    if os.path.abspath(directory) in _FILLING:
        return save(directory)
    card = dict(model_card or {})
    unknown = sorted(set(card) - set(MODEL_CARD_FIELDS))
    if unknown:
        raise UserInputError(
            f"Argument `model_card` must be a dict with keys among {MODEL_CARD_FIELDS}. Received: keys {unknown}"
        )

    def write(folder):
        # A compiled task's weights file would also hold the optimizer's state.
        optimizer = getattr(model, "optimizer", None)
        model.optimizer = None
        _FILLING.add(os.path.abspath(folder))
        try:
            save(folder)
        finally:
            model.optimizer = optimizer
            _FILLING.discard(os.path.abspath(folder))
        metadata_path = os.path.join(folder, METADATA_FILE)
        with open(metadata_path, encoding="utf-8") as f:
            metadata = json.load(f)
        metadata.update(
            tasks=_family_tasks(type(getattr(model, "backbone", model))),
            ulmfit_tf_version=__version__,
            class_name=type(model).__name__,
            description=card.get("description", ""),
        )
        with open(metadata_path, "w", encoding="utf-8") as f:
            json.dump(metadata, f, indent=4)
        with open(os.path.join(folder, README_FILE), "w", encoding="utf-8") as f:
            f.write(model_card_text(model, card, metadata))

    return write_folder_atomically(directory, write, kind="preset", overwrite=overwrite)


def _family_tasks(backbone_cls):
    """The KerasHub tasks (`CausalLM`, `TextClassifier`) the family has for `backbone_cls`.

    KerasHub's saver names each task's first base class, which for
    ulmfit-tf's classifier is its fit-by-length mixin.
    """
    tasks = set()
    for cls in keras.saving.get_custom_objects().values():
        if isinstance(cls, type) and issubclass(cls, keras_hub.models.Task) and cls.backbone_cls is backbone_cls:
            tasks.add(next(base.__name__ for base in cls.__mro__[1:] if base.__module__.startswith("keras_hub.")))
    return sorted(tasks)


def model_card_text(model, card, metadata):
    """The `README.md` of a preset: what the model is, how it was trained, how to load it."""
    backbone = getattr(model, "backbone", model)
    preprocessor = getattr(model, "preprocessor", None)
    tokenizer = getattr(preprocessor, "tokenizer", preprocessor)  # a classifier's preprocessor holds it
    tokenizer_line = "none (the model takes token ids)"
    if tokenizer is not None:
        tokenizer_line = f"`{type(tokenizer).__name__}`, {tokenizer.vocabulary_size()} tokens"
    class_name = metadata["class_name"]
    kind = KINDS.get(class_name, "backbone")
    loader = {
        "ULMFiTLanguageModel": "keras_hub.models.CausalLM",
        "ULMFiTTextClassifier": "keras_hub.models.TextClassifier",
    }.get(class_name, "keras_hub.models.Backbone")

    def field(name, template="{}"):
        return "not recorded" if card.get(name) in (None, "") else template.format(card[name])

    return "\n".join(
        [
            "---",
            "library_name: keras-hub",
            *(["pipeline_tag: text-generation"] if kind == "language model" else []),
            *(["pipeline_tag: text-classification"] if kind == "text classifier" else []),
            "---",
            f"# ULMFiT {kind}",
            "",
            card.get("description") or f"An AWD-LSTM {kind} saved by ulmfit-tf {metadata['ulmfit_tf_version']}.",
            "",
            "| | |",
            "|---|---|",
            f"| Model | `{class_name}`: {backbone.num_layers} LSTM layers, embedding {backbone.embedding_dim}, "
            f"hidden {backbone.hidden_dim}, vocabulary {backbone.vocabulary_size} |",
            f"| Tokenizer | {tokenizer_line} |",
            f"| Parameters | {model.count_params():,} |",
            f"| Training data | {field('data')} |",
            *([f"| Word vectors | {card['vectors']} |"] if card.get("vectors") else []),
            f"| Command | {field('command', '`{}`')} |",
            f"| Training time | {field('minutes', '{} minutes')} |",
            f"| Validation perplexity | {field('validation_perplexity')} |",
            f"| License of the data | {field('license')} |",
            f"| Saved | {metadata['date_saved']}, Keras {metadata['keras_version']}, "
            f"KerasHub {metadata.get('keras_hub_version')} |",
            "",
            *([card["details"], ""] if card.get("details") else []),
            "A KerasHub preset of the ulmfit-tf family (TensorFlow backend). Load it with:",
            "",
            "```python",
            "import keras_hub",
            "import ulmfit_tf.models  # registers the family with KerasHub",
            "",
            f'model = {loader}.from_preset("path/to/this/folder")',
            "```",
            "",
        ]
    )

