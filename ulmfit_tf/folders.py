"""Folders ulmfit-tf writes, and the rules that keep a user's files safe.

Every folder ulmfit-tf writes (model folders, epoch checkpoints, SavedModel
versions, presets, pipeline runs) holds a manifest, `ulmfit_tf.json`, naming
its kind, the folder format and the ulmfit-tf version that wrote it. The
manifest is what makes a folder ours:

- a folder is only ever replaced when its manifest says it is an ulmfit-tf
  output of the same kind, and only when asked (`overwrite=True`,
  `--overwrite` on the command line); any other existing non-empty folder,
  the current folder, a symbolic link or a path under a file is refused with
  one line, before any work starts (`check_output`);
- a folder is written under a temporary name beside it and then swapped in
  with one atomic rename exchange, so a kill at any moment leaves the old
  folder or the new one complete under the name (`write_folder_atomically`;
  `write_file_atomically` for one file);
- one writer at a time: a lock file beside the folder (`<folder>.lock`) is
  held while it is written (and for a whole training run); a second writer
  refuses at once (`exclusive`).

This module imports neither Keras nor TensorFlow (`tests/import_graph_test.py`
checks it): callbacks, the command line and the exports use it without
loading the models. Model folders (a `.keras` file plus the manifest) are
`ulmfit_tf.model_directory`'s; the disk-level steps (umask, full disk, hard
links, the rename exchange) are `ulmfit_tf.storage`'s.

Example:

```python
import os

from ulmfit_tf.folders import write_folder_atomically

def write(folder):
    with open(os.path.join(folder, "notes.txt"), "w") as f:
        f.write("hello")

write_folder_atomically("runs/notes", write, "pipeline")
```
"""

import contextlib
import fcntl
import json
import os
import shutil
import tempfile

from ulmfit_tf import __version__
from ulmfit_tf.bounded_reading import read_json_file
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.storage import apply_umask
from ulmfit_tf.storage import disk_full_as_one_line
from ulmfit_tf.storage import exchange
from ulmfit_tf.storage import link_new
from ulmfit_tf.storage import new_folders_removed_on_failure

FORMAT = 1
MANIFEST = "ulmfit_tf.json"
KINDS = ("language_model", "classifier", "checkpoint", "checkpoints", "saved_model", "preset", "pipeline")


def read_manifest(directory):
    """The manifest of a folder ulmfit-tf wrote, or `None` when it has none.

    Raises:
        UserInputError: when the manifest is not valid JSON, not an object,
            lacks a known `kind` or has another format.
    """
    path = os.path.join(os.fspath(directory), MANIFEST)
    if not os.path.isfile(path):
        return None
    manifest = read_json_file(path)
    if not isinstance(manifest, dict) or manifest.get("kind") not in KINDS:
        raise UserInputError(f"{path!r} is not an ulmfit-tf manifest (it names no known kind); the folder is damaged.")
    if manifest.get("format") != FORMAT:
        raise UserInputError(
            f"{os.fspath(directory)!r} was written by ulmfit-tf {manifest.get('ulmfit_tf', '?')} in folder format "
            f"{manifest.get('format')}; this is ulmfit-tf {__version__}, which reads format {FORMAT}. "
            "Retrain it, or load it with the version that wrote it."
        )
    return manifest


def confined_path(directory, name):
    """`directory/name`, refusing a name that leaves the folder (`..`, absolute paths, links outside)."""
    directory = os.fspath(directory)
    if not isinstance(name, str) or not name or os.path.isabs(name):
        raise UserInputError(f"{directory!r} names a file outside itself ({name!r}); the folder is damaged or hostile.")
    root = os.path.realpath(directory)
    path = os.path.realpath(os.path.join(root, name))
    if os.path.commonpath([root, path]) != root or path == root:
        raise UserInputError(f"{directory!r} names a file outside itself ({name!r}); the folder is damaged or hostile.")
    return path


