"""The TFLite file MediaPipe Tasks' `TextClassifier` runs as it is (`export_tflite(..., target="mediapipe")`).

MediaPipe's text classifier (Android, iOS, web and Python share one C++
core) runs a model that has one subgraph and only builtin ops, whose
`TFLITE_METADATA` names a tokenizer: with a SentencePiece process unit it
lowercases the text, tokenizes it, writes `[CLS] pieces [SEP]` into three
int32 inputs (`ids`, `segment_ids`, `mask`, found by their metadata names;
the Task Library's `BertNLClassifier` reads them by position in this
order) and reads one float32 output with a labels file. The inputs are
`[1, None]`: both clients then write exactly the text's positions (no
padding, no cut), and the file reads the first `sequence_length`.

So this file holds the classifier with each LSTM fused into one
`UNIDIRECTIONAL_SEQUENCE_LSTM` op that forgets the last text's state on
a first, reset step (`resetting_weights`: MediaPipe never resets the op's
state), its metadata (`tflite_mediapipe_metadata`), and the SentencePiece
model and `labels.txt` appended as the zip archive both clients read.
"""

import tempfile

import keras
import numpy as np
import tensorflow as tf

from ulmfit_tf.export.exportable import exported_label_names
from ulmfit_tf.export.tflite_full_integer import fusable_lstm
from ulmfit_tf.export.tflite_full_integer import with_signature_tensor_names
from ulmfit_tf.export.tflite_full_integer import without_lstm_cell_clip
from ulmfit_tf.export.tflite_full_integer import without_ops_writing_variables
from ulmfit_tf.export.tflite_mediapipe_metadata import INFO_SLOTS
from ulmfit_tf.export.tflite_mediapipe_metadata import OUTPUT
from ulmfit_tf.export.tflite_mediapipe_metadata import with_mediapipe_metadata
from ulmfit_tf.export.tflite_metadata import write_metadata
from ulmfit_tf.text.sentencepiece_tokenizer import SentencePieceTokenizer
from ulmfit_tf.text.vocabulary import BOS_ID
from ulmfit_tf.text.vocabulary import EOS_ID
from ulmfit_tf.thresholds import DEFAULT_THRESHOLD

# The positions the file reads, `[CLS]` and `[SEP]` included: a text's
# first `SEQUENCE_LENGTH - 2` pieces. Rotten Tomatoes' reviews fit (see the
# README's table); each text costs time in its own length, up to this.
SEQUENCE_LENGTH = 64
INPUTS = ("ids", "segment_ids", "mask")
MEDIAPIPE_QUANTIZATIONS = ("none", "float16", "dynamic_int8")


def mediapipe_model(classifier, quantization="none", sequence_length=SEQUENCE_LENGTH, model_info=None, metadata=None):
    """The bytes of the `.tflite` file MediaPipe's `TextClassifier` runs as it is.

    Args:
        classifier: A `ULMFiTTextClassifier` with a `SentencePieceTokenizer`
            (single- or multi-label).
        quantization: `"none"`, `"float16"` or `"dynamic_int8"`.
        sequence_length: Integer, the positions read (`[CLS]` and `[SEP]`
            included).
        model_info: Optional dict of `name`, `description`, `version`,
            `author`, `license` for the metadata (defaults: the
            classifier's name, a description of its classes and reading,
            `"1"`; no author or licence).
        metadata: Optional dict, ulmfit-tf's own metadata entry (see
            `tflite_metadata`).

    Returns:
        Bytes: the flatbuffer with its metadata, then the zip of
        `sentencepiece.model` and `labels.txt`.

    Example:

    ```python
    content = mediapipe_model(classifier, "dynamic_int8", model_info={"author": "Me", "license": "Apache-2.0"})
    ```
    """
    check_mediapipe_exportable(classifier, quantization, sequence_length, model_info)
    label_names = exported_label_names(classifier)
    description = (
        f"ULMFiT (AWD-LSTM) text classifier; classes: {', '.join(label_names)}. Reads a text's first "
        f"{sequence_length - 2} SentencePiece pieces."
    )
    score_threshold = None
    if classifier.problem_type == "multi_label":
        thresholds = classifier.thresholds or [DEFAULT_THRESHOLD] * len(label_names)
        # MediaPipe keeps one threshold for all categories: the lowest drops no label the classifier would choose.
        score_threshold = min(thresholds)
        description += " Multi-label; a label is chosen at or above its threshold: " + ", ".join(
            f"{name} {value:.4f}" for name, value in zip(label_names, thresholds)
        ) + "."
    info = {"name": classifier.name, "description": description, "version": "1", **(model_info or {})}
    model = with_signature_tensor_names(convert(classifier, quantization, sequence_length))
    if metadata is not None:
        model = write_metadata(model, metadata)
    return with_mediapipe_metadata(
        model, classifier.preprocessor.tokenizer.proto, label_names, info, sequence_length, score_threshold
    )


