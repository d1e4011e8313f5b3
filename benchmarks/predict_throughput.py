"""Texts per second of batch prediction, at the main job's size, on 2,000 Rotten Tomatoes reviews.

The classifier is `ULMFiTTextClassifier.from_language_model` on the bundled
`awd_lstm_small_en_uncased` (vocabulary 16,000, embedding 128, hidden 320, 3
layers; random head weights: the speed does not depend on them; the
default-path table of 2026-12-06 was measured on its predecessor's 8,000
pieces, the AVX2-path table on this preset). The texts
are the 1,284 test reviews and the first 716 validation reviews (about 33
pieces each). Measured:

- steady state, in one process, interleaved round by round so that both see
  the same machine load: `classifier.predict` on the texts in their order
  in batches of 64 (what `stages.predict` ran before), and `stages.predict`
  (`ulmfit_tf.batch_predict`: sorted by length, batches of 64 padded to
  their own longest, one compiled inference function, two batches in
  flight), and the same with one batch at a time, after one warm-up call
  each; wall seconds and CPU seconds (all threads) per pass;
- start to end: `ulmfit-tf predict --model FOLDER --data reviews.txt
  --output FILE` in a fresh process (imports, model load, reading,
  prediction, writing), `--rounds` times.

Run: `python benchmarks/predict_throughput.py` (add `--write` to update
BENCHMARKS.md).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from report import cpu_name  # noqa: E402
from report import write_section  # noqa: E402

from ulmfit_tf import batch_predict  # noqa: E402
from ulmfit_tf import datasets  # noqa: E402
from ulmfit_tf import stages  # noqa: E402
from ulmfit_tf.model_directory import save_model_directory  # noqa: E402
from ulmfit_tf.models import ULMFiTLanguageModel  # noqa: E402
from ulmfit_tf.models import ULMFiTTextClassifier  # noqa: E402

TEXTS = 2000
PARALLEL = batch_predict.PARALLEL_BATCHES


def reviews():
    data = datasets.load_rotten_tomatoes()
    return (data["test"]["texts"] + data["validation"]["texts"])[:TEXTS]


def classifier():
    language_model = ULMFiTLanguageModel.from_preset("awd_lstm_small_en_uncased")
    return ULMFiTTextClassifier.from_language_model(
        language_model, 2, preprocessor=language_model.preprocessor.tokenizer, label_names=["rotten", "fresh"], seed=0
    )


def steady_state(model, texts, rounds):
    """{name: [(wall seconds, CPU seconds)]} of whole passes over `texts`, interleaved."""
    passes = {
        "classifier.predict (before)": lambda: model.probabilities(model.predict(texts, batch_size=64, verbose=0)),
        "stages.predict (after)": lambda: stages.predict(model, texts, batch_size=64)[1],
        "stages.predict, one batch at a time": lambda: one_batch_at_a_time(model, texts),
    }
    before, after, _ = (np.asarray(run()) for run in passes.values())  # the warm-up calls
    print(f"largest probability difference: {np.abs(before - after).max():.2e}", flush=True)
    times = {name: [] for name in passes}
    for _ in range(rounds):
        for name, run in passes.items():
            wall, cpu = time.perf_counter(), time.process_time()
            run()
            times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    return times


def one_batch_at_a_time(model, texts):
    batch_predict.PARALLEL_BATCHES = 1
    try:
        return stages.predict(model, texts, batch_size=64)[1]
    finally:
        batch_predict.PARALLEL_BATCHES = PARALLEL


def start_to_end(model, texts, rounds):
    """Wall seconds of `ulmfit-tf predict` in a fresh process, `rounds` times."""
    with tempfile.TemporaryDirectory() as root:
        folder = str(save_model_directory(model, os.path.join(root, "clf"), "classifier"))
        data = os.path.join(root, "reviews.txt")
        with open(data, "w", encoding="utf-8") as f:
            f.writelines(" ".join(text.split()) + "\n" for text in texts)
        seconds = []
        for i in range(rounds):
            command = [sys.executable, "-m", "ulmfit_tf.cli", "predict", "--model", folder, "--data", data,
                       "--output", os.path.join(root, f"p{i}.csv")]
            start = time.perf_counter()
            result = subprocess.run(command, capture_output=True, text=True)
            seconds.append(time.perf_counter() - start)
            if result.returncode:
                raise RuntimeError(result.stderr)
            print(result.stderr.strip().splitlines()[-1], flush=True)
        return seconds


def rate(seconds):
    return f"{TEXTS / seconds:,.0f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()
    texts, model = reviews(), classifier()
    table = ["| path | texts/s, wall (best / median) | texts per CPU second (best / median) |", "|---|---|---|"]
    for name, runs in steady_state(model, texts, args.rounds).items():
        walls, cpus = [wall for wall, _ in runs], [cpu for _, cpu in runs]
        table.append(
            f"| steady state: {name} | {rate(min(walls))} / {rate(statistics.median(walls))} | "
            f"{rate(min(cpus))} / {rate(statistics.median(cpus))} |"
        )
    walls = start_to_end(model, texts, max(1, args.rounds // 2))
    table.append(
        f"| start to end: `ulmfit-tf predict --data reviews.txt --output FILE` | {rate(min(walls))} / "
        f"{rate(statistics.median(walls))} ({min(walls):.1f} / {statistics.median(walls):.1f} s) | - |"
    )
    print("\n".join(table))
    if args.write:
        details = f"{TEXTS:,} Rotten Tomatoes reviews, bundled preset's size, {args.rounds} interleaved rounds"
        write_section("Batch prediction", details, table)
    print(cpu_name())


if __name__ == "__main__":
    main()