def check_output(directory, kind, overwrite=False):
    """Raises `UserInputError` unless `directory` may receive a `kind` output.

    It may when it does not exist (and its parent can be made and written),
    is an empty folder, or, with `overwrite`, holds an ulmfit-tf output of
    the same kind. Called before long work starts, so a bad `--output` is
    found in a second, not after an epoch.
    """
    shown = os.fspath(directory)
    path = os.path.abspath(shown)
    if os.path.islink(path):
        raise UserInputError(f"{shown!r} is a symbolic link; ulmfit-tf writes only into real folders: give another path.")
    cwd = os.path.realpath(os.getcwd())
    real = os.path.realpath(path)
    if real == cwd or cwd.startswith(real.rstrip(os.sep) + os.sep) or real == os.sep:
        raise UserInputError(f"{shown!r} is the current folder or above it; give a new folder, e.g. {os.path.join(shown, 'model')!r}.")
    if not os.path.exists(path):
        _check_can_make(shown, path, "made")
        return
    if not os.path.isdir(path):
        raise UserInputError(f"{shown!r} is a file; give a folder path for the {kind.replace('_', ' ')}.")
    if not os.listdir(path):
        return
    manifest = read_manifest(path)
    if manifest is None:
        raise UserInputError(
            f"{shown!r} already holds files ulmfit-tf did not write; ulmfit-tf never replaces them: "
            "give a new or empty folder."
        )
    if manifest["kind"] != kind:
        raise UserInputError(
            f"{shown!r} holds a {manifest['kind'].replace('_', ' ')} written by ulmfit-tf, not a "
            f"{kind.replace('_', ' ')}; give another folder."
        )
    if not overwrite:
        raise UserInputError(
            f"{shown!r} already holds a {kind.replace('_', ' ')}: pass --overwrite (`overwrite=True`) to "
            "replace it, or give another folder."
        )


def check_new_file(path, overwrite=False):
    """Raises `UserInputError` unless a file may be written at `path`.

    It may when nothing is there and the folder it goes in exists (or can be
    made) and is writable; an existing file is replaced only with
    `overwrite`. Called before the work that makes the file.
    """
    shown = os.fspath(path)
    path = os.path.abspath(shown)
    if os.path.isdir(path):
        raise UserInputError(f"{shown!r} is a folder; give a file path.")
    if os.path.lexists(path) and not overwrite:
        raise UserInputError(f"{shown!r} already exists: pass --overwrite (`overwrite=True`) to replace it, or give another path.")
    _check_can_make(shown, path, "written")


def _check_can_make(shown, path, verb):
    """Refuses a new path whose nearest existing ancestor is a file or not writable."""
    ancestor = os.path.dirname(path)
    while not os.path.exists(ancestor):
        ancestor = os.path.dirname(ancestor)
    if not os.path.isdir(ancestor):
        raise UserInputError(f"{shown!r} cannot be {verb}: {ancestor!r} is a file, not a folder.")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise UserInputError(f"{shown!r} cannot be {verb}: {ancestor!r} is not writable.")


def write_file_atomically(path, write, text=False, overwrite=False):
    """Writes a file all at once: `write(f)` fills a hidden temporary file beside it, renamed into place.

    A kill at any moment leaves the old file or the new one. The target
    must pass `check_new_file(path, overwrite)`.

    Returns:
        `path`.
    """
    check_new_file(path, overwrite)
    folder = os.path.dirname(os.path.abspath(os.fspath(path)))
    with new_folders_removed_on_failure(path), disk_full_as_one_line(path):
        os.makedirs(folder, exist_ok=True)
        fd, partial = tempfile.mkstemp(prefix=f".{os.path.basename(os.fspath(path))}.", suffix=".partial", dir=folder)
        try:
            with open(fd, "w" if text else "wb", **({"encoding": "utf-8", "newline": ""} if text else {})) as f:
                write(f)
            apply_umask(partial)
            if overwrite:
                os.replace(partial, path)
            else:
                link_new(partial, path)
        finally:
            if os.path.exists(partial):
                os.unlink(partial)
    return path


