"""TFLite for on-device classification, and a LiteRT runner for the files."""

import functools
import json
import os
import tempfile
import uuid
import warnings

import keras
import numpy as np
import tensorflow as tf

from ulmfit_tf.errors import UserInputError
from ulmfit_tf.export.saved_model import MAX_TOKENS
from ulmfit_tf.export.saved_model import _check_classifier
from ulmfit_tf.export.saved_model import label_names
from ulmfit_tf.export.saved_model import text_to_ids
from ulmfit_tf.model_directory import check_new_file
from ulmfit_tf.model_directory import write_file_atomically
from ulmfit_tf.text.classification_dataset import PADDING_ID
from ulmfit_tf.text.inputs import check_texts
from ulmfit_tf.text.sentencepiece_tokenizer import SentencePieceTokenizer

QUANTIZATIONS = ("none", "float16", "dynamic_int8", "int8")
# Builtin ops whose int8 kernels give the output the input's scale.
SAME_SCALE_OPS = (
    "CONCATENATION", "REDUCE_MAX", "REDUCE_MIN", "STRIDED_SLICE", "SLICE", "SELECT", "SELECT_V2", "RESHAPE",
    "SQUEEZE", "EXPAND_DIMS", "TRANSPOSE", "PACK", "MAXIMUM", "MINIMUM",
)
FORMAT = 1
# Name of the file's metadata entry (in the flatbuffer's `metadata` list).
METADATA = "ulmfit_tf"


def export_tflite(classifier, path, quantization="none", representative_texts=None, overwrite=False):
    """Writes a classifier as one `.tflite` file for on-device inference.

    With a `SentencePieceTokenizer` the file takes a raw string: its
    signature `serving_default(text: string [1])` tokenizes with
    tensorflow-text's FastSentencepiece op (a custom op, registered by
    `TFLiteClassifier` or by `tensorflow_text.tflite_registrar`) and
    returns `probabilities` (float32 `(1, classes)`); a second signature,
    `tokenize(text)`, returns the `token_ids` the network reads. With the
    fastai `WordTokenizer`, whose regex rules have no TFLite kernels, the
    signature takes `token_ids: int32 [1, None]` and the tokenizer (rules
    and vocabulary) travels in the file for the runner to apply. Either way
    the file's metadata holds the label names, the problem type and the
    tokenizer, so the file alone is enough to classify.

    The network uses builtin ops only, with a static batch of one document
    and any length (the first 8,192 tokens are read).

    Args:
        classifier: A `ULMFiTTextClassifier` with a `preprocessor`.
        path: The `.tflite` file to write (written atomically).
        quantization: `"none"` (float32), `"float16"` (weights in float16),
            `"dynamic_int8"` (weights in int8, activations quantized on the
            fly; the recommended size) or `"int8"` (weights and activations
            in int8, calibrated on `representative_texts`, each text run
            alone as on the device; input and output stay float). The int8
            file runs each LSTM as one fused
            `UNIDIRECTIONAL_SEQUENCE_LSTM` op (16-bit cell state; see
            `integer_network`), and its top class differs from the float
            model's on a few percent of texts, so it warns.
        representative_texts: List of texts for the `"int8"` calibration
            (a few hundred typical inputs).
        overwrite: Boolean, replace an existing file at `path` (refused
            otherwise, before the conversion starts).

    Returns:
        `path`.

    Example:

    ```python
    export_tflite(classifier, "sentiment.tflite", quantization="dynamic_int8")
    labels, probabilities = TFLiteClassifier("sentiment.tflite").predict(["A fine film."])
    ```
    """
    _check_classifier(classifier)
    check_new_file(path, overwrite)
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"Argument `quantization` must be one of {QUANTIZATIONS}. Received: quantization={quantization!r}")
    if quantization == "int8" and not representative_texts:
        raise ValueError(
            "Argument `representative_texts` must hold typical input texts for `quantization='int8'` "
            "(it calibrates the activation ranges). Received: representative_texts="
            f"{representative_texts!r}"
        )
    if quantization == "int8":
        warnings.warn(
            "Full-integer (`quantization='int8'`) TFLite models carry the LSTMs' hidden states in 8 bits: "
            "their top class differs from the float model's on about 1-4% of texts (see BENCHMARKS.md). "
            "`quantization='dynamic_int8'` is as small and matches the float model; use 'int8' for "
            "integer-only hardware.",
            stacklevel=2,
        )
    tokenizer = classifier.preprocessor
    text_input = isinstance(tokenizer, SentencePieceTokenizer)
    regression = classifier.problem_type == "regression"
    output_name = "prediction" if regression else "probabilities"

    # The network alone (same layers and weights): the preprocessor's
    # lookup tables, if any, have no TFLite kernels and stay out of the file.
    network = keras.Model(classifier.inputs, classifier.outputs)
    forward = integer_network(classifier) if quantization == "int8" else functools.partial(network, training=False)

    def predict(token_ids):
        outputs = forward(token_ids)
        if not regression:
            outputs = classifier.probabilities(outputs)
        return {output_name: tf.cast(outputs, tf.float32)}

    archive = keras.export.ExportArchive()
    archive.track(network)
    if text_input:
        spec = [tf.TensorSpec([1], tf.string, name="text")]
        archive.add_endpoint("serving_default", lambda text: predict(_device_ids(tokenizer, text)), spec)
        archive.add_endpoint("tokenize", lambda text: {"token_ids": _device_ids(tokenizer, text)}, spec)
        signatures = ["serving_default", "tokenize"]
    else:
        spec = [tf.TensorSpec([1, None], tf.int32, name="token_ids")]
        archive.add_endpoint("serving_default", predict, spec)
        signatures = ["serving_default"]

    with tempfile.TemporaryDirectory() as saved_model:
        archive.write_out(saved_model, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model, signature_keys=signatures)
        if text_input:
            converter.allow_custom_ops = True
            converter.target_spec._experimental_custom_op_registerers = _text_op_registerers()
        if quantization != "none":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantization == "float16":
            converter.target_spec.supported_types = [tf.float16]
        if quantization == "int8":
            representative = _representative_data(tokenizer, representative_texts, text_input)
            converter.representative_dataset = representative
            converter._experimental_calibrate_only = True
            model = _quantize_with_measured_ranges(converter.convert(), representative, text_input)
        else:
            model = converter.convert()

    metadata = {
        "format": FORMAT,
        "ulmfit_tf": _version(),
        "input": "text" if text_input else "token_ids",
        "output": output_name,
        "problem_type": classifier.problem_type,
        "label_names": None if regression else label_names(classifier),
        "quantization": quantization,
        "max_tokens": MAX_TOKENS,
        "padding_id": PADDING_ID,
        "tokenizer": keras.saving.serialize_keras_object(tokenizer),
    }
    model = _add_metadata(model, {METADATA: json.dumps(metadata).encode("utf-8")})
    return write_file_atomically(path, lambda f: f.write(model), overwrite=overwrite)


