"""A full disk, a read-only disk, Ctrl-C and `kill`: one line, and nothing half-written left.

Disk cases mount a small tmpfs (root only; skipped otherwise). Signal cases
send real signals to a command running in a subprocess, paused at a chosen
point by a wrapper script.
"""

import errno
import os
import signal
import stat
import subprocess
import sys
import textwrap
import warnings

import pytest

from tests.conftest import default_signals
from tests.reliability.hostile_files_test import models  # noqa: F401  (a fixture)
from tests.reliability.outputs_test import CLASSIFIER
from tests.reliability.outputs_test import one_line_error
from tests.reliability.outputs_test import run
from ulmfit_tf import cli
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.folders import write_file_atomically
from ulmfit_tf.presets import load_classifier
from ulmfit_tf.storage import link_new


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MB tmpfs, filled to leave about 300 kB (less than any model here)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("mounting a tmpfs needs root")
    try:
        (disk / "filler").write_bytes(bytes(1_750_000))
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_export_to_a_full_disk_is_one_line_and_leaves_nothing(models, small_disk, capsys):
    code, _, err = run(["export", "--model", models["classifier"], "--tflite", str(small_disk / "tiny" / "x.tflite"),
                        "--saved-model", str(small_disk / "tiny" / "sm")], capsys)
    one_line_error(code, err, "export", f"No space left to write '{small_disk / 'tiny' / 'sm' / '1'}' (")
    assert "free on its disk); nothing was written: free some space or give a path on another disk." in err
    (small_disk / "filler").write_bytes(bytes(2_000_000))
    code, _, err = run(["export", "--model", models["classifier"], "--tflite", str(small_disk / "x.tflite"),
                        "--quantization", "none"], capsys)
    one_line_error(code, err, "export", f"No space left to write '{small_disk / 'x.tflite'}'")
    with open(small_disk / "filler", "ab", buffering=0) as f, pytest.raises(OSError):
        while True:  # the disk to its last page
            f.write(bytes(4096))
    code, _, err = run(["predict", "--model", models["classifier"], "--data", models["train"], "--output",
                        str(small_disk / "out" / "predictions.csv")], capsys)
    one_line_error(code, err, "predict", "No space left to write")
    assert sorted(os.listdir(small_disk)) == ["filler"]  # no folder, lock or partial file left


def test_a_read_only_disk_is_read_and_refused_for_writing(models, tmp_path, capsys):
    disk = tmp_path / "ro"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("mounting a tmpfs needs root")
    try:
        assert cli.main(["export", "--model", models["classifier"], "--tflite", str(disk / "x.tflite")]) == 0
        subprocess.run(["cp", "-r", models["classifier"], str(disk / "clf")], check=True)
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        capsys.readouterr()
        for model in (disk / "clf", disk / "x.tflite"):
            code, out, err = run(["predict", "--model", str(model), "--text", "Fine."], capsys)
            assert code == 0 and out.splitlines()[1].endswith("\tFine."), err
        code, _, err = run(["export", "--model", str(disk / "clf"), "--tflite", str(disk / "y.tflite")], capsys)
        one_line_error(code, err, "export", f"'{disk / 'y.tflite'}' cannot be written: '{disk}' is not writable.")
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_written_files_follow_the_umask(models, tmp_path, capsys):
    for mask, file_mode, folder_mode in ((0o022, 0o644, 0o755), (0o077, 0o600, 0o700)):
        out = tmp_path / f"umask_{mask:03o}"
        previous = os.umask(mask)
        try:
            code, _, err = run(["export", "--model", models["classifier"], "--tflite", str(out / "x.tflite"),
                                "--saved-model", str(out / "sm"), "--quantization", "none"], capsys)
        finally:
            os.umask(previous)
        assert code == 0, err
        assert stat.S_IMODE(os.stat(out / "x.tflite").st_mode) == file_mode
        assert stat.S_IMODE(os.stat(out / "sm" / "1").st_mode) == folder_mode
        assert stat.S_IMODE(os.stat(out / "sm" / "1" / "saved_model.pb").st_mode) == file_mode
        assert stat.S_IMODE(os.stat(out / "sm" / "1" / "ulmfit_tf.json").st_mode) == file_mode


def test_a_second_writer_of_the_same_file_never_replaces_the_first(tmp_path):
    target = tmp_path / "predictions.csv"

    def write(f):  # another run finishes while this one writes
        with open(target, "w") as other:
            other.write("the other run's predictions\n")
        f.write("ours\n")

    with pytest.raises(UserInputError, match="predictions.csv' was written by another run meanwhile: pass --overwrite"):
        write_file_atomically(target, write, text=True)
    assert target.read_text() == "the other run's predictions\n"
    assert os.listdir(tmp_path) == ["predictions.csv"]


def test_a_failed_tflite_export_removes_the_saved_model_it_wrote(models, tmp_path, capsys, monkeypatch):
    from ulmfit_tf import export

    def fail(*args, **kwargs):
        raise UserInputError("the conversion failed")

    monkeypatch.setattr(export, "export_tflite", fail)
    code, _, err = run(["export", "--model", models["classifier"], "--saved-model", str(tmp_path / "a" / "sm"),
                        "--tflite", str(tmp_path / "x.tflite")], capsys)
    one_line_error(code, err, "export", "the conversion failed")
    assert os.listdir(tmp_path) == []


def test_an_unfitted_classifier_exports_with_a_warning(models, tmp_path, capsys):
    classifier = load_classifier(models["lm"], num_classes=2)
    with pytest.warns(UserWarning, match=r"The classifier was never trained \(its optimizer has taken no step\)"):
        from ulmfit_tf.export import export_saved_model

        export_saved_model(classifier, tmp_path / "sm")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        code, _, err = run(["export", "--model", models["classifier"], "--saved-model", str(tmp_path / "fitted")],
                           capsys)
    assert code == 0 and "warning" not in err, err


