"""How far from the hardware: achieved FLOP/s of the LM step and of one-text inference against a float32 GEMM.

The peak is measured, not quoted: the best rate of a float32 matrix product
(2048 x 2048 x 2048) on the same cores with the same thread settings as
each measured call, of `tf.linalg.matmul` and (where installed)
`torch.matmul`, whichever is faster. The work is counted from the model's
sizes (`lm_step_flops`, `classifier_flops`): every weight of the LSTM
kernels and the tied decoder is one multiply-add per token forwards and two
backwards (the input's and the weight's gradients), so a training step is 3x
its forward pass; the gates' element-wise work, the softmax and the
optimizer's update are left out (under 2% at these sizes), so the rates are
slight underestimates.

- LM step: `train_on_batch` of batch 32 x bptt 70 at each size of
  `lm_train_throughput.py` (TensorFlow's default threads; with fastai when
  installed, torch on `--torch-threads`).
- One text: the classifier's `predict_on_batch` on 1 x 128 ids, 1 thread
  (as `export_latency.py`), at the paper size and the main job's.

Run: `python benchmarks/hardware_limit.py` (add `--write` to update
BENCHMARKS.md). With `--torch-threads N` (N > 1) only the LM step is
measured again, into its own section "How far from the hardware (PyTorch N
threads)".
"""

import argparse
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from report import fastai_available  # noqa: E402
from report import measure  # noqa: E402
from report import with_torch_threads  # noqa: E402
from report import write_section  # noqa: E402

GEMM_SIZE = 2048
INFERENCE_TOKENS = 128
INFERENCE_SIZES = {
    "paper": dict(vocabulary_size=15000, embedding_dim=400, hidden_dim=1152),
    "demo": dict(vocabulary_size=8000, embedding_dim=128, hidden_dim=320),
}


def lstm_weights(embedding_dim, hidden_dim, num_layers=3):
    """Weights of an AWD-LSTM's LSTM kernels (input and recurrent): the last layer's output is `embedding_dim` wide."""
    total = 0
    for layer in range(num_layers):
        inputs = embedding_dim if layer == 0 else hidden_dim
        units = embedding_dim if layer == num_layers - 1 else hidden_dim
        total += (inputs + units) * 4 * units
    return total


def lm_step_flops(vocabulary_size, embedding_dim, hidden_dim, batch_size, bptt, num_layers=3):
    """Floating-point operations of one LM training step: 2 per multiply-add, forward + 2x backward."""
    per_token = 2 * (lstm_weights(embedding_dim, hidden_dim, num_layers) + embedding_dim * vocabulary_size)
    return 3 * per_token * batch_size * bptt


def classifier_flops(embedding_dim, hidden_dim, tokens, num_layers=3):
    """Floating-point operations of the classifier's encoder reading `tokens` ids forwards (the head is < 0.1%)."""
    return 2 * lstm_weights(embedding_dim, hidden_dim, num_layers) * tokens


def gemm_peak(rounds=5, torch_threads=None):
    """The best float32 matrix-product rate in FLOP/s: TensorFlow's with the threads it has now, and
    PyTorch's with `torch_threads` where given and installed (its MKL kernels can beat Eigen's)."""
    a = tf.random.normal((GEMM_SIZE, GEMM_SIZE))
    product = tf.function(lambda a: tf.linalg.matmul(a, a))
    calls = [lambda: product(a).numpy()]
    if torch_threads and fastai_available():
        import torch

        torch.set_num_threads(torch_threads)
        b = torch.randn(GEMM_SIZE, GEMM_SIZE)
        calls.append(lambda: torch.matmul(b, b))
    best = float("inf")
    for call in calls:
        call()
        for _ in range(rounds):
            start = time.perf_counter()
            call()
            best = min(best, time.perf_counter() - start)
    return 2 * GEMM_SIZE**3 / best