def check_mediapipe_exportable(classifier, quantization, sequence_length, model_info):
    """Refuses, before any conversion, what `mediapipe_model` cannot write (a `ValueError` naming the argument)."""
    if not isinstance(classifier.preprocessor.tokenizer, SentencePieceTokenizer):
        raise ValueError(
            "Argument `classifier` must use a `SentencePieceTokenizer` for `target='mediapipe'` (MediaPipe "
            "tokenizes with SentencePiece or WordPiece only). Received: a classifier with "
            f"tokenizer={type(classifier.preprocessor.tokenizer).__name__}"
        )
    if classifier.problem_type == "regression":
        raise ValueError(
            "Argument `classifier` must be a classifier for `target='mediapipe'` (MediaPipe's TextClassifier "
            "reads class scores). Received: a classifier with problem_type='regression'"
        )
    if quantization not in MEDIAPIPE_QUANTIZATIONS:
        raise ValueError(
            f"Argument `quantization` must be one of {MEDIAPIPE_QUANTIZATIONS} for `target='mediapipe'`: an "
            "'int8' file quantizes the LSTMs' inputs, whose range the reset step's large input would take "
            f"whole. Received: quantization={quantization!r}"
        )
    if not isinstance(sequence_length, int) or isinstance(sequence_length, bool) or sequence_length < 3:
        raise ValueError(
            "Argument `sequence_length` must be an integer >= 3 ([CLS], a piece, [SEP]). "
            f"Received: sequence_length={sequence_length!r}"
        )
    unknown = sorted(set(model_info or {}) - set(INFO_SLOTS))
    if unknown or not all(isinstance(v, str) for v in (model_info or {}).values()):
        raise ValueError(
            f"Argument `model_info` must map some of {tuple(INFO_SLOTS)} to strings. "
            f"Received: model_info={model_info!r}"
        )


def mediapipe_network(classifier, sequence_length=SEQUENCE_LENGTH):
    """The classifier's inference on MediaPipe's BERT inputs, over their first `sequence_length` positions.

    MediaPipe writes `[CLS] pieces [SEP]`, with `mask` 1 on those
    positions (and zeros after them, if padded). The text the Keras model
    reads is rebuilt from the first `sequence_length` positions, the last
    kept read as `[SEP]`: `xxbos` in place of `[CLS]` (or `[CLS]` dropped
    for a tokenizer without `add_bos`), `[SEP]` read as `xxeos` for one
    with `add_eos` and left out otherwise, the pieces reversed for a
    backward tokenizer. Each LSTM is one fused
    `UNIDIRECTIONAL_SEQUENCE_LSTM` op over these positions (an LSTM's
    outputs depend only on earlier ones, so padding after the text changes
    nothing that is read), after a first step that zeroes its state
    (`resetting_weights`); concat pooling reads the text's positions only.
    Positions whose `segment_ids` is not 0 (a second segment) are not read.

    Args:
        classifier: A `ULMFiTTextClassifier` with a `SentencePieceTokenizer`.
        sequence_length: Integer, the positions read.

    Returns:
        A function from int32 `ids`, `segment_ids`, `mask` `(1, positions)`
        to the model's outputs `(1, num_classes)`.

    Example:

    ```python
    forward = mediapipe_network(classifier, 8)
    ids = tf.constant([[0, 31, 7, 268, 0]])  # [CLS] pieces [SEP]
    logits = forward(ids, tf.zeros_like(ids), tf.ones_like(ids))  # == classifier([[2, 31, 7, 268]])
    ```
    """
    backbone = classifier.backbone
    tokenizer = classifier.preprocessor.tokenizer
    layers = [
        (fusable_lstm(), tf.zeros([1, lstm.units]), *resetting_weights(lstm, sequence_length, input_bound=float(i > 0)))
        for i, lstm in enumerate(backbone.lstm_layers)
    ]

    def text_ids(ids, segment_ids, mask, positions):
        steps = tf.shape(positions)[0]
        marked = tf.reduce_sum(tf.cast(tf.logical_and(mask[0] != 0, segment_ids[0] == 0), tf.int32))
        ids = tf.where(positions == 0, BOS_ID, ids[0])
        if tokenizer.add_eos:
            ids = tf.where(positions == marked - 1, EOS_ID, ids)
        start = 0 if tokenizer.add_bos else 1
        length = tf.maximum(marked - 2 + int(tokenizer.add_bos) + int(tokenizer.add_eos), 0)
        index = tf.minimum(positions, steps - 1 - start)
        if tokenizer.reverse:
            index = tf.where(positions < length, length - 1 - positions, index)
        return tf.gather(ids, index + start) if start or tokenizer.reverse else ids, length

    def forward(ids, segment_ids, mask):
        ids, segment_ids, mask = (tensor[:, :sequence_length] for tensor in (ids, segment_ids, mask))
        positions = tf.range(tf.shape(ids)[1])
        ids, length = text_ids(ids, segment_ids, mask, positions)
        x = tf.cast(backbone.embedding_dropout_layer(ids[None], training=False), tf.float32)
        x = tf.pad(x, [[0, 0], [1, 0], [0, 0]])  # the reset step reads zeros
        for function, zeros, reset, weights in layers:
            x = function(tf.concat([x, reset[:, : tf.shape(x)[1]]], axis=-1), zeros, zeros, *weights)[1]
        x = x[0, 1:]
        first = classifier.pooling_mask.first_pooled_position(length)
        pooled = tf.cast(tf.logical_and(positions >= first, positions < length), tf.float32)[:, None]
        count = tf.reduce_sum(pooled)
        last = tf.reduce_sum(x * tf.one_hot(length - 1, tf.shape(x)[0])[:, None], 0, keepdims=True)
        maximum = tf.reduce_max(tf.where(pooled > 0, x, -float("inf")), 0, keepdims=True)
        mean = tf.reduce_sum(x * pooled, 0, keepdims=True) / tf.maximum(count, 1.0)
        features = tf.concat([last, maximum, mean], axis=-1)
        x = classifier.head(tf.where(count > 0, features, tf.zeros_like(features)), training=False)
        return x if classifier.output_range is None else classifier.output_range(x)

    return forward