class TFLiteClassifier:
    """Classifies texts with a `.tflite` file written by `export_tflite`.

    Runs on LiteRT (`ai_edge_litert`), registering tensorflow-text's ops for
    files with the tokenizer inside; for ids-input files (word tokenizer) it
    tokenizes with the tokenizer stored in the file, exactly as the Keras
    model did. Each document is one `invoke` and no state is carried from
    one call to the next.

    Args:
        path: A `.tflite` file written by `export_tflite`.
        num_threads: Integer, CPU threads of the interpreter. Defaults to 1.

    Example:

    ```python
    runner = TFLiteClassifier("sentiment.tflite")
    labels, probabilities = runner.predict(["A fine film.", "Dull."])
    ```
    """

    def __init__(self, path, num_threads=1):
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise FileNotFoundError(f"No TFLite file at {self.path!r}.")
        with open(self.path, "rb") as f:
            content = f.read()
        entries = read_metadata(content, self.path)
        self.metadata = json.loads(entries[METADATA])
        if self.metadata.get("format") != FORMAT:
            raise UserInputError(
                f"{self.path!r} was written by ulmfit-tf {self.metadata.get('ulmfit_tf', '?')} in TFLite format "
                f"{self.metadata.get('format')}; this version reads format {FORMAT}. Export it again."
            )
        self.label_names = self.metadata["label_names"]
        self.problem_type = self.metadata["problem_type"]
        text_input = self.metadata["input"] == "text"
        self._interpreter = _interpreter(content, text_input, num_threads=num_threads)
        self._classify = self._interpreter.get_signature_runner("serving_default")
        self._tokenize = self._interpreter.get_signature_runner("tokenize") if text_input else None
        self.tokenizer = None
        if not text_input:
            import ulmfit_tf.text  # noqa: F401  (registers the tokenizer classes)

            self.tokenizer = keras.saving.deserialize_keras_object(self.metadata["tokenizer"])

    def tokenize(self, texts):
        """The token ids the network reads for each text (a list of int arrays)."""
        texts = check_texts(texts)
        if self._tokenize is None:
            ids = self.tokenizer(tf.constant(texts, tf.string))[:, : self.metadata["max_tokens"]]
            return [np.asarray(row, "int32") for row in ids.to_list()]
        return [self._tokenize(text=np.array([text], dtype=object))["token_ids"][0] for text in texts]

    def predict_outputs(self, texts):
        """The model's output for each text: probabilities `(n, classes)` (or regression values)."""
        name = self.metadata["output"]
        if self._tokenize is not None:
            rows = [self._run(text=np.array([text], dtype=object))[name] for text in check_texts(texts)]
        else:
            rows = [self._run(token_ids=ids[None, :])[name] for ids in self.tokenize(texts)]
        outputs = self._classify.get_output_details()[name]["shape"][-1]
        return np.concatenate(rows) if rows else np.zeros((0, outputs), "float32")

    def predict(self, texts):
        """Labels and probabilities of a list of texts.

        Args:
            texts: List of strings (bytes are decoded as UTF-8, invalid
                bytes replaced); a lone string is one text. Anything else
                among them raises a `TypeError`.

        Returns:
            `(labels, probabilities)`: the most probable class name of each
            text and the float32 probabilities `(n, classes)` (`[]` and
            `(0, classes)` for no texts). For a regression model,
            `(None, predictions)`.
        """
        outputs = self.predict_outputs(texts)
        if self.label_names is None:
            return None, outputs
        return [self.label_names[i] for i in outputs.argmax(axis=-1)], outputs

    def _run(self, **inputs):
        self._interpreter.reset_all_variables()
        return self._classify(**inputs)


