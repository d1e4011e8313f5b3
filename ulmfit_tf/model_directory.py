"""Model folders: a `.keras` file plus ulmfit-tf's manifest, saved and loaded.

A model folder is written atomically, under `ulmfit_tf.folders`' rules (a
manifest naming its kind, never replacing what ulmfit-tf did not write, one
writer at a time), so that loading a folder from another version, or a
language model where a classifier is expected, fails with one clear sentence
instead of a deserialization error.

Example:

```python
folder = save_model_directory(classifier, "runs/demo/classifier", "classifier")
classifier = load_model_directory(folder, "classifier")
```
"""

import numbers
import os
import zipfile

import keras

from ulmfit_tf.bounded_reading import check_archive
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.folders import MANIFEST
from ulmfit_tf.folders import confined_path
from ulmfit_tf.folders import read_manifest
from ulmfit_tf.folders import write_folder_atomically
from ulmfit_tf.models import ULMFiTLanguageModel
from ulmfit_tf.models import ULMFiTTextClassifier

FILENAMES = {"language_model": "language_model.keras", "classifier": "classifier.keras"}


def save_model_directory(model, directory, kind, overwrite=False, fingerprint=None):
    """Writes `model` into `directory` as a `kind` model folder.

    Args:
        model: The Keras model.
        directory: The folder: missing, empty, or (with `overwrite`) a
            model folder of the same kind written by ulmfit-tf.
        kind: `"language_model"` or `"classifier"`.
        overwrite: Boolean, replace an existing model folder of this kind.
        fingerprint: Optional dict recorded in the manifest: what made the
            model (settings, seed, data digests); see `fingerprint_changes`.
            The model's training history (`training_history`) is recorded
            beside it.

    Returns:
        The folder, as a string.
    """
    if kind not in FILENAMES:
        raise ValueError(f"Argument `kind` must be one of {tuple(FILENAMES)}. Received: kind={kind!r}")
    extra = {"file": FILENAMES[kind]}
    if fingerprint is not None:
        extra["fingerprint"] = fingerprint
    history = training_history(model)
    if history:
        extra["history"] = history
    return write_folder_atomically(
        directory, lambda partial: model.save(os.path.join(partial, FILENAMES[kind])), kind, overwrite, extra
    )


def training_history(model):
    """The per-epoch logs of the model's last training (`History.history`), as JSON numbers; `{}` if none.

    `ulmfit-tf report` draws them from the manifest, where `save_model_directory` records them.
    """
    logs = getattr(getattr(model, "history", None), "history", None) or {}
    return {
        str(name): [float(value) for value in values]
        for name, values in logs.items()
        if isinstance(values, (list, tuple)) and all(isinstance(v, numbers.Real) for v in values)
    }


def load_model_directory(directory, kind=None):
    """Loads the model of a folder written by `save_model_directory`.

    Args:
        directory: The folder.
        kind: Optional `"language_model"` or `"classifier"`: the kind
            expected.

    Raises:
        UserInputError: naming the folder (and file) when it is missing,
            not a model folder, of another kind or format, or corrupt.
    """
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise UserInputError(f"No model folder at {directory!r}.")
    manifest = read_manifest(directory)
    if manifest is None:
        raise UserInputError(f"{directory!r} is not an ulmfit-tf model folder: it has no {MANIFEST}.")
    if manifest["kind"] not in FILENAMES:
        raise UserInputError(f"{directory!r} holds a {manifest['kind'].replace('_', ' ')}, not a model.")
    if kind is not None and manifest["kind"] != kind:
        raise UserInputError(
            f"{directory!r} holds a {manifest['kind'].replace('_', ' ')}, not a {kind.replace('_', ' ')}."
        )
    path = confined_path(directory, manifest.get("file", FILENAMES[manifest["kind"]]))
    if not os.path.isfile(path):
        raise UserInputError(f"{directory!r} is incomplete: {os.path.basename(path)!r} is missing.")
    check_archive(path, ("config.json", "metadata.json"))
    register_keras_objects()
    try:
        model = keras.saving.load_model(path)
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as error:
        raise UserInputError(f"{path!r} is corrupt or not a Keras model ({_short(error)}); write it again.") from None
    expected = {"language_model": ULMFiTLanguageModel, "classifier": ULMFiTTextClassifier}
    if not isinstance(model, expected[manifest["kind"]]):
        raise UserInputError(
            f"{path!r} holds a {type(model).__name__}, but {MANIFEST} says it is a "
            f"{manifest['kind'].replace('_', ' ')}; the folder is damaged."
        )
    return model


def register_keras_objects():
    """Imports every module that registers ulmfit-tf classes with Keras (the package loads lazily)."""
    # Deferred on purpose: loading every registering module is this function's job, done when a model is loaded.
    import ulmfit_tf.layers  # noqa: F401
    import ulmfit_tf.losses  # noqa: F401
    import ulmfit_tf.models  # noqa: F401
    import ulmfit_tf.optimizers  # noqa: F401
    import ulmfit_tf.schedules  # noqa: F401
    import ulmfit_tf.text  # noqa: F401


def load(directory):
    """Loads any model folder ulmfit-tf wrote: what the command line's `--output` holds.

    Example:

    ```python
    classifier = ulmfit_tf.load("runs/demo/forward_classifier")
    labels, probabilities = ulmfit_tf.stages.predict(classifier, ["A fine film."])
    ```
    """
    return load_model_directory(directory)


def _short(error):
    return " ".join((str(error).strip() or type(error).__name__).split())[:200]