def resetting_weights(lstm, sequence_length, input_bound):
    """An LSTM's weights and the input feature with which its first step forgets the carried state.

    The fused `UNIDIRECTIONAL_SEQUENCE_LSTM` op keeps `(h, c)` in variable
    tensors between calls, and MediaPipe never resets them. So each LSTM
    reads one more input feature, 0 on the text's positions and `scale` on
    a first, reset step; its kernel row is minus the largest weight of the
    input and forget gates' blocks (0 for the others), so that their
    dynamic-range quantization (one scale per block) is unchanged. On the
    reset step both gates' pre-activations are then below -1000 whatever
    `h` (|h| < 1) and the step's other inputs (|x| <= `input_bound`): both
    gates are 0, so `c = 0 * c + 0 * g = 0` and `h = o * tanh(0) = 0`, and
    the text starts from the zero state as in Keras.

    Args:
        lstm: A Keras LSTM layer.
        sequence_length: Integer, the text's positions (the reset step
            comes before them).
        input_bound: Float, the largest |value| of the reset step's other
            inputs.

    Returns:
        `(reset, [kernel, recurrent_kernel, bias])`: the feature, float32
        `(1, sequence_length + 1, 1)`, and float32 weights in Keras' gate
        order, the kernel with the feature's row last.
    """
    kernel, recurrent_kernel, bias = (
        np.asarray(keras.ops.convert_to_numpy(w), "float64")
        for w in (lstm.cell.kernel, lstm.cell.recurrent_kernel, lstm.cell.bias)
    )
    units = lstm.units
    row = np.zeros(4 * units)
    for gate in (0, 1):  # input, forget
        block = slice(gate * units, (gate + 1) * units)
        row[block] = -max(np.abs(kernel[:, block]).max(), 1e-6)
    reach = np.abs(recurrent_kernel).sum(0) + input_bound * np.abs(kernel).sum(0) + np.abs(bias)
    scale = 2 * np.max((reach[: 2 * units] + 1000) / -row[: 2 * units])
    reset = np.zeros((1, sequence_length + 1, 1), "float32")
    reset[0, 0, 0] = scale
    weights = [np.concatenate([kernel, row[None]]), recurrent_kernel, bias]
    return tf.constant(reset), [tf.constant(w.astype("float32")) for w in weights]


def convert(classifier, quantization, sequence_length=SEQUENCE_LENGTH):
    """The classifier as TFLite flatbuffer bytes: inputs `INPUTS`, output `OUTPUT`, no metadata yet."""
    forward = mediapipe_network(classifier, sequence_length)
    archive = keras.export.ExportArchive()
    archive.track(keras.Model(classifier.inputs, classifier.outputs))
    spec = [tf.TensorSpec([1, None], tf.int32, name=name) for name in INPUTS]

    def predict(ids, segment_ids, mask):
        return {OUTPUT: tf.cast(classifier.probabilities(forward(ids, segment_ids, mask)), tf.float32)}

    archive.add_endpoint("serving_default", predict, spec)
    with tempfile.TemporaryDirectory() as saved_model:
        archive.write_out(saved_model, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model)
        if quantization != "none":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantization == "float16":
            converter.target_spec.supported_types = [tf.float16]
        return without_ops_writing_variables(without_lstm_cell_clip(converter.convert()))
