"""Full-integer TFLite at paper size: the fused integer LSTM op vs a WHILE loop of int8 ops.

`export_tflite(..., quantization="int8")` writes each LSTM as one fused
`UNIDIRECTIONAL_SEQUENCE_LSTM` op (its integer kernel has no XNNPACK path on
x86). The other integer form is the time loop itself: a `WHILE` whose body
is int8 `FULLY_CONNECTED` ops, which XNNPACK runs. This script writes both
(the second by giving `integer_network` a plain, unfused LSTM function),
checks which ops each file holds, and times them interleaved against the
dynamic-range int8 file and fastai's eval-mode classifier (1 x 128 tokens,
1 thread), with each file's argmax agreement with the float Keras model on
`--texts` Rotten Tomatoes test reviews (random paper-size weights, so the
agreement is a proxy: a trained model is more decided).

    python benchmarks/int8_lstm_forms.py
"""

import argparse
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)

import numpy as np  # noqa: E402
from export_latency import TOKENS  # noqa: E402
from export_latency import fastai_classifier  # noqa: E402
from export_latency import paper_classifier  # noqa: E402
from export_latency import text_of_length  # noqa: E402
from report import cpu_name  # noqa: E402
from report import fastai_available  # noqa: E402
from report import measure  # noqa: E402

from ulmfit_tf import datasets  # noqa: E402
from ulmfit_tf.export import TFLiteClassifier  # noqa: E402
from ulmfit_tf.export import export_tflite  # noqa: E402
from ulmfit_tf.export import tflite_full_integer  # noqa: E402
from ulmfit_tf.export.tflite_full_integer import graph_ops  # noqa: E402


FUSABLE_LSTM = tflite_full_integer.fusable_lstm


def unfused_lstm():
    """`fusable_lstm`'s maths without the attribute that makes the converter fuse it: a WHILE loop."""
    return tf.function(FUSABLE_LSTM().python_function, autograph=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--texts", type=int, default=200)
    args = parser.parse_args()
    corpus = [article["text"] for article in datasets.load_news_articles()]
    reviews = datasets.load_rotten_tomatoes()
    classifier = paper_classifier(corpus)
    text = text_of_length(classifier.preprocessor.tokenizer, corpus, TOKENS)
    folder = tempfile.mkdtemp(prefix="int8_forms_")
    representative = reviews["train"]["texts"][:100]
    paths = {
        "dynamic_int8": export_tflite(classifier, os.path.join(folder, "dynamic.tflite"), "dynamic_int8"),
        "int8, fused LSTM op": export_tflite(classifier, os.path.join(folder, "fused.tflite"), "int8",
                                             representative_texts=representative),
    }
    tflite_full_integer.fusable_lstm = unfused_lstm
    try:
        paths["int8, WHILE loop of int8 ops"] = export_tflite(
            classifier, os.path.join(folder, "while.tflite"), "int8", representative_texts=representative
        )
    finally:
        tflite_full_integer.fusable_lstm = FUSABLE_LSTM
    test = reviews["test"]["texts"][: args.texts]
    expected = classifier.probabilities(classifier.predict(test, verbose=0)).numpy().argmax(-1)
    calls = {}
    for name, path in paths.items():
        ops = sorted({op for op, *_ in graph_ops(open(path, "rb").read())})
        _, probabilities = TFLiteClassifier(path).predict(test)
        agreement = np.mean(probabilities.argmax(-1) == expected)
        print(f"{name}: {os.path.getsize(path) / 1e6:.1f} MB, agreement {agreement:.3f}, ops {ops}", flush=True)
        runner = TFLiteClassifier(path, num_threads=1)
        calls[name] = lambda runner=runner: runner.predict_outputs([text])
    if fastai_available():
        run_fastai = fastai_classifier(classifier)
        ids = classifier.preprocessor.tokenizer([text]).to_tensor().numpy()
        calls["fastai 2.8 eval"] = lambda: run_fastai(ids)
    latency = {name: float(np.median(t)) for name, t in measure(calls, 3, args.rounds).items()}
    reference = latency.get("fastai 2.8 eval")
    print(f"CPU: {cpu_name()}, {os.cpu_count()} cores")
    for name, seconds in latency.items():
        versus = f", {seconds / reference:.2f}x fastai" if reference else ""
        print(f"{name}: {1000 * seconds:.1f} ms{versus}")


if __name__ == "__main__":
    sys.exit(main())