def write_folder_atomically(directory, write, kind, overwrite=False, manifest=None):
    """Fills `directory` all at once, never replacing what ulmfit-tf did not write.

    `write(folder)` fills a fresh hidden folder beside `directory`; the
    manifest (`kind`, format, version, plus the entries of `manifest`) is
    added, and the folder is swapped in with one atomic rename exchange
    (two renames where the system has no exchange), then the old folder is
    deleted. The target must pass `check_output(directory, kind, overwrite)`.
    The write holds `directory`'s lock.

    Returns:
        `directory`, as a string without a trailing separator.
    """
    if kind not in KINDS:
        raise ValueError(f"Argument `kind` must be one of {KINDS}. Received: kind={kind!r}")
    shown = os.fspath(directory).rstrip(os.sep) or os.sep
    path = os.path.abspath(shown)
    with new_folders_removed_on_failure(path), exclusive(path), disk_full_as_one_line(shown):
        check_output(shown, kind, overwrite)
        parent, name = os.path.split(path)
        _remove_stale_temporaries(parent, name)
        partial = tempfile.mkdtemp(prefix=f".{name}.", suffix=".partial", dir=parent)
        try:
            write_manifest(partial, kind, dict(manifest or {}, complete=False))
            write(partial)
            write_manifest(partial, kind, manifest)
            apply_umask(partial)
            if os.path.isdir(path) and not os.listdir(path):
                os.rmdir(path)
            if os.path.isdir(path):
                exchange(partial, path)  # `partial` now holds the old folder
            else:
                os.replace(partial, path)
        finally:
            if os.path.isdir(partial):
                shutil.rmtree(partial)
    return shown


def remove_folder(directory, kind):
    """Deletes `directory` if it is an ulmfit-tf folder of `kind` (or absent); refuses anything else."""
    path = os.fspath(directory)
    if not os.path.lexists(path):
        return
    if os.path.islink(path) or not os.path.isdir(path):
        raise UserInputError(f"{path!r} is not a folder ulmfit-tf wrote; it is left alone.")
    manifest = read_manifest(path)
    if manifest is None or manifest["kind"] != kind:
        raise UserInputError(f"{path!r} is not a {kind.replace('_', ' ')} folder ulmfit-tf wrote; it is left alone.")
    shutil.rmtree(path)


_HELD = {}


@contextlib.contextmanager
def exclusive(directory):
    """Holds `<directory>.lock` while the block runs: one writer of a folder at a time.

    The lock is an advisory `flock`, released by the system when the process
    ends (even by `kill -9`), so a stale lock file never blocks a later run.
    Re-entrant within a process.

    Raises:
        UserInputError: when another process holds the lock.
    """
    path = os.path.abspath(os.fspath(directory).rstrip(os.sep) or os.sep) + ".lock"
    if path in _HELD:
        _HELD[path] += 1
        try:
            yield
        finally:
            _HELD[path] -= 1
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise UserInputError(
                f"Another ulmfit-tf run is writing {os.fspath(directory)!r} (it holds {path!r}); "
                "wait for it to finish, or give another output."
            ) from None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the previous holder removed the file between our open and our lock
    _HELD[path] = 1
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        del _HELD[path]
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.close(fd)


def write_manifest(folder, kind, entries=None):
    """Writes `folder`'s `ulmfit_tf.json`: `kind`, the folder format, this version, and `entries`."""
    with open(os.path.join(folder, MANIFEST), "w", encoding="utf-8") as f:
        json.dump(dict(entries or {}, format=FORMAT, kind=kind, ulmfit_tf=__version__), f)


def _remove_stale_temporaries(parent, name):
    """Deletes hidden folders a killed write of `name` left behind (only ours: they hold a manifest)."""
    for entry in os.listdir(parent):
        if entry.startswith(f".{name}.") and entry.endswith(".partial"):
            candidate = os.path.join(parent, entry)
            if not os.path.islink(candidate) and os.path.isfile(os.path.join(candidate, MANIFEST)):
                shutil.rmtree(candidate, ignore_errors=True)


def file_size(path):
    """Bytes of a file, or of all files under a folder."""
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(path) for name in names)
