"""Runs a `.tflite` file through a client's own text classifier: MediaPipe Tasks' or the TFLite Task Library's.

Not a test module: `tflite_mediapipe_test.py` runs it with the Python of a
virtual environment holding only the client (`mediapipe`, which pins its
own numpy and protobuf; or `tflite-support`, which needs numpy<2 and
protobuf<4), so it imports neither ulmfit_tf nor TensorFlow. It reads a
JSON request `{"client": "mediapipe" | "task_library", "model": path,
"texts": [...], "timing_runs": n, "orders": [[...], ...]}` on stdin and
prints JSON: the metadata read with MediaPipe's generated schema code
(MediaPipe only), the packed files, each text's scores in label order
(classified in the given order by one classifier), the median time of one
`classify` call and, for each of the optional `orders`, its texts' scores
from a fresh classifier.
"""

import io
import json
import sys
import time
import zipfile


def main():
    request = json.load(sys.stdin)
    with open(request["model"], "rb") as f:
        content = f.read()
    files = zipfile.ZipFile(io.BytesIO(content))
    labels = files.read("labels.txt").decode("utf-8").splitlines()
    mediapipe = request["client"] == "mediapipe"

    def fresh_classifier():
        return mediapipe_classifier(request["model"]) if mediapipe else task_library_classifier(request["model"])

    def classify(classifier, item):
        classification = classifier.classify(item).classifications[0]
        categories = {c.category_name: c.score for c in classification.categories}
        # A category under the model's score threshold is left out: its score is `None`.
        return {"head": classification.head_name, "scores": [categories.get(label) for label in labels]}

    classifier = fresh_classifier()
    scores = [classify(classifier, item) for item in request["texts"]]
    times = []
    for _ in range(request.get("timing_runs", 0)):
        start = time.perf_counter()
        classify(classifier, request["texts"][0])
        times.append(time.perf_counter() - start)
    orders = []
    for order in request.get("orders", []):
        fresh = fresh_classifier()
        orders.append([classify(fresh, item)["scores"] for item in order])
    json.dump(
        {
            "metadata": read_metadata(content) if mediapipe else None,
            "packed_files": sorted(files.namelist()),
            "labels": labels,
            "results": scores,
            "median_ms": 1000 * sorted(times)[len(times) // 2] if times else None,
            "orders": orders,
        },
        sys.stdout,
    )


def mediapipe_classifier(path):
    """MediaPipe Tasks' `TextClassifier` of a file, with its default options."""
    from mediapipe.tasks.python import text
    from mediapipe.tasks.python.core import base_options

    options = text.TextClassifierOptions(base_options=base_options.BaseOptions(model_asset_path=path))
    return text.TextClassifier.create_from_options(options)


def task_library_classifier(path):
    """The TFLite Task Library's `BertNLClassifier` of a file."""
    import ctypes

    import libusb_package

    # tflite-support's extension links libusb-1.0.so.0: the copy in the `libusb-package` wheel, loaded first.
    ctypes.CDLL(str(libusb_package.get_library_path()), mode=ctypes.RTLD_GLOBAL)
    from tflite_support.task import text

    return text.BertNLClassifier.create_from_file(path)


def read_metadata(content):
    """The file's `TFLITE_METADATA`, read with MediaPipe's generated schema code, as plain values."""
    from mediapipe.tasks.metadata import metadata_schema_py_generated as metadata_schema
    from mediapipe.tasks.metadata import schema_py_generated as tflite_schema

    model = tflite_schema.Model.GetRootAs(content, 0)
    entries = {model.Metadata(i).Name(): model.Metadata(i).Buffer() for i in range(model.MetadataLength())}
    data = model.Buffers(entries[b"TFLITE_METADATA"]).DataAsNumpy().tobytes()
    assert metadata_schema.ModelMetadata.ModelMetadataBufferHasIdentifier(data, 0)
    info = metadata_schema.ModelMetadataT.InitFromPackedBuf(data, 0)
    subgraph = info.subgraphMetadata[0]

    def tensor(t):
        files = [(f.name.decode(), f.type) for f in t.associatedFiles or []]
        thresholds = [u.options.globalScoreThreshold for u in t.processUnits or [] if u.optionsType == 3]
        return {
            "name": t.name.decode(), "description": t.description.decode(), "files": files,
            "score_thresholds": thresholds,
        }

    units = subgraph.inputProcessUnits
    return {
        **{key: (getattr(info, key) or b"").decode() for key in ("name", "description", "version", "author")},
        "license": (info.license or b"").decode(),
        "min_parser_version": info.minParserVersion.decode(),
        "inputs": [tensor(t) for t in subgraph.inputTensorMetadata],
        "outputs": [tensor(t) for t in subgraph.outputTensorMetadata],
        "tokenizer": [(u.optionsType, [f.name.decode() for f in u.options.sentencePieceModel]) for u in units],
    }


if __name__ == "__main__":
    main()
