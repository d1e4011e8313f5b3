"""`export_tflite(..., target="mediapipe")`: the file MediaPipe Tasks' `TextClassifier` runs as it is.

The fast tests read the file's structure and run it on LiteRT with the ids
MediaPipe would write. `test_mediapipe_text_classifier_runs_the_file` runs
the real client: MediaPipe's Python `TextClassifier` in its own virtual
environment (`.venv-mediapipe/`, made on first use with
`pip install mediapipe==1.2.2`, as the README says; skipped when pip
cannot install it) through `text_classifier_clients.py`;
`test_task_library_runs_the_float_files` runs the TFLite Task Library's
`BertNLClassifier` the same way (`.venv-task-library/`).
"""

import json
import os
import string
import subprocess
import sys
import zipfile

import flatbuffers
import numpy as np
import pytest
import tensorflow as tf
from flatbuffers import table

from tests.export.conftest import keras_probabilities
from ulmfit_tf import cli
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.export import TFLiteClassifier
from ulmfit_tf.export import export_tflite
from ulmfit_tf.export.tflite_full_integer import flatbuffer_metadata
from ulmfit_tf.export.tflite_full_integer import graph_ops
from ulmfit_tf.export.tflite_mediapipe import INPUTS
from ulmfit_tf.export.tflite_mediapipe import mediapipe_network
from ulmfit_tf.model_directory import save_model_directory
from ulmfit_tf.models import AWDLSTMBackbone
from ulmfit_tf.models import ULMFiTTextClassifier
from ulmfit_tf.text import SentencePieceTokenizer

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
MEDIAPIPE = "mediapipe==1.2.2"
# tflite-support's extension needs numpy<2 and Debian's libusb-1.0-0, here from the `libusb-package` wheel.
TASK_LIBRARY = ["tflite-support==0.4.4", "numpy<2", "libusb-package==1.0.30.0"]
# (`import tflite_support` alone fails until the client loads that libusb.)
TASK_LIBRARY_CHECK = "import importlib.util, libusb_package; assert importlib.util.find_spec('tflite_support')"
CLIENT = os.path.join(os.path.dirname(__file__), "text_classifier_clients.py")
LENGTH = 64
# Largest |probability difference| allowed against Keras, per file kind.
TOLERANCE = {"none": 1e-5, "float16": 2e-3}
# Both clients lowercase ASCII letters (`AsciiStrToLower`) before tokenizing.
ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
UNUSUAL = ["", "   ", "Dull.", "emoji 🎬🍿 and ÇÀ ü ß 中文", "A FINE, MOVING FILM!"]


@pytest.fixture(scope="module")
def mediapipe_files(classifier, tmp_path_factory):
    folder = tmp_path_factory.mktemp("mediapipe")
    info = {"author": "ulmfit-tf tests", "license": "Apache-2.0", "version": "3"}
    return {
        quantization: export_tflite(
            classifier, str(folder / f"{quantization}.tflite"), quantization, target="mediapipe", model_info=info
        )
        for quantization in ("none", "float16", "dynamic_int8")
    }


@pytest.fixture(scope="module")
def short_texts(classifier, reviews):
    """Test reviews (and unusual strings) of at most 62 pieces once lowercased: MediaPipe reads them whole."""
    texts = [t.translate(ASCII_LOWER) for t in UNUSUAL + list(reviews["test"][0][:300])]
    lengths = classifier.preprocessor.tokenizer(texts).row_lengths().numpy() - 1  # without xxbos
    return [text for text, length in zip(texts, lengths) if length <= LENGTH - 2]


def bert_inputs(classifier, text, tokenizer=None, padded=False):
    """The inputs MediaPipe writes for a text already lowercased: `[CLS] pieces [SEP]` (both `xxunk`, 0).

    Into `[1, None]` inputs MediaPipe writes every piece; `padded` writes
    the first `LENGTH - 2` and zeros up to `LENGTH`, as into `[1, LENGTH]`.
    """
    pieces = (tokenizer or classifier.preprocessor.tokenizer)([text]).to_list()[0][1:]
    pieces = pieces[: LENGTH - 2] if padded else pieces
    ids = np.zeros((1, LENGTH if padded else len(pieces) + 2), "int32")
    ids[0, 1 : len(pieces) + 1] = pieces
    mask = (np.arange(ids.shape[1]) < len(pieces) + 2).astype("int32")[None]
    return {"ids": ids, "segment_ids": np.zeros_like(ids), "mask": mask}


