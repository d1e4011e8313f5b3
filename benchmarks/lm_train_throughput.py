"""Tokens/second of one language-model training step: ulmfit-tf vs fastai.

One step is forward, backward and an Adam update (betas 0.8, 0.99) of an
AWD-LSTM language model with fastai's LM dropouts and AR/TAR, on random ids.
ulmfit-tf runs `model.train_on_batch` (the compiled `fit` step, no XLA);
fastai 2.8 runs the same model built by `get_language_model` with its loss
plus AR/TAR, in the same process. The frameworks' steps are interleaved
round by round so that both see the same machine load; the ratio is
against fastai measured in this run.

Run: `python benchmarks/lm_train_throughput.py` (add `--write` to update
BENCHMARKS.md). fastai is measured when installed: `pip install -e .[bench]`
then `pip install --no-deps fastai==2.8.12`.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from report import fastai_available  # noqa: E402
from report import measure  # noqa: E402
from report import with_torch_threads  # noqa: E402
from report import write_section  # noqa: E402

from ulmfit_tf.layers import weight_drop_lstm  # noqa: E402
from ulmfit_tf.losses import SparseSoftmaxCrossEntropy  # noqa: E402
from ulmfit_tf.models import AWDLSTMBackbone  # noqa: E402
from ulmfit_tf.models import ULMFiTLanguageModel  # noqa: E402

SIZES = {
    "paper": dict(vocabulary_size=30000, embedding_dim=400, hidden_dim=1152),
    "small": dict(vocabulary_size=8000, embedding_dim=128, hidden_dim=256),
    # The `small` preset's language model (distributed_throughput.py).
    "small-preset": dict(vocabulary_size=4000, embedding_dim=128, hidden_dim=320),
}
BATCH_SIZE, BPTT = 32, 70
TORCH_THREADS = 1


def ulmfit_tf_step(size, policy, stock=False):
    """One compiled training step; `stock`: Keras' own LSTM backward pass and cross-entropy (the old step)."""
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = ULMFiTLanguageModel(AWDLSTMBackbone(num_layers=3, **SIZES[size], seed=0))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3, beta_1=0.8, beta_2=0.99),
        # As the stages compile it.
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True) if stock else SparseSoftmaxCrossEntropy(),
        jit_compile=False,
    )
    x, y = random_batch(size)

    def step():
        weight_drop_lstm.HAND_WRITTEN_BACKWARD = not stock  # read when the step is traced
        return model.train_on_batch(x, y)

    return step


def fastai_step(size):
    import torch
    from fastai.text.all import AWD_LSTM, awd_lstm_lm_config, get_language_model

    # One thread by default: on 2 shared cores PyTorch's OpenMP spin-waits can make 2 threads far slower.
    torch.set_num_threads(TORCH_THREADS)

    config = dict(awd_lstm_lm_config)
    sizes = SIZES[size]
    config.update(emb_sz=sizes["embedding_dim"], n_hid=sizes["hidden_dim"], n_layers=3)
    model = get_language_model(AWD_LSTM, sizes["vocabulary_size"], config)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.8, 0.99))
    x, y = (torch.from_numpy(a).long() for a in random_batch(size))
    vocabulary_size = sizes["vocabulary_size"]

    def step():
        logits, raw, dropped = model(x)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, vocabulary_size), y.reshape(-1))
        loss = loss + 2.0 * dropped.pow(2).mean() + 1.0 * (raw[:, 1:] - raw[:, :-1]).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def random_batch(size):
    rng = np.random.default_rng(0)
    ids = rng.integers(2, SIZES[size]["vocabulary_size"], size=(BATCH_SIZE, BPTT + 1))
    return ids[:, :-1].astype("int32"), ids[:, 1:].astype("int32")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--torch-threads", type=int, default=1, help="PyTorch's intra-op threads")
    parser.add_argument("--policies", nargs="+", default=["float32", "mixed_bfloat16"],
                        choices=["float32", "mixed_bfloat16"], help="ulmfit-tf's dtype policies to time")
    parser.add_argument("--stock", action="store_true", help="also time the step with Keras' LSTM backward and loss")
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()
    global TORCH_THREADS
    TORCH_THREADS = args.torch_threads

    with_fastai = fastai_available()
    if not with_fastai:
        print("fastai not installed: measuring ulmfit-tf alone.", file=sys.stderr)
    rows = []
    for size in args.sizes:
        names = {"float32": "ulmfit-tf fp32", "mixed_bfloat16": "ulmfit-tf mixed_bfloat16"}
        steps = {names[policy]: ulmfit_tf_step(size, policy) for policy in args.policies}
        if args.stock:
            steps["ulmfit-tf fp32, Keras' LSTM backward and loss"] = ulmfit_tf_step(size, "float32", stock=True)
        if with_fastai:
            steps["fastai 2.8 fp32"] = fastai_step(size)
        times = measure(steps, args.warmup, args.rounds)
        reference = np.median(times["fastai 2.8 fp32"]) if with_fastai else None
        for name, seconds in times.items():
            median = float(np.median(seconds))
            rows.append(
                (
                    size,
                    name,
                    min(seconds),
                    median,
                    BATCH_SIZE * BPTT / median,
                    "" if reference is None else f"{reference / median:.2f}x",
                )
            )
    table = [
        "| size | implementation | min s/step | median s/step | tokens/s (median) | speed vs fastai |",
        "|---|---|---|---|---|---|",
    ] + [f"| {s} | {n} | {lo:.3f} | {med:.3f} | {tps:,.0f} | {ratio} |" for s, n, lo, med, tps, ratio in rows]
    print("\n".join(table))
    if args.write:
        write_section(
            with_torch_threads("Language model training step", args.torch_threads),
            f"{args.rounds} interleaved rounds after {args.warmup} warm-up steps; batch {BATCH_SIZE}, "
            f"bptt {BPTT}, 3 layers; paper size = emb 400, hidden 1152, vocab 30,000; small = emb 128, "
            "hidden 256, vocab 8,000; small-preset = the main job's LM, emb 128, hidden 320, vocab 4,000; "
            f"PyTorch with {args.torch_threads} thread(s), TensorFlow with its defaults",
            table,
        )


if __name__ == "__main__":
    main()
