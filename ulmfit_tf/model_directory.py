"""Model folders: a `.keras` file plus a small manifest naming what it is.

The manifest (`ulmfit_tf.json`) records the kind of model, the file, the
ulmfit-tf version that wrote it and the folder format, so that loading a
folder from another version, or a language model where a classifier is
expected, fails with one clear sentence instead of a deserialization error.
Folders are written to a temporary name and renamed into place.
"""

import json
import os
import shutil

import keras

FORMAT = 1
MANIFEST = "ulmfit_tf.json"
FILENAMES = {"language_model": "language_model.keras", "classifier": "classifier.keras"}


def save_model_directory(model, directory, kind):
    """Writes `model` into `directory` (replacing it) as a `kind` model folder."""
    from ulmfit_tf import __version__

    if kind not in FILENAMES:
        raise ValueError(f"Argument `kind` must be one of {tuple(FILENAMES)}. Received: kind={kind!r}")

    def write(partial):
        model.save(os.path.join(partial, FILENAMES[kind]))
        with open(os.path.join(partial, MANIFEST), "w") as f:
            json.dump({"format": FORMAT, "kind": kind, "file": FILENAMES[kind], "ulmfit_tf": __version__}, f)

    return write_folder_atomically(directory, write)


def write_folder_atomically(directory, write):
    """Fills `directory` all at once: `write(folder)` fills a fresh
    `directory.partial` folder, which then replaces `directory`, so an
    interrupted write never leaves a half-written folder under that name.

    Returns:
        `directory`, as a string.
    """
    directory = os.fspath(directory).rstrip("/")
    partial = directory + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)
    write(partial)
    if os.path.isdir(directory):
        shutil.rmtree(directory)
    os.replace(partial, directory)
    return directory


def load_model_directory(directory, kind=None):
    """Loads the model of a folder written by `save_model_directory`.

    Args:
        directory: The folder.
        kind: Optional `"language_model"` or `"classifier"`: the kind
            expected.
    """
    from ulmfit_tf import __version__

    directory = os.fspath(directory)
    manifest_path = os.path.join(directory, MANIFEST)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"No model folder at {directory!r}.")
    if not os.path.exists(manifest_path):
        raise ValueError(f"{directory!r} is not an ulmfit-tf model folder: it has no {MANIFEST}.")
    with open(manifest_path) as f:
        manifest = json.load(f)
    if manifest.get("format") != FORMAT:
        raise ValueError(
            f"{directory!r} was written by ulmfit-tf {manifest.get('ulmfit_tf', '?')} in folder format "
            f"{manifest.get('format')}; this is ulmfit-tf {__version__}, which reads format {FORMAT}. "
            "Retrain it, or load it with the version that wrote it."
        )
    if kind is not None and manifest.get("kind") != kind:
        raise ValueError(f"{directory!r} holds a {manifest.get('kind')}, not a {kind}.")
    return keras.saving.load_model(os.path.join(directory, manifest["file"]))