def training_rows(rounds, torch_threads):
    import lm_train_throughput as lm

    lm.TORCH_THREADS = torch_threads
    peak = gemm_peak(torch_threads=torch_threads)
    rows = []
    for size, sizes in lm.SIZES.items():
        steps = {"ulmfit-tf fp32": lm.ulmfit_tf_step(size, "float32")}
        if fastai_available():
            steps[f"fastai 2.8 fp32 (torch {torch_threads} thread(s))"] = lm.fastai_step(size)
        flops = lm_step_flops(**sizes, batch_size=lm.BATCH_SIZE, bptt=lm.BPTT)
        for name, seconds in measure(steps, 2, rounds).items():
            rows.append(("LM training step", size, name, flops, float(np.median(seconds)), peak))
    return rows


def inference_rows(rounds):
    from export_latency import fastai_classifier

    from ulmfit_tf.models import AWDLSTMBackbone
    from ulmfit_tf.models import ULMFiTTextClassifier

    rows = []
    for size, sizes in INFERENCE_SIZES.items():
        backbone = AWDLSTMBackbone(num_layers=3, **sizes, padding_id=1, seed=0)
        classifier = ULMFiTTextClassifier(backbone, 2, seed=0)
        ids = np.random.default_rng(0).integers(2, sizes["vocabulary_size"], (1, INFERENCE_TOKENS)).astype("int32")
        calls = {"ulmfit-tf Keras predict_on_batch": lambda: classifier.predict_on_batch(ids)}
        if fastai_available():
            run = fastai_classifier(classifier)
            calls["fastai 2.8 eval (torch 1 thread)"] = lambda: run(ids)
        flops = classifier_flops(sizes["embedding_dim"], sizes["hidden_dim"], INFERENCE_TOKENS)
        for name, seconds in measure(calls, 3, rounds).items():
            rows.append(("one text, 1 x 128 ids", size, name, flops, float(np.median(seconds)), None))
    return rows


def rows_of(work, rounds, torch_threads):
    """The rows of one kind of work, measured in this process (its thread settings are set once)."""
    if work == "training":
        return training_rows(rounds, torch_threads)
    # One-text inference runs on one thread, as export_latency.py measures it (set before the first op).
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    peak = gemm_peak(torch_threads=1)
    return [row[:5] + (peak,) for row in inference_rows(rounds * 5)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--torch-threads", type=int, default=1, help="PyTorch's intra-op threads for the LM step")
    parser.add_argument("--work", choices=["training", "inference"], help="measure one kind only and print JSON rows")
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()
    if args.work:
        print(json.dumps(rows_of(args.work, args.rounds, args.torch_threads)))
        return
    rows = []
    # One text always runs on one thread: with more torch threads only the LM step is measured again.
    works = ("training", "inference") if args.torch_threads == 1 else ("training",)
    for work in works:  # a process each: TensorFlow's threads are fixed at its first op
        command = [sys.executable, __file__, "--work", work, "--rounds", str(args.rounds),
                   "--torch-threads", str(args.torch_threads)]
        rows += json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
    table = [
        "| work | size | implementation | GFLOP a call | median s | achieved GFLOP/s | measured fp32 GEMM peak GFLOP/s | of peak |",
        "|---|---|---|---|---|---|---|---|",
    ] + [
        f"| {work} | {size} | {name} | {flops / 1e9:.2f} | {seconds:.4f} | {flops / seconds / 1e9:.1f} | "
        f"{peak / 1e9:.1f} | {flops / seconds / peak:.1%} |"
        for work, size, name, flops, seconds, peak in rows
    ]
    print("\n".join(table))
    if args.write:
        write_section(
            with_torch_threads("How far from the hardware", args.torch_threads),
            "work counted from the sizes, 2 FLOP a multiply-add, a training step 3x its forward pass; peak = "
            f"the best float32 {GEMM_SIZE}^3 product of tf.linalg.matmul (TensorFlow's default threads for the LM "
            f"step, 1 for one text) and torch.matmul ({args.torch_threads} thread(s) for the LM step, 1 for one "
            f"text); torch {args.torch_threads} thread(s) for fastai's LM step",
            table,
        )


if __name__ == "__main__":
    main()
