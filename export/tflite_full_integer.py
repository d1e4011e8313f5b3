"""The full-integer TFLite path, and the one home of TensorFlow Lite's private APIs.

Full-integer (`quantization="int8"`) files need a network arranged for
integer kernels (`integer_network`) and activation ranges measured on
LiteRT (`quantize_with_measured_ranges`). Both lean on TensorFlow Lite
internals, and so do the other TFLite modules here (custom text ops, the
flatbuffer schema); every such use is in this file, so that a TensorFlow
upgrade that changes them changes only this file:

- `converter.target_spec._experimental_custom_op_registerers` (text ops
  at conversion, `allow_text_ops`);
- `converter._experimental_calibrate_only` (`calibrate_only`);
- `tensorflow.lite.python.convert.mlir_quantize`;
- `tensorflow.lite.python.schema_py_generated` and
  `tensorflow.lite.tools.flatbuffer_utils` (reading and writing the
  flatbuffer: `flatbuffer_metadata`, `with_flatbuffer_metadata`,
  `with_signature_tensor_names`,
  `graph_ops`, `has_dynamic_numeric_tensors`);
- the `api_implements="lstm_<uuid>"` convention by which the converter
  fuses an LSTM into `UNIDIRECTIONAL_SEQUENCE_LSTM` (`fusable_lstm`), the
  cell clipping it sets there (`without_lstm_cell_clip`) and the ops it
  lets write the op's state (`without_ops_writing_variables`).
"""

import uuid

import keras
import numpy as np
import tensorflow as tf
from tensorflow.lite.python import schema_py_generated as schema
from tensorflow.lite.python.convert import mlir_quantize
from tensorflow.lite.tools import flatbuffer_utils

# Builtin ops whose int8 kernels give the output the input's scale.
SAME_SCALE_OPS = (
    "CONCATENATION", "REDUCE_MAX", "REDUCE_MIN", "STRIDED_SLICE", "SLICE", "SELECT", "SELECT_V2", "RESHAPE",
    "SQUEEZE", "EXPAND_DIMS", "TRANSPOSE", "PACK", "MAXIMUM", "MINIMUM",
)


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
    - concat pooling reads the pooled chunks with one slice, from the
      classifier's `LastChunksMask.first_pooled_position`, so that the last
      LSTM's output has a single consumer (otherwise the converter cannot
      attach its calibrated range);
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
    lstms = [(fusable_lstm(), lstm) for lstm in backbone.lstm_layers]
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

    def forward(token_ids):
        x = tf.cast(backbone.embedding_dropout_layer(token_ids, training=False), tf.float32)
        for function, lstm in lstms:
            zeros = tf.zeros([1, lstm.units])
            weights = [tf.cast(w, tf.float32) for w in (lstm.cell.kernel, lstm.cell.recurrent_kernel, lstm.cell.bias)]
            x = function(x, zeros, zeros, *weights)[1]
        pooled_steps = x[:, classifier.pooling_mask.first_pooled_position(tf.shape(token_ids)[1]) :]
        pooled = tf.concat(
            [pooled_steps[:, -1], tf.reduce_max(pooled_steps, axis=1), tf.reduce_mean(pooled_steps, axis=1)], axis=-1
        )
        # An empty text (one padding step) pools zeros, as the masked model does.
        x = tf.where(tf.reduce_any(token_ids != backbone.padding_id), pooled, tf.zeros_like(pooled))
        for kernel, bias, activation in folded:
            x = activation(tf.matmul(x, kernel) + bias)
        return x if classifier.output_range is None else classifier.output_range(x)

    return forward


def fusable_lstm():
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


def without_lstm_cell_clip(content):
    """The TFLite flatbuffer `content` with no cell clipping in its `UNIDIRECTIONAL_SEQUENCE_LSTM` ops.

    The converter fuses an LSTM with `cell_clip=10`, which the integer
    kernel needs (its cell state is 16-bit fixed point) and Keras does not
    do: a float or dynamic-range kernel then clips every |c| > 10.

    Example:

    ```python
    content = without_lstm_cell_clip(converter.convert())
    ```
    """
    model = _model_object(content)
    for graph in model.subgraphs:
        for op in graph.operators:
            if _builtin_code(model, op) == schema.BuiltinOperator.UNIDIRECTIONAL_SEQUENCE_LSTM:
                op.builtinOptions.cellClip = 0.0
    return _model_bytes(model)


def without_ops_writing_variables(content):
    """The TFLite flatbuffer `content` without the ops whose output is a variable tensor.

    With `float16` weights the converter stores a fused LSTM's zero
    initial state in float16 and a `DEQUANTIZE` op writes it into the
    op's state, a variable tensor; the model verifier of MediaPipe and of
    the Task Library refuses that ("Output tensor ... is a variable"). A
    variable tensor starts at zero without it.
    """
    model = _model_object(content)
    for graph in model.subgraphs:
        graph.operators = [op for op in graph.operators if not any(graph.tensors[i].isVariable for i in op.outputs)]
    return _model_bytes(model)


