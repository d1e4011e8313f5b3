"""A prepared GPU check: cuDNN for `WeightDropLSTM` on padded batches, GPU against CPU, and step times.

One command, under 5 minutes on one GPU, nothing downloaded:

    python benchmarks/gpu_check.py            # on the GPU machine; --json PATH keeps the records
    python benchmarks/gpu_check.py --small    # the same checks at toy size (runs on a CPU too)

It prints one JSON record a check:
1. `cudnn`: the op types of one classifier training step (forward and
   gradient) traced on the GPU with right-padded texts (padding after the
   text, as ulmfit-tf pads): `CudnnRNN*` ops must be there, one forward a
   LSTM layer, and Keras' generic time loop (`While`) must not.
2. `gpu_vs_cpu`: the same classifier and language model (same weights, no
   dropout) on the GPU and on the CPU, TF32 off: largest absolute
   difference of the logits, and whether it is within `--tolerance`.
3. `timing`: milliseconds a training step at the paper's size (vocabulary
   15,000, embedding 400, hidden 1,152, 3 layers): the language model
   (batch 64 x bptt 72), the classifier (64 texts of 150-250 pieces,
   right-padded), and the same stacks built from plain `keras.layers.LSTM`
   (an embedding, 3 LSTMs, a softmax or a pooled head), interleaved.

Without a GPU the cuDNN check reports `"gpu": false` and is not a failure
of the script; the comparison runs CPU against CPU (a self-check of the
script). The exit status is 1 when a check that ran failed.
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from ulmfit_tf.models import AWDLSTMBackbone  # noqa: E402
from ulmfit_tf.models import ULMFiTLanguageModel  # noqa: E402
from ulmfit_tf.models import ULMFiTTextClassifier  # noqa: E402

PAPER = dict(vocabulary_size=15000, embedding_dim=400, hidden_dim=1152, num_layers=3)
SMALL = dict(vocabulary_size=300, embedding_dim=16, hidden_dim=24, num_layers=2)
PADDING_ID = 1


def padded_batch(rng, batch, lengths, vocabulary_size):
    """Right-padded ids `(batch, longest)` of texts with lengths drawn from `lengths` (inclusive)."""
    sizes = rng.integers(lengths[0], lengths[1] + 1, size=batch)
    ids = np.full((batch, sizes.max()), PADDING_ID, "int32")
    for row, size in zip(ids, sizes):
        row[:size] = rng.integers(2, vocabulary_size, size=size)
    return ids


def models(size, seed=0):
    language_model = ULMFiTLanguageModel(AWDLSTMBackbone(**size, seed=seed))
    classifier = ULMFiTTextClassifier.from_language_model(language_model, num_classes=2, seed=seed)
    return language_model, classifier


def op_types(function, *args):
    """Every op type in the traced graph of `function(*args)`, nested functions included (GraphDef proto)."""
    graph_def = tf.function(function).get_concrete_function(*args).graph.as_graph_def()
    types = [node.op for node in graph_def.node]
    for library_function in graph_def.library.function:
        types += [node.op for node in library_function.node_def]
    return types


def cudnn_check(classifier, ids, gpu):
    labels = tf.zeros((ids.shape[0],), "int32")

    def step(x, y):
        with tf.GradientTape() as tape:
            loss = keras.losses.sparse_categorical_crossentropy(y, classifier(x, training=True), from_logits=True)
        return tape.gradient(loss, classifier.trainable_variables)

    with tf.device("/GPU:0" if gpu else "/CPU:0"):
        types = op_types(step, tf.constant(ids), labels)
    cudnn = sorted({t for t in types if t.startswith("CudnnRNN")})
    forward = sum(t.startswith("CudnnRNN") and "Backprop" not in t for t in types)
    layers = classifier.backbone.num_layers
    record = {
        "check": "cudnn", "gpu": gpu, "cudnn_ops": cudnn, "cudnn_forward_calls": forward,
        "while_loops": sum(t in ("While", "StatelessWhile") for t in types),
    }
    record["ok"] = (forward == layers and record["while_loops"] == 0) if gpu else None
    return record


def gpu_vs_cpu(language_model, classifier, ids, tolerance, gpu):
    tf.config.experimental.enable_tensor_float_32_execution(False)
    stream = ids[:, :32].copy()
    stream[stream == PADDING_ID] = 2
    results = {}
    for device in ("/CPU:0", "/GPU:0" if gpu else "/CPU:0"):
        with tf.device(device):
            language_model.reset_state()
            results.setdefault("classifier", []).append(classifier(tf.constant(ids), training=False).numpy())
            results.setdefault("language_model", []).append(language_model(tf.constant(stream), training=False).numpy())
    language_model.reset_state()
    tf.config.experimental.enable_tensor_float_32_execution(True)
    differences = {name: float(np.max(np.abs(a - b))) for name, (a, b) in results.items()}
    return {
        "check": "gpu_vs_cpu", "gpu": gpu, "max_abs_difference": differences, "tolerance": tolerance,
        "ok": all(value <= tolerance for value in differences.values()),
    }


def keras_lstm_stack(size, head):
    """The same sizes from plain `keras.layers.LSTM`: the reference a user would write."""
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(size["vocabulary_size"], size["embedding_dim"], mask_zero=head == "pooled")(inputs)
    for i in range(size["num_layers"]):
        units = size["embedding_dim"] if i == size["num_layers"] - 1 else size["hidden_dim"]
        x = keras.layers.LSTM(units, return_sequences=True)(x)
    if head == "softmax":
        outputs = keras.layers.Dense(size["vocabulary_size"])(x)
    else:
        outputs = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling1D()(x))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def timing(size, rng, rounds, lm_shape, lengths):
    _, classifier = models(size)
    language_model = ULMFiTLanguageModel(AWDLSTMBackbone(**size, stateful=True, batch_size=lm_shape[0], seed=0))
    language_model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    classifier.compile(optimizer="adam")
    stream = rng.integers(2, size["vocabulary_size"], size=(lm_shape[0], lm_shape[1] + 1)).astype("int32")
    texts = padded_batch(rng, lm_shape[0], lengths, size["vocabulary_size"])
    labels = rng.integers(0, 2, size=lm_shape[0]).astype("int32")
    keras_lm, keras_classifier = keras_lstm_stack(size, "softmax"), keras_lstm_stack(size, "pooled")
    zero_padded = np.where(texts == PADDING_ID, 0, texts)  # the plain stack masks id 0 (`mask_zero`)
    steps = {
        "language_model": lambda: language_model.train_on_batch(stream[:, :-1], stream[:, 1:]),
        "keras_lstm_language_model": lambda: keras_lm.train_on_batch(stream[:, :-1], stream[:, 1:]),
        "classifier": lambda: classifier.train_on_batch(texts, labels),
        "keras_lstm_classifier": lambda: keras_classifier.train_on_batch(zero_padded, labels),
    }
    times = {name: [] for name in steps}
    for round_ in range(rounds + 2):  # two warm-up rounds (tracing, autotuning)
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            if round_ >= 2:
                times[name].append(time.perf_counter() - start)
    milliseconds = {name: round(1000 * float(np.median(values)), 2) for name, values in times.items()}
    return {
        "check": "timing", "size": size, "lm_batch_x_bptt": list(lm_shape), "classifier_lengths": list(lengths),
        "median_ms_a_step": milliseconds, "rounds": rounds, "ok": True,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="toy sizes (a CPU self-check of the script)")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--json", help="also append the records to this JSON-lines file")
    args = parser.parse_args(argv)
    gpu = bool(tf.config.list_logical_devices("GPU"))
    size = SMALL if args.small else PAPER
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    language_model, classifier = models(size)
    ids = padded_batch(rng, 8, (3, 40) if args.small else (150, 250), size["vocabulary_size"])
    records = [
        {"check": "environment", "tensorflow": tf.__version__, "keras": keras.__version__,
         "devices": [d.name for d in tf.config.list_logical_devices()], "ok": True},
        cudnn_check(classifier, ids, gpu),
        gpu_vs_cpu(language_model, classifier, ids, args.tolerance, gpu),
        timing(size, rng, args.rounds, (8, 20) if args.small else (64, 72), (3, 40) if args.small else (150, 250)),
    ]
    for record in records:
        line = json.dumps(record)
        print(line, flush=True)
        if args.json:
            with open(args.json, "a") as f:
                f.write(line + "\n")
    return 1 if any(record["ok"] is False for record in records) else 0


if __name__ == "__main__":
    sys.exit(main())
