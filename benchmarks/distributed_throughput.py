"""Language-model training tokens/s under tf.distribute and mixed precision, and the streaming pipeline.

One training step (forward, backward, Adam update; fastai's LM dropouts and
AR/TAR) of the `small` preset's language model (emb 128, hidden 320, 3
layers, vocabulary 4,000) at batch 32 x bptt 70, measured as:

- one device, float32 and `mixed_bfloat16`;
- `MirroredStrategy` over 2 logical CPU devices (same 2 cores);
- fastai 2.8 float32, the reference;

all in one process, interleaved round by round. Then 2 worker processes
under `MultiWorkerMirroredStrategy` on loopback (same machine, so the two
share its cores), global batch 32. Then the streaming pipeline alone:
`language_model_dataset` over sharded text files of the news corpus
(tokenized on the fly), in tokens/s and peak memory, at 1x and 20x the
corpus.

Run: `python benchmarks/distributed_throughput.py --write`.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

WORKER = "--worker" in sys.argv
if WORKER:
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
else:
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402
from lm_train_throughput import SIZES  # noqa: E402
from lm_train_throughput import fastai_step  # noqa: E402
from report import fastai_available  # noqa: E402
from report import measure  # noqa: E402
from report import write_section  # noqa: E402

from ulmfit_tf import datasets  # noqa: E402
from ulmfit_tf.distribute import dtype_policy_scope  # noqa: E402
from ulmfit_tf.models import AWDLSTMBackbone  # noqa: E402
from ulmfit_tf.models import ULMFiTLanguageModel  # noqa: E402
from ulmfit_tf.text import SentencePieceTokenizer  # noqa: E402

SIZE = SIZES["small-preset"]
BATCH_SIZE, BPTT = 32, 70
TOKENS = BATCH_SIZE * BPTT


def training_step(strategy, policy=None):
    with strategy.scope(), dtype_policy_scope(policy):
        model = ULMFiTLanguageModel(AWDLSTMBackbone(num_layers=3, **SIZE, seed=0))
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3, beta_1=0.8, beta_2=0.99),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            jit_compile=False,
        )
    rng = np.random.default_rng(0)
    ids = rng.integers(2, SIZE["vocabulary_size"], size=(BATCH_SIZE, BPTT + 1)).astype("int32")
    return lambda: model.train_on_batch(ids[:, :-1], ids[:, 1:])


def worker_main(rounds, warmup):
    step = training_step(strategy)
    for _ in range(warmup):
        step()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    print(json.dumps(times))


def two_workers(rounds, warmup):
    sockets = [socket.socket() for _ in range(2)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    cluster = {"worker": [f"127.0.0.1:{s.getsockname()[1]}" for s in sockets]}
    for s in sockets:
        s.close()
    workers = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", "--rounds", str(rounds), "--warmup", str(warmup)],
            env=dict(os.environ, TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})),
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outputs = [worker.communicate()[0] for worker in workers]
    return json.loads(outputs[0].strip().splitlines()[-1])


def write_shards(folder, texts, shards=8):
    os.makedirs(folder, exist_ok=True)
    for i in range(shards):
        with open(os.path.join(folder, f"news-{i:02d}.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(texts[i::shards]) + "\n")
    return os.path.join(folder, "news-*.txt")


STREAM_SCRIPT = """
import json, os, resource, sys, time
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
import tensorflow as tf
from ulmfit_tf.text import SentencePieceTokenizer
from ulmfit_tf.text.language_model_dataset import language_model_dataset
tokenizer = SentencePieceTokenizer.from_config(json.loads(sys.argv[2]))
tokenizer.set_proto(open(sys.argv[3], "rb").read())
files = sorted(tf.io.gfile.glob(sys.argv[1]))
data = language_model_dataset(tf.data.TextLineDataset(files), tokenizer, 32, 70, chunk_documents=4096)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
batches = sum(1 for _ in data)
seconds = time.perf_counter() - start
print(json.dumps([batches * 32 * 71, seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
                  (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024]))
"""


def streaming(folder, repeats):
    texts = [a["text"].replace("\n", " ") for a in datasets.load_news_articles()]
    tokenizer = SentencePieceTokenizer.train(texts[:1000], vocabulary_size=SIZE["vocabulary_size"], seed=0)
    proto = os.path.join(folder, "sp.model")
    with open(proto, "wb") as f:
        f.write(tokenizer.proto)
    results = {}
    for repeat in repeats:
        pattern = write_shards(os.path.join(folder, f"x{repeat}"), texts * repeat)
        out = subprocess.run(
            [sys.executable, "-c", STREAM_SCRIPT, pattern, json.dumps(tokenizer.get_config()), proto],
            capture_output=True, text=True, check=True,
        )
        results[repeat] = json.loads(out.stdout.strip().splitlines()[-1])
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, nargs="+", default=[1, 20], help="corpus sizes, x the news data")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()
    if args.worker:
        return worker_main(args.rounds, args.warmup)

    default = tf.distribute.get_strategy()
    steps = {
        "1 device, float32": training_step(default),
        "1 device, mixed_bfloat16": training_step(default, "mixed_bfloat16"),
        "MirroredStrategy, 2 logical CPUs, float32": training_step(
            tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        ),
    }
    if fastai_available():
        steps["fastai 2.8, float32 (reference)"] = fastai_step("small-preset")
    times = measure(steps, args.warmup, args.rounds)
    times["MultiWorkerMirroredStrategy, 2 workers on loopback, float32 (run after)"] = two_workers(
        args.rounds, args.warmup
    )
    reference = next((np.median(v) for k, v in times.items() if k.startswith("fastai")), None)
    single = np.median(times["1 device, float32"])
    rows = [
        "| setting | median s/step | tokens/s | vs 1 device fp32 | vs fastai |",
        "|---|---|---|---|---|",
    ]
    for name, seconds in times.items():
        median = float(np.median(seconds))
        versus = "" if reference is None else f"{reference / median:.2f}x"
        rows.append(f"| {name} | {median:.3f} | {TOKENS / median:,.0f} | {single / median:.2f}x | {versus} |")

    with tempfile.TemporaryDirectory() as folder:
        stream = streaming(folder, args.repeats)
    training_rate = TOKENS / single
    rows += [
        "",
        "| streaming pipeline (8 shard files, tokenized on the fly) | tokens | tokens/s | vs training (1 device fp32) "
        "| peak memory | growth while streaming |",
        "|---|---|---|---|---|---|",
    ]
    for repeat, (tokens, seconds, peak, growth) in stream.items():
        rows.append(
            f"| news x{repeat} | {tokens:,} | {tokens / seconds:,.0f} | {tokens / seconds / training_rate:.0f}x "
            f"| {peak:,} MB | {growth:,} MB |"
        )
    print("\n".join(rows))
    if args.write:
        write_section(
            "Distributed training and streaming",
            f"{args.rounds} interleaved rounds after {args.warmup} warm-up steps; small preset LM (emb 128, "
            f"hidden 320, 3 layers, vocab 4,000), global batch {BATCH_SIZE} x bptt {BPTT}; the 2 workers run "
            "on this same machine, after the interleaved rounds",
            rows,
        )


if __name__ == "__main__":
    main()