def quantize_with_measured_ranges(calibrated, representative, interpreter):
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

    Args:
        calibrated: Bytes of the float model a converter wrote with
            `calibrate_only` set.
        representative: The converter's representative dataset: a function
            yielding `(signature, inputs)` pairs.
        interpreter: A LiteRT interpreter of `calibrated`, allocated, made
            with `experimental_preserve_all_tensors=True`.

    Returns:
        The bytes of the full-integer model.
    """
    model = _model_object(calibrated)
    index = next(s.subgraphIndex for s in model.signatureDefs if s.signatureKey == b"serving_default")
    graph = model.subgraphs[index]
    ranges = {
        i: [np.inf, -np.inf]
        for i, tensor in enumerate(graph.tensors)
        if tensor.quantization is not None
        and tensor.quantization.min is not None
        and not tensor.name.startswith(b"intermediate")
    }
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
            if _builtin_code(model, op) not in same_scale:
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
    return mlir_quantize(_model_bytes(model))


def allow_text_ops(converter, registerers):
    """Lets `converter` keep tensorflow-text's ops (FastSentencepiece) as the custom ops `registerers` register."""
    converter.allow_custom_ops = True
    converter.target_spec._experimental_custom_op_registerers = registerers


def calibrate_only(converter):
    """Makes `converter.convert()` return the calibrated float model, for `quantize_with_measured_ranges`."""
    converter._experimental_calibrate_only = True


def flatbuffer_metadata(content):
    """The `{name: bytes}` metadata entries of a TFLite flatbuffer.

    Raises:
        ValueError: `content` is not a TFLite flatbuffer.
    """
    if len(content) < 8 or content[4:8] != b"TFL3":
        raise ValueError("Not a TFLite flatbuffer.")
    try:
        model = schema.Model.GetRootAs(content, 0)
        return {
            model.Metadata(i).Name().decode("utf-8"): model.Buffers(model.Metadata(i).Buffer()).DataAsNumpy().tobytes()
            for i in range(model.MetadataLength())
        }
    except Exception as error:
        raise ValueError(f"Not a TFLite flatbuffer ({error}).") from None


def has_dynamic_numeric_tensors(content):
    """Whether a TFLite flatbuffer has a float or quantized tensor whose shape is not fixed.

    Such a tensor (`-1` in its shape signature) changes shape from one
    invoke to the next, which LiteRT's XNNPACK delegate does not handle
    reliably (see `litert_interpreter`).

    Args:
        content: Bytes of a `.tflite` file.
    """
    numeric = {getattr(schema.TensorType, name) for name in ("FLOAT32", "FLOAT16", "INT8", "UINT8", "INT16")}
    model = schema.Model.GetRootAs(content, 0)
    for graph in (model.Subgraphs(i) for i in range(model.SubgraphsLength())):
        for tensor in (graph.Tensors(j) for j in range(graph.TensorsLength())):
            if tensor.Type() in numeric and tensor.ShapeSignatureLength() and (tensor.ShapeSignatureAsNumpy() < 0).any():
                return True
    return False


def with_flatbuffer_metadata(content, entries):
    """The TFLite flatbuffer `content` with named metadata buffers added (`{name: bytes}`)."""
    model = _model_object(content)
    for name, data in entries.items():
        buffer = schema.BufferT()
        buffer.data = np.frombuffer(data, np.uint8)
        model.buffers.append(buffer)
        entry = schema.MetadataT()
        entry.name = name
        entry.buffer = len(model.buffers) - 1
        model.metadata = (model.metadata or []) + [entry]
    return _model_bytes(model)


def with_signature_tensor_names(content):
    """The TFLite flatbuffer `content` with each signature's input and output tensors named by their keys.

    The converter names them `serving_default_ids:0`,
    `StatefulPartitionedCall:0`, ...; clients that find tensors by name
    (metadata writers, MediaPipe's tools) then see `ids`, `probability`.
    """
    model = _model_object(content)
    for signature in model.signatureDefs:
        tensors = model.subgraphs[signature.subgraphIndex].tensors
        for entry in [*signature.inputs, *signature.outputs]:
            tensors[entry.tensorIndex].name = entry.name
    return _model_bytes(model)


def graph_ops(content, signature="serving_default"):
    """The operators of one signature's graph in a TFLite flatbuffer, in execution order.

    Args:
        content: Bytes of a `.tflite` file.
        signature: String, the signature whose subgraph is read.

    Returns:
        A list of `(op_name, input_types, output_types)`: the builtin op's
        name (`"FULLY_CONNECTED"`; a custom op's own name) and the type
        names of its input and output tensors (`"INT8"`, `"FLOAT32"`, ...).
    """
    model = _model_object(content)
    index = next(s.subgraphIndex for s in model.signatureDefs if s.signatureKey == signature.encode("utf-8"))
    graph = model.subgraphs[index]
    op_names = {code: name for name, code in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
    type_names = {code: name for name, code in vars(schema.TensorType).items() if not name.startswith("_")}

    def types(tensors):
        return tuple(type_names[graph.tensors[i].type] for i in ([] if tensors is None else tensors) if i >= 0)

    ops = []
    for op in graph.operators:
        code = model.operatorCodes[op.opcodeIndex]
        name = code.customCode.decode("utf-8") if code.customCode else op_names[_builtin_code(model, op)]
        ops.append((name, types(op.inputs), types(op.outputs)))
    return ops


def _builtin_code(model, op):
    code = model.operatorCodes[op.opcodeIndex]
    return max(code.builtinCode, code.deprecatedBuiltinCode)


def _model_object(content):
    return flatbuffer_utils.convert_bytearray_to_object(bytearray(content))


def _model_bytes(model):
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))
