"""A MediaPipe file's answer to a text must not depend on the texts classified before it.

Each LSTM of the file is a fused `UNIDIRECTIONAL_SEQUENCE_LSTM` op, which
keeps its state in variable tensors from one call to the next; MediaPipe
never resets them, so the file zeroes them itself on a first step
(`resetting_weights`). Every text is classified alone by a fresh
classifier as the reference, then in adversarial orders (the same text
before and after very different ones, three times over), each order by a
fresh classifier: through MediaPipe's `TextClassifier`, the Task
Library's `BertNLClassifier` (float files) and a raw LiteRT interpreter
with its default delegates, never reset.
"""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.export.tflite_mediapipe_test import MEDIAPIPE
from tests.export.tflite_mediapipe_test import TASK_LIBRARY
from tests.export.tflite_mediapipe_test import TASK_LIBRARY_CHECK
from tests.export.tflite_mediapipe_test import bert_inputs
from tests.export.tflite_mediapipe_test import client_python
from tests.export.tflite_mediapipe_test import run_client
from ulmfit_tf.export import export_tflite
from ulmfit_tf.export import tflite_mediapipe
from ulmfit_tf.models import AWDLSTMBackbone
from ulmfit_tf.models import ULMFiTTextClassifier
from ulmfit_tf.text import SentencePieceTokenizer

# Lowercase already, as both clients lowercase before tokenizing: LiteRT reads what they read.
SHORT = "dull."
FINE = "a fine, moving film."
MIXED = "the acting is good but the plot makes no sense."
LONG = "it drags on and on, with no end in sight, and the cast looks bored. " * 12  # over 62 pieces
TEXTS = [SHORT, FINE, MIXED, LONG, ""]
ORDERS = [
    [FINE, LONG, FINE, SHORT, FINE, "", FINE] * 3,  # one text between very different ones, three times
    [LONG, MIXED, SHORT, MIXED, LONG, MIXED] * 3,
    sorted(TEXTS, key=len) + sorted(TEXTS, key=len, reverse=True),
    [MIXED] * 3 + [SHORT] * 3 + [LONG] * 3,
]
QUANTIZATIONS = ("none", "float16", "dynamic_int8")


@pytest.fixture(scope="module")
def untrained(reviews):
    """A tiny random SentencePiece classifier with large weights, whose state carries far from one text to the next."""
    keras.utils.set_random_seed(5)
    tokenizer = SentencePieceTokenizer.train(reviews["train"][0][:3000], vocabulary_size=600)
    backbone = AWDLSTMBackbone(tokenizer.vocabulary_size(), 16, 24, 2, padding_id=1, seed=2)
    model = ULMFiTTextClassifier(backbone, 2, preprocessor=tokenizer, label_names=["rotten", "fresh"], seed=2)
    for lstm in backbone.lstm_layers:
        lstm.cell.recurrent_kernel.assign(lstm.cell.recurrent_kernel * 3.0)
    return model


def export_files(model, folder):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # never trained: history checks need no training
        return {q: export_tflite(model, str(folder / f"{q}.tflite"), q, target="mediapipe") for q in QUANTIZATIONS}


@pytest.fixture(scope="module")
def files(untrained, tmp_path_factory):
    return export_files(untrained, tmp_path_factory.mktemp("mediapipe_history"))


@pytest.fixture(scope="module")
def unreset_files(untrained, tmp_path_factory):
    """The same files with the reset step's input at 0: history-dependent, which the checks must see."""
    resetting_weights = tflite_mediapipe.resetting_weights

    def without_reset(*args, **kwargs):
        reset, weights = resetting_weights(*args, **kwargs)
        return tf.zeros_like(reset), weights

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tflite_mediapipe, "resetting_weights", without_reset)
        return export_files(untrained, tmp_path_factory.mktemp("unreset"))


def litert_orders(path, untrained):
    """Each text alone, then each order, every list in a fresh LiteRT interpreter (default delegates, no reset)."""
    from ai_edge_litert.interpreter import Interpreter

    def classify(texts):
        run = Interpreter(model_path=path).get_signature_runner()
        return [run(**bert_inputs(untrained, text))["probability"][0] for text in texts]

    return [classify([text])[0] for text in TEXTS], [classify(order) for order in ORDERS]


def client_orders(python, client, path):
    reply = run_client(python, client, path, [TEXTS[0]], orders=[[text] for text in TEXTS] + ORDERS)
    return [row[0] for row in reply["orders"][: len(TEXTS)]], reply["orders"][len(TEXTS) :]


def history_changes(alone, orders):
    """The largest change of any text's answer from its answer alone, over all orders."""
    reference = dict(zip(TEXTS, alone))
    return max(float(np.abs(np.array(row) - reference[text]).max()) for order, rows in zip(ORDERS, orders)
               for text, row in zip(order, rows))


@pytest.mark.parametrize("quantization", QUANTIZATIONS)
def test_litert_answers_do_not_depend_on_history(files, unreset_files, untrained, quantization):
    assert history_changes(*litert_orders(files[quantization], untrained)) == 0.0
    assert history_changes(*litert_orders(unreset_files[quantization], untrained)) > 1e-3


def test_mediapipe_answers_do_not_depend_on_history(files, unreset_files):
    python = client_python("mediapipe", [MEDIAPIPE], "import mediapipe")
    for quantization in QUANTIZATIONS:
        assert history_changes(*client_orders(python, "mediapipe", files[quantization])) == 0.0, quantization
        assert history_changes(*client_orders(python, "mediapipe", unreset_files[quantization])) > 1e-3, quantization


def test_task_library_answers_do_not_depend_on_history(files):
    python = client_python("task-library", TASK_LIBRARY, TASK_LIBRARY_CHECK)
    for quantization in ("none", "float16"):
        assert history_changes(*client_orders(python, "task_library", files[quantization])) == 0.0, quantization