def read_metadata(content, name="the model"):
    """The `{name: bytes}` metadata entries of a TFLite flatbuffer written by `export_tflite`."""
    from tensorflow.lite.python import schema_py_generated as schema

    try:
        if len(content) < 8 or content[4:8] != b"TFL3":
            raise ValueError
        model = schema.Model.GetRootAs(content, 0)
        entries = {}
        for i in range(model.MetadataLength()):
            entry = model.Metadata(i)
            entries[entry.Name().decode("utf-8")] = model.Buffers(entry.Buffer()).DataAsNumpy().tobytes()
    except Exception:
        raise UserInputError(f"{name!r} is not a TFLite model file.") from None
    if METADATA not in entries:
        raise UserInputError(
            f"{name!r} is a TFLite model, but not one written by `ulmfit_tf.export.export_tflite` "
            "(it has no ulmfit_tf metadata)."
        )
    return entries


def integer_network(classifier):
    """The classifier's inference on one unpadded text, arranged for integer kernels.

    The same maths as `classifier(token_ids)` for a `(1, time)` batch of one
    text (no padding), built so that full-integer TFLite conversion keeps
    its accuracy:

    - each LSTM is a Keras-2-style composite function that the converter
      fuses into one `UNIDIRECTIONAL_SEQUENCE_LSTM` op, whose integer kernel
      keeps the cell state in 16 bits (a `WHILE` loop of int8 ops, what
      Keras 3's LSTM converts to, loses the outputs); the fused op clips
      the cell state at 10 (the converter's setting);
    - concat pooling reads the pooled chunks with one slice, so that the
      last LSTM's output has a single consumer (otherwise the converter
      cannot attach its calibrated range);
    - each BatchNorm of the head is folded into the Dense layer after it
      (otherwise the calibrator records the pooled vector's range after
      the BatchNorm's in-place multiply has overwritten it).

    Args:
        classifier: A `ULMFiTTextClassifier`.

    Returns:
        A function from int32 token ids `(1, time)` to the model's outputs
        `(1, num_classes)` (logits, or regression values).

    Example:

    ```python
    forward = integer_network(classifier)
    logits = forward(tf.constant([[31, 7, 268]]))  # == classifier(...) to ~1e-6
    ```
    """
    backbone = classifier.backbone
    lstms = [(_fusable_lstm(), lstm) for lstm in backbone.lstm_layers]
    folded = []
    for batch_norm, dense in zip(classifier.head.batch_norms, classifier.head.denses):
        gamma, beta, mean, variance = (
            np.asarray(keras.ops.convert_to_numpy(v), "float64")
            for v in (batch_norm.gamma, batch_norm.beta, batch_norm.moving_mean, batch_norm.moving_variance)
        )
        scale = gamma / np.sqrt(variance + batch_norm.epsilon)
        kernel = np.asarray(keras.ops.convert_to_numpy(dense.kernel), "float64")
        folded.append(
            ((scale[:, None] * kernel).astype("float32"), ((beta - mean * scale) @ kernel).astype("float32"), dense.activation)
        )
    bptt, max_len = classifier.pooling_mask.bptt, classifier.pooling_mask.max_len

    def forward(token_ids):
        x = tf.cast(backbone.embedding_dropout_layer(token_ids, training=False), tf.float32)
        for function, lstm in lstms:
            zeros = tf.zeros([1, lstm.units])
            weights = [tf.cast(w, tf.float32) for w in (lstm.cell.kernel, lstm.cell.recurrent_kernel, lstm.cell.bias)]
            x = function(x, zeros, zeros, *weights)[1]
        # BPT3C pools the chunks of `bptt` tokens that start within the last
        # `max_len` tokens: from the first multiple of bptt >= length - max_len.
        length = tf.shape(token_ids)[1]
        start = 0 if max_len is None else tf.maximum(0, -((max_len - length) // bptt) * bptt)
        pooled_steps = x[:, start:]
        pooled = tf.concat(
            [pooled_steps[:, -1], tf.reduce_max(pooled_steps, axis=1), tf.reduce_mean(pooled_steps, axis=1)], axis=-1
        )
        # An empty text (one padding step) pools zeros, as the masked model does.
        x = tf.where(tf.reduce_any(token_ids != backbone.padding_id), pooled, tf.zeros_like(pooled))
        for kernel, bias, activation in folded:
            x = activation(tf.matmul(x, kernel) + bias)
        return x if classifier.output_range is None else classifier.output_range(x)

    return forward


def _fusable_lstm():
    """An LSTM function the TFLite converter replaces by `UNIDIRECTIONAL_SEQUENCE_LSTM`.

    The converter recognizes Keras 2's `standard_lstm`: a function with the
    attribute `api_implements="lstm_<unique id>"`, arguments `(inputs,
    init_h, init_c, kernel, recurrent_kernel, bias)` with static state and
    weight shapes, and five outputs of which only the sequence is used.
    Gates are in Keras order (input, forget, cell, output).
    """

    def standard_lstm(inputs, init_h, init_c, kernel, recurrent_kernel, bias):
        def step(state, x):
            h, c = state
            i, f, g, o = tf.split(tf.matmul(x, kernel) + tf.matmul(h, recurrent_kernel) + bias, 4, axis=1)
            c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
            return tf.sigmoid(o) * tf.tanh(c), c

        hs, cs = tf.scan(step, tf.transpose(inputs, [1, 0, 2]), initializer=(init_h, init_c))
        return hs[-1], tf.transpose(hs, [1, 0, 2]), hs[-1], cs[-1], tf.constant(1.0, name="runtime")

    attributes = {
        "api_implements": f"lstm_{uuid.uuid4()}",
        "api_preferred_device": "CPU",
        "time_major": False,
        "go_backwards": False,
    }
    return tf.function(standard_lstm, autograph=False, experimental_attributes=attributes)


def _quantize_with_measured_ranges(calibrated, representative, text_input):
    """Full-integer quantization of a calibrated float model, with its ranges measured again.

    TFLite's calibrator records ranges that change from one conversion to
    the next for tensors of dynamic length and for the fused LSTMs, whose
    state it does not reset between texts: one classifier's int8 file
    agreed with the float model on 82% to 99% of texts from run to run.
    Here every text runs through the float model on LiteRT as
    `TFLiteClassifier` runs it (LSTM state reset) and each range becomes
    the min/max of the tensor's values. Ops whose int8 kernels keep one
    scale (the pooling's slices, max and concatenation) get the union of
    their tensors' ranges, which otherwise the converter may narrow to the
    max-over-time's range and clip the LSTM's negative outputs. Each LSTM's
    hidden-state intermediate takes its output's range; the gate
    intermediates keep the calibrator's.
    """
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.python.convert import mlir_quantize
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(calibrated))
    index = next(s.subgraphIndex for s in model.signatureDefs if s.signatureKey == b"serving_default")
    graph = model.subgraphs[index]
    ranges = {
        i: [np.inf, -np.inf]
        for i, tensor in enumerate(graph.tensors)
        if tensor.quantization is not None
        and tensor.quantization.min is not None
        and not tensor.name.startswith(b"intermediate")
    }
    with warnings.catch_warnings():  # "intended for debugging": reading every tensor is the point here
        warnings.simplefilter("ignore", UserWarning)
        interpreter = _interpreter(calibrated, text_input, experimental_preserve_all_tensors=True)
    run = interpreter.get_signature_runner("serving_default")
    for _, inputs in representative():
        interpreter.reset_all_variables()
        run(**inputs)
        for i, bounds in ranges.items():
            values = interpreter.get_tensor(i, index)
            if values.size:
                bounds[0], bounds[1] = min(bounds[0], float(values.min())), max(bounds[1], float(values.max()))
    ranges = {i: bounds for i, bounds in ranges.items() if bounds[0] <= bounds[1]}
    same_scale = {getattr(schema.BuiltinOperator, name) for name in SAME_SCALE_OPS}
    changed = True
    while changed:
        changed = False
        for op in graph.operators:
            code = model.operatorCodes[op.opcodeIndex]
            if max(code.builtinCode, code.deprecatedBuiltinCode) not in same_scale:
                continue
            members = [i for i in [*op.inputs, *op.outputs] if i in ranges]
            if not members:
                continue
            union = [min(ranges[i][0] for i in members), max(ranges[i][1] for i in members)]
            for i in members:
                changed |= ranges[i] != union
                ranges[i] = list(union)
    for i, (low, high) in ranges.items():
        graph.tensors[i].quantization.min, graph.tensors[i].quantization.max = [low], [high]
    for op in graph.operators:
        if op.intermediates is not None and len(op.intermediates) == 5:  # an LSTM's 4 gates and hidden state
            output = graph.tensors[op.outputs[0]].quantization
            hidden = graph.tensors[op.intermediates[4]].quantization
            hidden.min, hidden.max = list(output.min), list(output.max)
    return mlir_quantize(bytes(flatbuffer_utils.convert_object_to_bytearray(model)))


def _device_ids(tokenizer, text):
    """Ids `(1, time)` for one text, with the ops that run in TFLite.

    The same ids as `tokenizer(text)` for valid UTF-8 (the Python runner
    replaces invalid bytes first, as the tokenizer's own transcoding does).
    """
    # One text: the ragged values are its ids (ragged slicing and padding
    # ops have no TFLite kernels).
    ids = tokenizer.tokenize_valid_utf8(text).flat_values[:MAX_TOKENS]
    if tokenizer.reverse:
        ids = tf.reverse(ids, axis=[0])
    # An empty token list still gets one (padding) step.
    ids = tf.pad(ids, [[0, tf.maximum(0, 1 - tf.size(ids))]], constant_values=PADDING_ID)
    return tf.reshape(ids, [1, -1])


def _representative_data(tokenizer, texts, text_input):
    def generate():
        for text in texts:
            if text_input:
                yield "serving_default", {"text": np.array([text.encode("utf-8")], dtype=object)}
            else:
                yield "serving_default", {"token_ids": text_to_ids(tokenizer, tf.constant([text])).numpy()}

    return generate


def _add_metadata(model, entries):
    """The flatbuffer `model` with named metadata buffers added."""
    from tensorflow.lite.tools import flatbuffer_utils
    from tensorflow.lite.python import schema_py_generated as schema

    model_object = flatbuffer_utils.convert_bytearray_to_object(bytearray(model))
    for name, data in entries.items():
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(data, np.uint8)
        model_object.buffers.append(buffer)
        entry = schema.MetadataT()
        entry.name = name
        entry.buffer = len(model_object.buffers) - 1
        model_object.metadata = (model_object.metadata or []) + [entry]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model_object))


def _interpreter(content, text_input, **options):
    """A LiteRT interpreter for a model (with tensorflow-text's ops if it takes text), allocated.

    Allocated up front so that the fused LSTMs' state tensors exist for
    `reset_all_variables()`.
    """
    from ai_edge_litert.interpreter import InterpreterWithCustomOps

    interpreter = InterpreterWithCustomOps(
        model_content=content, custom_op_registerers=_text_op_registerers() if text_input else [], **options
    )
    interpreter.allocate_tensors()
    return interpreter


def _text_op_registerers():
    import tensorflow_text

    return list(tensorflow_text.tflite_registrar.SELECT_TFTEXT_OPS)


def _version():
    from ulmfit_tf import __version__

    return __version__
