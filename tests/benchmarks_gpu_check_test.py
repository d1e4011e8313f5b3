"""benchmarks/gpu_check.py at toy size on the CPU: its checks run, and its cuDNN check can tell the two paths apart."""

import importlib.util
import json
import pathlib

import numpy as np

PATH = pathlib.Path(__file__).parent.parent / "benchmarks" / "gpu_check.py"
spec = importlib.util.spec_from_file_location("benchmarks_gpu_check", PATH)
gpu_check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gpu_check)


def test_padded_batches_are_right_padded():
    ids = gpu_check.padded_batch(np.random.default_rng(0), 16, (3, 9), 50)
    padding = ids == gpu_check.PADDING_ID
    # Once a row reaches padding, it stays padding: what cuDNN accepts.
    assert not (padding[:, :-1] & ~padding[:, 1:]).any() and padding.any() and (~padding[:, :3]).all()


def test_the_script_runs_every_check_on_a_cpu(tmp_path, capsys):
    records_file = tmp_path / "records.jsonl"
    status = gpu_check.main(["--small", "--rounds", "1", "--json", str(records_file)])
    records = {r["check"]: r for r in map(json.loads, records_file.read_text().splitlines())}
    assert status == 0 and set(records) == {"environment", "cudnn", "gpu_vs_cpu", "timing"}
    # Without a GPU: no cuDNN op, the hand-written loops instead (forward and gradient of each layer).
    assert records["cudnn"] == {
        "check": "cudnn", "gpu": False, "cudnn_ops": [], "cudnn_forward_calls": 0, "while_loops": 4, "ok": None,
    }
    assert records["gpu_vs_cpu"]["max_abs_difference"] == {"classifier": 0.0, "language_model": 0.0}
    assert set(records["timing"]["median_ms_a_step"]) == {
        "language_model", "keras_lstm_language_model", "classifier", "keras_lstm_classifier",
    }
    assert capsys.readouterr().out.count("\n") == 4
