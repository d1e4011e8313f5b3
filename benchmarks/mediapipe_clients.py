"""The `target="mediapipe"` TFLite files in the real clients: accuracy, agreement, latency and size.

For a trained classifier and each quantization (`none`, `float16`,
`dynamic_int8`), exports the LiteRT file (`target="litert"`, today's) and
the MediaPipe one, then on the Rotten Tomatoes test split measures:

- Keras' accuracy on the texts as it reads them, on the texts lowercased
  (both clients apply `AsciiStrToLower`), and on those lowercased and cut
  to their first `sequence_length - 2` pieces (what the file is given);
- MediaPipe Tasks' `TextClassifier` (and the TFLite Task Library's
  `BertNLClassifier`, which loads float weights only) on the file: its
  accuracy, its argmax agreement and largest probability difference with
  Keras on the lowercased, cut texts;
- the median time of one call on a review of median length: each client
  on the MediaPipe file (its default options) and `TFLiteClassifier`
  (1 thread) on the LiteRT file, in 5 interleaved rounds of 100 calls;
- both files' sizes.

The clients run in their own environments (`.venv-mediapipe/`,
`.venv-task-library/`, which `tests/export/tflite_mediapipe_test.py`
makes) through `tests/export/text_classifier_clients.py`.

    python benchmarks/mediapipe_clients.py --model runs/demo/forward_classifier
"""

import argparse
import json
import os
import string
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from report import append_row  # noqa: E402
from report import measure  # noqa: E402

from ulmfit_tf import datasets  # noqa: E402
from ulmfit_tf.export import TFLiteClassifier  # noqa: E402
from ulmfit_tf.export import export_tflite  # noqa: E402
from ulmfit_tf.model_directory import load_model_directory  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..")
CLIENT = os.path.join(ROOT, "tests", "export", "text_classifier_clients.py")
ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def keras_on_ids(classifier, rows):
    """Keras' probabilities for id lists (each `xxbos` first), padded per batch with the backbone's `padding_id`."""
    outputs = []
    for start in range(0, len(rows), 64):
        batch = rows[start : start + 64]
        ids = np.full((len(batch), max(map(len, batch))), classifier.backbone.padding_id, "int32")
        for i, row in enumerate(batch):
            ids[i, : len(row)] = row
        outputs.append(classifier.probabilities(classifier(ids, training=False)).numpy())
    return np.concatenate(outputs)


def run_client(client, path, texts, timing_runs):
    python = os.path.join(ROOT, f".venv-{client.replace('_', '-')}", "bin", "python")
    request = {"client": client, "model": path, "texts": texts, "timing_runs": timing_runs}
    answer = subprocess.run([python, CLIENT], input=json.dumps(request), capture_output=True, text=True, check=True)
    reply = json.loads(answer.stdout)
    return np.array([r["scores"] for r in reply["results"]], "float32"), reply["median_ms"]


def litert_ms(runner, texts):
    """The median time of `runner.predict(texts)` over 100 calls, in milliseconds."""
    return 1000 * float(np.median(measure({"litert": lambda: runner.predict(texts)}, warmup=5, rounds=100)["litert"]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="classifier folder or .keras file")
    parser.add_argument("--sequence-length", type=int, default=64)
    parser.add_argument("--rows", default=os.path.join(os.path.dirname(__file__), "mediapipe_clients.jsonl"))
    args = parser.parse_args()
    import ulmfit_tf.models  # noqa: F401  (registers the classes)
    import ulmfit_tf.text  # noqa: F401

    if args.model.endswith(".keras"):
        classifier = keras.saving.load_model(args.model)
    else:
        classifier = load_model_directory(args.model, "classifier")
    data = datasets.load_rotten_tomatoes()
    texts, labels = data["test"]["texts"], np.array(data["test"]["labels"])
    label_ids = [exported.index(data["label_names"][i]) for exported in [list(classifier.label_names)] for i in labels]
    lowered = [text.translate(ASCII_LOWER) for text in texts]
    tokenizer = classifier.preprocessor.tokenizer
    pieces = [row[1:] for row in tokenizer(lowered).to_list()]
    kept = args.sequence_length - 2
    cut = keras_on_ids(classifier, [[2] + row[:kept] for row in pieces])
    full = classifier.probabilities(classifier.predict(texts, batch_size=64, verbose=0)).numpy()
    lower = classifier.probabilities(classifier.predict(lowered, batch_size=64, verbose=0)).numpy()
    lengths = np.array([len(row) for row in pieces])
    timed = [lowered[int(np.argsort(lengths)[len(lengths) // 2])]]

    def accuracy(p):
        return round(float(np.mean(p.argmax(1) == label_ids)), 4)

    row = {
        "benchmark": "mediapipe_clients", "model": args.model, "sequence_length": args.sequence_length,
        "texts": len(texts), "texts_cut": int(np.sum(lengths > kept)), "median_pieces": int(np.median(lengths)),
        "keras_accuracy": accuracy(full), "keras_lowercased": accuracy(lower), "keras_lowercased_cut": accuracy(cut),
    }
    with tempfile.TemporaryDirectory() as folder:
        timings = {}
        for quantization in ("none", "float16", "dynamic_int8"):
            litert = export_tflite(classifier, os.path.join(folder, f"{quantization}.tflite"), quantization)
            mediapipe = export_tflite(
                classifier, os.path.join(folder, f"{quantization}.mp.tflite"), quantization, target="mediapipe",
                sequence_length=args.sequence_length,
            )
            runner = TFLiteClassifier(litert)
            result = {"litert_mb": os.path.getsize(litert) / 2**20, "mediapipe_mb": os.path.getsize(mediapipe) / 2**20,
                      "litert_accuracy": accuracy(runner.predict(texts)[1])}
            timings[(quantization, "litert")] = lambda runner=runner: litert_ms(runner, timed)
            for client in ["mediapipe"] + (["task_library"] if quantization != "dynamic_int8" else []):
                scores, _ = run_client(client, mediapipe, texts, 0)
                result[client] = {
                    "accuracy": accuracy(scores),
                    "agreement": round(float(np.mean(scores.argmax(1) == cut.argmax(1))), 4),
                    "max_dp": float(np.abs(scores - cut).max()),
                }
                timings[(quantization, client)] = lambda client=client, path=mediapipe: run_client(
                    client, path, timed, 100
                )[1]
            row[quantization] = result
        # Every file's time in each of 5 rounds, interleaved, so that all see the same machine load.
        rounds = [{key: time_it() for key, time_it in timings.items()} for _ in range(5)]
        for (quantization, client), _ in timings.items():
            row[quantization][f"{client}_ms"] = float(np.median([times[(quantization, client)] for times in rounds]))
    append_row(args.rows, row)


if __name__ == "__main__":
    sys.exit(main())