CHILD = textwrap.dedent(
    """
    import sys, time
    point = sys.argv[1]

    def pause(*args, **kwargs):
        print("paused", flush=True)
        time.sleep(120)

    if point == "write":  # a folder's files written, its lock held, the swap not made
        from ulmfit_tf import folders
        apply_umask = folders.apply_umask
        folders.apply_umask = lambda path: (apply_umask(path), pause())
    elif point == "predict":
        from ulmfit_tf import stages
        stages.predict = pause
    else:  # after the first epoch's checkpoint
        from ulmfit_tf.callbacks import EpochCheckpoint
        on_epoch_end = EpochCheckpoint.on_epoch_end
        EpochCheckpoint.on_epoch_end = lambda self, epoch, logs=None: (on_epoch_end(self, epoch, logs), pause())
    from ulmfit_tf import cli
    sys.exit(cli.main(sys.argv[2:]))
    """
)


def interrupt(tmp_path, point, signum, argv):
    """Runs `ulmfit-tf ARGV` paused at `point`, sends `signum`; returns the exit status and the last stderr line."""
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    child = subprocess.Popen([sys.executable, str(script), point] + argv, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, preexec_fn=default_signals)
    assert any("paused" in line for line in child.stdout), child.stderr.read()
    child.send_signal(signum)
    _, err = child.communicate(timeout=120)
    assert "Traceback" not in err, err
    return child.returncode, err.strip().splitlines()[-1]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_export_says_so_and_leaves_nothing(models, tmp_path, signum):
    out = tmp_path / "out"
    code, line = interrupt(tmp_path, "write", signum, ["export", "--model", models["classifier"], "--saved-model",
                                                       str(out / "sm"), "--tflite", str(out / "x.tflite")])
    assert code == 128 + signum
    assert line == f"ulmfit-tf export: interrupted by {signal.Signals(signum).name}: nothing was written."
    assert not os.path.exists(out)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGHUP])
def test_an_interrupted_predict_says_nothing_was_written(models, tmp_path, signum):
    code, line = interrupt(tmp_path, "predict", signum, ["predict", "--model", models["classifier"], "--text", "Fine.",
                                                         "--output", str(tmp_path / "p" / "predictions.csv")])
    assert code == 128 + signum
    assert line == f"ulmfit-tf predict: interrupted by {signal.Signals(signum).name}: nothing was written."
    assert not os.path.exists(tmp_path / "p")


def test_a_killed_training_run_keeps_its_epochs_and_resumes(models, tmp_path, capsys):
    output = tmp_path / "clf"
    argv = ["fit-classifier", "--language-model", models["lm"], "--train", models["train"], "--output", str(output),
            "--epochs", "2", "--batch-size", "16", "--quiet"]
    code, line = interrupt(tmp_path, "epoch", signal.SIGTERM, argv)
    assert code == 143
    assert line == (f"ulmfit-tf fit-classifier: interrupted by SIGTERM: the complete epochs are kept in "
                    f"'{output}.checkpoints'; run the same command again to resume from the last one.")
    assert sorted(os.listdir(tmp_path)) == ["child.py", "clf.checkpoints"]  # no lock file, no partial folder
    assert os.listdir(f"{output}.checkpoints") == ["epoch_0001"]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    assert sorted(os.listdir(tmp_path)) == ["child.py", "clf"]


def test_a_training_run_killed_before_its_first_epoch_says_nothing_was_kept(models, tmp_path):
    argv = ["fit-classifier", "--language-model", models["lm"], "--train", models["train"], "--output",
            str(tmp_path / "clf")] + CLASSIFIER
    code, line = interrupt(tmp_path, "write", signal.SIGTERM, argv)  # inside the first checkpoint's write
    assert code == 143
    assert line == ("ulmfit-tf fit-classifier: interrupted by SIGTERM before an epoch was complete: nothing was kept; "
                    "run the same command to start again.")
    assert sorted(os.listdir(tmp_path)) == ["child.py"]


def test_training_into_a_full_disk_is_refused_in_one_line_before_it_starts(models, small_disk, capsys):
    # HDF5 would crash the process (SIGSEGV) writing a checkpoint into a full disk.
    code, _, err = run(["fit-classifier", "--language-model", models["lm"], "--train", models["train"], "--output",
                        str(small_disk / "clf")] + CLASSIFIER, capsys)
    one_line_error(code, err, "fit-classifier", f"Not enough space to write '{small_disk / 'clf.checkpoints'}': it needs")
    assert "free some space or give a path on another disk." in err
    assert sorted(os.listdir(small_disk)) == ["filler"]  # no checkpoint, folder or lock left


def test_files_are_written_on_a_filesystem_without_hard_links(tmp_path, monkeypatch):
    def no_hard_links(source, target):
        raise OSError(errno.EPERM, "Operation not permitted")  # as FAT, exFAT and some shares answer

    monkeypatch.setattr(os, "link", no_hard_links)
    path = tmp_path / "notes.txt"
    write_file_atomically(path, lambda f: f.write("new"), text=True)
    assert path.read_text() == "new" and sorted(os.listdir(tmp_path)) == ["notes.txt"]
    (tmp_path / "other").write_text("other")
    with pytest.raises(UserInputError, match="notes.txt' was written by another run meanwhile: pass --overwrite"):
        link_new(str(tmp_path / "other"), str(path))
    assert path.read_text() == "new"  # never replaced