def test_file_has_one_graph_of_builtin_ops_and_bert_inputs(mediapipe_files):
    from ai_edge_litert.interpreter import Interpreter

    with open(mediapipe_files["dynamic_int8"], "rb") as f:
        content = f.read()
    model = _root(content)
    assert len(_tables(model, 2)) == 1 and len(_tables(model, 7)) == 1  # subgraphs, signature_defs
    ops = [name for name, _, _ in graph_ops(content)]
    assert all(name.isupper() for name in ops) and not set(ops) & {"WHILE", "IF", "CUSTOM"}
    assert ops.count("UNIDIRECTIONAL_SEQUENCE_LSTM") == 2  # one fused op per LSTM
    interpreter = Interpreter(model_content=content)
    inputs = [(d["name"], list(d["shape_signature"]), d["dtype"]) for d in interpreter.get_input_details()]
    assert inputs == [(name, [1, -1], np.int32) for name in ("ids", "segment_ids", "mask")]
    (output,) = interpreter.get_output_details()
    assert (output["name"], list(output["shape_signature"]), output["dtype"]) == ("probability", [1, 2], np.float32)
    assert interpreter.get_signature_list() == {
        "serving_default": {"inputs": ["ids", "mask", "segment_ids"], "outputs": ["probability"]}
    }


def test_metadata_names_the_tokenizer_labels_and_tensors(classifier, mediapipe_files):
    with open(mediapipe_files["none"], "rb") as f:
        content = f.read()
    metadata = _root(flatbuffer_metadata(content)["TFLITE_METADATA"])
    assert flatbuffers.util.BufferHasIdentifier(flatbuffer_metadata(content)["TFLITE_METADATA"], 0, b"M001")
    slots = {"name": 0, "version": 2, "author": 4, "license": 5}
    strings = {key: _string(metadata, slot) for key, slot in slots.items()}
    assert strings == {"name": classifier.name, "version": "3", "author": "ulmfit-tf tests", "license": "Apache-2.0"}
    assert "rotten, fresh" in _string(metadata, 1) and _string(metadata, 7) == "1.1.0"
    (subgraph,) = _tables(metadata, 3)
    assert [_string(t, 0) for t in _tables(subgraph, 2)] == ["ids", "segment_ids", "mask"]
    (output,) = _tables(subgraph, 3)
    (labels,) = _tables(output, 6)
    assert (_string(output, 0), _string(labels, 0), _uint8(labels, 2)) == ("probability", "labels.txt", 2)
    (tokenizer,) = _tables(subgraph, 5)
    assert _uint8(tokenizer, 0) == 5  # SentencePieceTokenizerOptions
    (model_file,) = _tables(_table(tokenizer, 1), 0)
    assert _string(model_file, 0) == "sentencepiece.model"
    assert len(content) % 4 == 0  # whole 4-byte words, as `read_metadata` expects of a finished file
    with zipfile.ZipFile(mediapipe_files["none"]) as files:
        assert files.read("labels.txt") == b"rotten\nfresh\n"
        assert files.read("sentencepiece.model") == classifier.preprocessor.tokenizer.proto
    with pytest.raises(UserInputError, match="MediaPipe"):
        TFLiteClassifier(mediapipe_files["none"])


@pytest.mark.parametrize("quantization", ["none", "float16", "dynamic_int8"])
def test_litert_answers_as_keras_whatever_came_before(classifier, mediapipe_files, short_texts, quantization):
    from ai_edge_litert.interpreter import Interpreter

    run = Interpreter(model_path=mediapipe_files[quantization]).get_signature_runner()
    expected = keras_probabilities(classifier, short_texts)
    answers = np.concatenate([run(**bert_inputs(classifier, text))["probability"] for text in short_texts])
    difference = np.abs(answers - expected).max()
    agreement = np.mean(answers.argmax(1) == expected.argmax(1))
    print(f"{quantization}: {len(short_texts)} texts, max |dp| {difference:.2e}, argmax agreement {agreement:.4f}")
    if quantization in TOLERANCE:
        assert difference <= TOLERANCE[quantization]
    else:
        assert agreement >= 0.98
    again = np.concatenate([run(**bert_inputs(classifier, text))["probability"] for text in short_texts[::-1]])
    np.testing.assert_array_equal(again[::-1], answers)


