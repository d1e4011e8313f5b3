"""ulmfit_tf.folders on its own (no Keras): the rules, each refusal's sentence, and what a failed write leaves.

A killed writer, a second process holding the lock and the command line's
use of these rules are in tests/reliability/outputs_test.py and
disks_and_signals_test.py.
"""

import json
import os

import pytest

from ulmfit_tf import __version__
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.folders import FORMAT
from ulmfit_tf.folders import MANIFEST
from ulmfit_tf.folders import check_new_file
from ulmfit_tf.folders import check_output
from ulmfit_tf.folders import confined_path
from ulmfit_tf.folders import exclusive
from ulmfit_tf.folders import file_size
from ulmfit_tf.folders import read_manifest
from ulmfit_tf.folders import remove_folder
from ulmfit_tf.folders import write_file_atomically
from ulmfit_tf.folders import write_folder_atomically


def write_note(text):
    def write(folder):
        with open(os.path.join(folder, "note.txt"), "w", encoding="utf-8") as f:
            f.write(text)

    return write


def test_a_folder_is_written_with_its_manifest_and_replaced_only_when_asked(tmp_path):
    target = tmp_path / "out"
    assert write_folder_atomically(f"{target}/", write_note("one"), "pipeline", manifest={"seed": 3}) == str(target)
    assert read_manifest(target) == {"seed": 3, "format": FORMAT, "kind": "pipeline", "ulmfit_tf": __version__}
    with pytest.raises(UserInputError, match="already holds a pipeline: pass --overwrite"):
        write_folder_atomically(target, write_note("two"), "pipeline")
    write_folder_atomically(target, write_note("two"), "pipeline", overwrite=True)
    assert (target / "note.txt").read_text() == "two"
    assert sorted(os.listdir(tmp_path)) == ["out"]  # no temporary folder, no lock file


def test_a_failed_write_leaves_the_old_folder_and_removes_what_it_made(tmp_path):
    def fail(folder):
        write_note("half")(folder)
        raise RuntimeError("the write failed")

    write_folder_atomically(tmp_path / "out", write_note("old"), "preset")
    with pytest.raises(RuntimeError, match="the write failed"):
        write_folder_atomically(tmp_path / "out", fail, "preset", overwrite=True)
    assert (tmp_path / "out" / "note.txt").read_text() == "old"
    with pytest.raises(RuntimeError, match="the write failed"):
        write_folder_atomically(tmp_path / "new" / "deeper" / "out", fail, "preset")
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_a_killed_write_s_temporary_folder_is_removed_by_the_next(tmp_path):
    stale = tmp_path / ".out.x1.partial"
    stale.mkdir()
    (stale / MANIFEST).write_text("{}")
    foreign = tmp_path / ".out.x2.partial"  # no manifest: not ours, left alone
    foreign.mkdir()
    write_folder_atomically(tmp_path / "out", write_note("new"), "preset")
    assert sorted(os.listdir(tmp_path)) == [".out.x2.partial", "out"]


def test_check_output_refuses_what_is_not_ours(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("")
    (tmp_path / "user").mkdir()
    (tmp_path / "user" / "thesis.tex").write_text("")
    (tmp_path / "link").symlink_to(tmp_path / "user")
    check_output(tmp_path / "new" / "deeper", "classifier")
    (tmp_path / "empty").mkdir()
    check_output(tmp_path / "empty", "classifier")
    with pytest.raises(UserInputError, match="is a file; give a folder path for the classifier"):
        check_output(tmp_path / "file", "classifier")
    with pytest.raises(UserInputError, match="cannot be made: .* is a file, not a folder"):
        check_output(tmp_path / "file" / "out", "classifier")
    with pytest.raises(UserInputError, match="already holds files ulmfit-tf did not write"):
        check_output(tmp_path / "user", "classifier", overwrite=True)
    with pytest.raises(UserInputError, match="is a symbolic link"):
        check_output(tmp_path / "link", "classifier", overwrite=True)
    monkeypatch.chdir(tmp_path / "user")
    with pytest.raises(UserInputError, match="is the current folder or above it"):
        check_output("..", "classifier", overwrite=True)


def test_a_manifest_of_another_format_or_no_kind_is_one_sentence(tmp_path):
    assert read_manifest(tmp_path) is None
    (tmp_path / MANIFEST).write_text(json.dumps({"kind": "classifier", "format": FORMAT + 1, "ulmfit_tf": "9.0"}))
    with pytest.raises(UserInputError, match=rf"written by ulmfit-tf 9.0 in folder format {FORMAT + 1}; .*Retrain it"):
        read_manifest(tmp_path)
    (tmp_path / MANIFEST).write_text(json.dumps({"kind": "photo"}))
    with pytest.raises(UserInputError, match="is not an ulmfit-tf manifest"):
        read_manifest(tmp_path)


def test_confined_path_refuses_names_that_leave_the_folder(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "escape").symlink_to(tmp_path)
    assert confined_path(tmp_path / "model", "weights.h5") == str(tmp_path / "model" / "weights.h5")
    for name in ("../secret", "/etc/passwd", "escape/secret", "", ".", None):
        with pytest.raises(UserInputError, match="names a file outside itself"):
            confined_path(tmp_path / "model", name)


def test_remove_folder_deletes_only_our_folder_of_that_kind(tmp_path):
    remove_folder(tmp_path / "absent", "saved_model")
    write_folder_atomically(tmp_path / "version", write_note("x"), "saved_model")
    with pytest.raises(UserInputError, match="is not a preset folder ulmfit-tf wrote; it is left alone"):
        remove_folder(tmp_path / "version", "preset")
    (tmp_path / "user").mkdir()
    with pytest.raises(UserInputError, match="is not a saved model folder ulmfit-tf wrote"):
        remove_folder(tmp_path / "user", "saved_model")
    remove_folder(tmp_path / "version", "saved_model")
    assert sorted(os.listdir(tmp_path)) == ["user"]


def test_a_file_is_written_whole_and_replaced_only_when_asked(tmp_path):
    path = tmp_path / "deeper" / "report.md"
    assert write_file_atomically(path, lambda f: f.write("é\n"), text=True) == path
    assert path.read_text(encoding="utf-8") == "é\n"
    with pytest.raises(UserInputError, match="already exists: pass --overwrite"):
        write_file_atomically(path, lambda f: f.write("x"), text=True)
    write_file_atomically(path, lambda f: f.write(b"bytes"), overwrite=True)
    assert path.read_bytes() == b"bytes"
    assert os.listdir(path.parent) == ["report.md"]
    with pytest.raises(UserInputError, match="is a folder; give a file path"):
        check_new_file(tmp_path, overwrite=True)


def test_the_lock_is_reentrant_and_removed_after(tmp_path):
    lock = tmp_path / "out.lock"
    with exclusive(tmp_path / "out"):
        assert lock.read_text() == f"{os.getpid()}\n"
        with exclusive(f"{tmp_path / 'out'}/"):
            write_folder_atomically(tmp_path / "out", write_note("x"), "checkpoint")  # takes the same lock
        assert lock.exists()
    assert not lock.exists()
    assert file_size(tmp_path / "out") == 1 + os.path.getsize(tmp_path / "out" / MANIFEST)
    assert file_size(tmp_path / "out" / "note.txt") == 1
