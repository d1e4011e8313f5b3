"""A `.tflite` file's answer to a text must not depend on the texts run before it.

Keras 3's LSTM converted to WHILE loops whose outputs grew step by step:
under LiteRT's default XNNPACK delegate a fresh interpreter then answered
a text differently after a shorter one (or failed to reshape). Every text
is classified alone in a fresh interpreter as the reference, then in
adversarial orders, each order in a fresh interpreter, through
`TFLiteClassifier` and through a raw LiteRT interpreter with its default
delegates.
"""

import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

from ulmfit_tf.export import TFLiteClassifier
from ulmfit_tf.export import export_tflite
from ulmfit_tf.export.tflite_full_integer import has_dynamic_numeric_tensors
from ulmfit_tf.export.tflite_network import windowed_network
from ulmfit_tf.export.tflite_runner import text_op_registerers
from ulmfit_tf.models import AWDLSTMBackbone
from ulmfit_tf.models import ULMFiTTextClassifier
from ulmfit_tf.text import SentencePieceTokenizer

SHORT = "Dull."
ISSUE = ["A fine, moving film.", "Dull, lifeless and far too long.", "The acting is good but the plot makes no sense."]
LONG = "It drags on and on, with no end in sight, and the cast looks bored. " * 12
TEXTS = [SHORT, *ISSUE, LONG, ""]
ORDERS = [
    ISSUE,  # growing lengths: the issue's order
    sorted(TEXTS, key=len),
    sorted(TEXTS, key=len, reverse=True),
    [SHORT, LONG, SHORT, ISSUE[2], LONG, ISSUE[2]],
    [LONG, "", ISSUE[0], LONG],
    [ISSUE[2]] * 3 + [SHORT] * 2 + [ISSUE[1]],
]


@pytest.fixture(scope="module")
def untrained(reviews):
    """A tiny random SentencePiece classifier (history checks need no training)."""
    keras.utils.set_random_seed(11)
    tokenizer = SentencePieceTokenizer.train(reviews["train"][0][:3000], vocabulary_size=600)
    backbone = AWDLSTMBackbone(tokenizer.vocabulary_size(), 16, 24, 2, padding_id=1, seed=1)
    return ULMFiTTextClassifier(backbone, 2, preprocessor=tokenizer, bptt=16, max_len=64, seed=1)


@pytest.fixture(scope="module")
def files(untrained, reviews, tmp_path_factory):
    folder = tmp_path_factory.mktemp("history")
    paths = {}
    for quantization in ("none", "float16", "dynamic_int8", "int8"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the int8 accuracy warning
            paths[quantization] = export_tflite(
                untrained,
                str(folder / f"{quantization}.tflite"),
                quantization,
                representative_texts=reviews["test"][0][:50],
            )
    return paths


def raw_classify(path):
    """A fresh LiteRT interpreter with its default delegates: `text -> probabilities`."""
    from ai_edge_litert.interpreter import InterpreterWithCustomOps

    interpreter = InterpreterWithCustomOps(model_path=path, custom_op_registerers=text_op_registerers())
    interpreter.allocate_tensors()
    run = interpreter.get_signature_runner("serving_default")

    def classify(text):
        interpreter.reset_all_variables()  # the int8 file's fused LSTMs keep their state
        return run(text=np.array([text], dtype=object))["probabilities"][0]

    return classify


@pytest.mark.parametrize("quantization", ["none", "float16", "dynamic_int8", "int8"])
def test_classifier_answers_do_not_depend_on_history(files, quantization):
    path = files[quantization]
    alone = {text: TFLiteClassifier(path).predict([text])[1][0] for text in TEXTS}
    for order in ORDERS:
        probabilities = TFLiteClassifier(path).predict(order)[1]
        for text, row in zip(order, probabilities):
            np.testing.assert_array_equal(row, alone[text], err_msg=f"{quantization}: {text[:30]!r} in {order}")
    runner = TFLiteClassifier(path)  # one interpreter through every order
    for order in ORDERS:
        np.testing.assert_array_equal(runner.predict(order)[1], [alone[text] for text in order])


@pytest.mark.parametrize("quantization", ["none", "float16", "dynamic_int8", "int8"])
def test_raw_interpreter_answers_do_not_depend_on_history(files, quantization):
    """With LiteRT's defaults (XNNPACK on), as an app that ignores `TFLiteClassifier` runs the file."""
    path = files[quantization]
    alone = {text: raw_classify(path)(text) for text in TEXTS}
    for order in ORDERS:
        classify = raw_classify(path)
        for text in order:
            message = f"{quantization}: {text[:30]!r} in {order}"
            np.testing.assert_array_equal(classify(text), alone[text], err_msg=message)


def test_float_files_have_no_float_tensor_of_dynamic_shape(files):
    """XNNPACK never sees a shape change in the float files; the int8 file's runner turns XNNPACK off."""
    for quantization, path in files.items():
        with open(path, "rb") as f:
            assert has_dynamic_numeric_tensors(f.read()) == (quantization == "int8"), quantization


def test_windowed_network_matches_keras_at_window_edges(untrained):
    """Lengths around the 16-token windows, BPT3C's pooled chunks, padding ids inside and alone."""
    forward = tf.function(windowed_network(untrained))
    rng = np.random.default_rng(0)
    for length in (1, 15, 16, 17, 63, 64, 65, 100):
        ids = rng.integers(2, untrained.backbone.vocabulary_size, size=(1, length)).astype("int32")
        if length > 20:
            ids[0, [3, length - 2]] = 1  # masked steps: the state is carried over them
        expected = untrained(ids, training=False)
        np.testing.assert_allclose(forward(tf.constant(ids)), expected, atol=1e-6, err_msg=str(length))
    padding = tf.constant([[1]], tf.int32)
    np.testing.assert_allclose(forward(padding), untrained(padding, training=False), atol=1e-6)
    with pytest.raises(ValueError, match="Argument `window` must be a positive integer"):
        windowed_network(untrained, window=0)