@pytest.mark.parametrize(
    "options", [{"reverse": True}, {"add_bos": False}, {"add_eos": True}, {"add_eos": True, "reverse": True}]
)
def test_mediapipe_network_reads_the_text_as_each_tokenizer_does(classifier, options):
    """`[CLS]`/`[SEP]` become `xxbos`/`xxeos` or are dropped, a backward tokenizer's pieces are reversed,
    padding is not read, and a longer text is read as its first `LENGTH - 2` pieces."""
    tokenizer = SentencePieceTokenizer(proto=classifier.preprocessor.tokenizer.proto, **options)
    backbone = AWDLSTMBackbone(tokenizer.vocabulary_size(), 8, 12, 2, padding_id=1, seed=3)
    model = ULMFiTTextClassifier(backbone, 2, preprocessor=tokenizer, bptt=4, max_len=8, seed=3)
    forward = mediapipe_network(model, LENGTH)
    texts = ["a fine, moving film.", "", "dull", "it drags " * 8, "on and on " * 40]
    # The forward tokenizer's pieces, as MediaPipe writes them.
    plain = SentencePieceTokenizer(proto=tokenizer.proto)
    kept = [plain.detokenize([plain([text]).to_list()[0][1:][: LENGTH - 2]]).numpy()[0].decode() for text in texts]
    expected = model.predict(kept, verbose=0)
    for padded in (False, True):
        inputs = [bert_inputs(model, text, plain, padded) for text in texts]
        answers = np.concatenate([forward(*(tf.constant(x[name]) for name in INPUTS)).numpy() for x in inputs])
        np.testing.assert_allclose(answers, expected, atol=1e-5, err_msg=f"padded={padded}")


@pytest.mark.parametrize(
    "arguments, match",
    [
        ({"quantization": "int8", "representative_texts": ["a"]}, "quantization"),
        ({"target": "coreml"}, "target"),
        ({"sequence_length": 2}, "sequence_length"),
        ({"model_info": {"licence": "MIT"}}, "model_info"),
    ],
)
def test_refuses_what_mediapipe_cannot_run(classifier, tmp_path, arguments, match):
    arguments = {"target": "mediapipe", **arguments}
    with pytest.raises(ValueError, match=f"Argument `{match}`"):
        export_tflite(classifier, tmp_path / "x.tflite", **arguments)
    assert not os.listdir(tmp_path)


def test_command_line_exports_for_mediapipe(classifier, tmp_path, capsys):
    folder = save_model_directory(classifier, str(tmp_path / "clf"), "classifier")
    path = str(tmp_path / "clf.tflite")
    argv = ["export", "--model", folder, "--tflite", path, "--tflite-target", "mediapipe", "--sequence-length", "32"]
    assert cli.main(argv) == 0, capsys.readouterr().err
    assert "TFLite (dynamic_int8, mediapipe)" in capsys.readouterr().out
    with open(path, "rb") as f:
        content = f.read()
    assert "TFLITE_METADATA" in flatbuffer_metadata(content)
    assert json.loads(flatbuffer_metadata(content)["ulmfit_tf"])["sequence_length"] == 32
    assert cli.main(argv[:-4] + ["--overwrite", "--tflite-target", "mediapipe", "--quantization", "int8"]) == 2
    assert "--tflite-target mediapipe` takes" in capsys.readouterr().err


def client_python(name, requirements, check):
    """The Python of `.venv-NAME/` holding one client (`requirements`; `check` is Python that runs there), made once."""
    folder = os.path.join(ROOT, f".venv-{name}")
    python = os.path.join(folder, "bin", "python")
    if os.path.exists(python) and not subprocess.run([python, "-c", check], capture_output=True).returncode:
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", folder], check=True)
    install = subprocess.run([python, "-m", "pip", "install", "-q", *requirements], capture_output=True, text=True)
    if install.returncode:
        pytest.skip(f"`pip install {' '.join(requirements)}` failed (no network?): {install.stderr.strip()[-300:]}")
    return python


def run_client(python, client, path, texts, timing_runs=0, orders=()):
    request = {"client": client, "model": path, "texts": texts, "timing_runs": timing_runs, "orders": list(orders)}
    answer = subprocess.run([python, CLIENT], input=json.dumps(request), capture_output=True, text=True)
    assert answer.returncode == 0, answer.stderr[-3000:]
    return json.loads(answer.stdout)


def check_answers(reply, expected, quantization, client):
    """Each text's scores: as Keras's within the tolerance, and the same after the texts in reverse order."""
    assert reply["labels"] == ["rotten", "fresh"] and reply["packed_files"] == ["labels.txt", "sentencepiece.model"]
    scores = np.array([result["scores"] for result in reply["results"]], "float32")
    first, second = scores[: len(expected)], scores[len(expected) :][::-1]
    np.testing.assert_array_equal(first, second)
    difference = np.abs(first - expected).max()
    agreement = np.mean(first.argmax(1) == expected.argmax(1))
    print(f"{client} {quantization}: max |dp| {difference:.2e}, agreement {agreement:.4f}, {reply['median_ms']:.2f} ms")
    if quantization in TOLERANCE:
        assert difference <= TOLERANCE[quantization]
    else:
        assert agreement >= 0.98


def test_mediapipe_text_classifier_runs_the_file(classifier, mediapipe_files, short_texts):
    python = client_python("mediapipe", [MEDIAPIPE], "import mediapipe")
    expected = keras_probabilities(classifier, short_texts)
    for quantization, path in mediapipe_files.items():
        # Each text once in order, then again in reverse order: its answer must not depend on what came before.
        reply = run_client(python, "mediapipe", path, short_texts + short_texts[::-1], timing_runs=20)
        assert reply["metadata"]["tokenizer"] == [[5, ["sentencepiece.model"]]]
        assert [t["name"] for t in reply["metadata"]["inputs"]] == ["ids", "segment_ids", "mask"]
        assert {result["head"] for result in reply["results"]} == {"probability"}
        check_answers(reply, expected, quantization, "MediaPipe")


def test_task_library_runs_the_float_files(classifier, mediapipe_files, short_texts):
    python = client_python("task-library", TASK_LIBRARY, TASK_LIBRARY_CHECK)
    expected = keras_probabilities(classifier, short_texts)
    for quantization in ("none", "float16"):
        reply = run_client(python, "task_library", mediapipe_files[quantization], short_texts + short_texts[::-1], 20)
        check_answers(reply, expected, quantization, "Task Library")
    # Its runtime (TFLite 2.11) predates the converter's int8 FULLY_CONNECTED: MediaPipe's is needed there.
    request = {"client": "task_library", "model": mediapipe_files["dynamic_int8"], "texts": ["a"]}
    answer = subprocess.run([python, CLIENT], input=json.dumps(request), capture_output=True, text=True)
    assert answer.returncode and "'FULLY_CONNECTED' version '12'" in answer.stderr


# A few lines of flatbuffers' generic reading: the metadata schema's
# generated code is tflite-support's or MediaPipe's, neither installed here.
def _root(buffer):
    return table.Table(bytearray(buffer), flatbuffers.encode.Get(flatbuffers.packer.uoffset, bytearray(buffer), 0))


def _offset(t, slot):
    return t.Offset(4 + 2 * slot)


def _string(t, slot):
    offset = _offset(t, slot)
    return t.String(offset + t.Pos).decode("utf-8") if offset else None


def _uint8(t, slot):
    offset = _offset(t, slot)
    return t.Get(flatbuffers.number_types.Uint8Flags, offset + t.Pos) if offset else 0


def _table(t, slot):
    return table.Table(t.Bytes, t.Indirect(_offset(t, slot) + t.Pos))


def _tables(t, slot):
    offset = _offset(t, slot)
    if not offset:
        return []
    start = t.Vector(offset)
    return [table.Table(t.Bytes, t.Indirect(start + 4 * i)) for i in range(t.VectorLen(offset))]
