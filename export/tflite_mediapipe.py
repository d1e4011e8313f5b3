"""The TFLite file MediaPipe Tasks' `TextClassifier` runs as it is (`export_tflite(..., target="mediapipe")`).

MediaPipe's text classifier (Android, iOS, web and Python share one C++
core) runs a model that has one subgraph and only builtin ops, whose
`TFLITE_METADATA` names a tokenizer: with a SentencePiece process unit it
lowercases the text, tokenizes it, writes `[CLS] pieces [SEP]` into three
int32 `[1, N]` inputs (`ids`, `segment_ids`, `mask`, found by their
metadata names; the Task Library's `BertNLClassifier` reads them by
position in this order) and reads one float32 output with a labels file.

So this file holds the classifier unrolled over `N` positions (no `WHILE`
loop), its metadata written with the metadata schema directly (no
tflite-support at export time), and the SentencePiece model and
`labels.txt` appended as the zip archive both clients read.
"""

import io
import tempfile
import zipfile

import flatbuffers
import keras
import numpy as np
import tensorflow as tf

from ulmfit_tf.export.exportable import exported_label_names
from ulmfit_tf.export.tflite_full_integer import with_flatbuffer_metadata
from ulmfit_tf.export.tflite_full_integer import with_signature_tensor_names
from ulmfit_tf.export.tflite_metadata import write_metadata
from ulmfit_tf.text.sentencepiece_tokenizer import SentencePieceTokenizer
from ulmfit_tf.text.vocabulary import BOS_ID
from ulmfit_tf.text.vocabulary import EOS_ID
from ulmfit_tf.thresholds import DEFAULT_THRESHOLD

# Positions of the file's inputs, `[CLS]` and `[SEP]` included: MediaPipe
# keeps a text's first `SEQUENCE_LENGTH - 2` pieces. Rotten Tomatoes'
# reviews fit (see the README's table); a longer choice costs time on every
# text, as every position is computed.
SEQUENCE_LENGTH = 64
INPUTS = ("ids", "segment_ids", "mask")
MEDIAPIPE_QUANTIZATIONS = ("none", "float16", "dynamic_int8")
OUTPUT = "probability"
LABELS_FILE = "labels.txt"
TOKENIZER_FILE = "sentencepiece.model"
# The metadata schema version whose features the file uses (SentencePiece
# tokenizer options and subgraph input process units: 1.1.0).
MIN_PARSER_VERSION = "1.1.0"
# The metadata schema's `AssociatedFileType.TENSOR_AXIS_LABELS`,
# `ProcessUnitOptions.SentencePieceTokenizerOptions` and
# `.ScoreThresholdingOptions`, and `ContentProperties.FeatureProperties`.
_AXIS_LABELS, _SENTENCEPIECE_OPTIONS, _SCORE_THRESHOLDING_OPTIONS, _FEATURE_PROPERTIES = 2, 5, 3, 1
# `ModelMetadata`'s string fields a user may set, and their slots.
INFO_SLOTS = {"name": 0, "description": 1, "version": 2, "author": 4, "license": 5}


def mediapipe_model(classifier, quantization="none", sequence_length=SEQUENCE_LENGTH, model_info=None, metadata=None):
    """The bytes of the `.tflite` file MediaPipe's `TextClassifier` runs as it is.

    Args:
        classifier: A `ULMFiTTextClassifier` with a `SentencePieceTokenizer`
            (single- or multi-label).
        quantization: `"none"`, `"float16"` or `"dynamic_int8"`.
        sequence_length: Integer, the inputs' positions (`[CLS]` and
            `[SEP]` included).
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
            "'int8' file's fused LSTMs keep their state from one text to the next in MediaPipe, which never "
            f"resets it. Received: quantization={quantization!r}"
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


def unrolled_network(classifier, sequence_length=SEQUENCE_LENGTH):
    """The classifier's inference on MediaPipe's BERT inputs, unrolled over `sequence_length` positions.

    MediaPipe writes `[CLS] pieces [SEP]` and zeros after them, with
    `mask` 1 on those positions. The text the Keras model reads is
    rebuilt from them: `xxbos` in place of `[CLS]` (or `[CLS]` dropped for
    a tokenizer without `add_bos`), `[SEP]` read as `xxeos` for one with
    `add_eos` and left out otherwise, the pieces reversed for a backward
    tokenizer. Each LSTM runs over all positions (an LSTM's outputs depend
    only on earlier ones, so those after the text change nothing that is
    read) and concat pooling reads the text's positions only. Positions
    whose `segment_ids` is not 0 (a second segment) are not read.

    Args:
        classifier: A `ULMFiTTextClassifier` with a `SentencePieceTokenizer`.
        sequence_length: Integer, the positions of the inputs.

    Returns:
        A function from int32 `ids`, `segment_ids`, `mask` `(1,
        sequence_length)` to the model's outputs `(1, num_classes)`.

    Example:

    ```python
    forward = unrolled_network(classifier, 8)
    ids = tf.constant([[0, 31, 7, 268, 0, 0, 0, 0]])  # [CLS] pieces [SEP] padding
    mask = tf.constant([[1, 1, 1, 1, 1, 0, 0, 0]])
    logits = forward(ids, tf.zeros_like(ids), mask)  # == classifier([[2, 31, 7, 268]])
    ```
    """
    backbone = classifier.backbone
    tokenizer = classifier.preprocessor.tokenizer
    layers = [_lstm_weights(lstm) for lstm in backbone.lstm_layers]
    positions = tf.range(sequence_length)

    def text_ids(ids, segment_ids, mask):
        marked = tf.reduce_sum(tf.cast(tf.logical_and(mask[0] != 0, segment_ids[0] == 0), tf.int32))
        ids = tf.where(positions == 0, BOS_ID, ids[0])
        if tokenizer.add_eos:
            ids = tf.where(positions == marked - 1, EOS_ID, ids)
        start = 0 if tokenizer.add_bos else 1
        length = tf.maximum(marked - 2 + int(tokenizer.add_bos) + int(tokenizer.add_eos), 0)
        index = tf.minimum(positions, sequence_length - 1 - start)
        if tokenizer.reverse:
            index = tf.where(positions < length, length - 1 - positions, index)
        return tf.gather(ids, index + start) if start or tokenizer.reverse else ids, length

    def forward(ids, segment_ids, mask):
        ids, length = text_ids(ids, segment_ids, mask)
        x = tf.cast(backbone.embedding_dropout_layer(ids[None], training=False)[0], tf.float32)
        for weights in layers:
            x = _lstm(x, *weights)
        first = classifier.pooling_mask.first_pooled_position(length)
        pooled = tf.cast(tf.logical_and(positions >= first, positions < length), tf.float32)[:, None]
        count = tf.reduce_sum(pooled)
        last = tf.reduce_sum(x * tf.one_hot(length - 1, sequence_length)[:, None], 0, keepdims=True)
        maximum = tf.reduce_max(tf.where(pooled > 0, x, -float("inf")), 0, keepdims=True)
        mean = tf.reduce_sum(x * pooled, 0, keepdims=True) / tf.maximum(count, 1.0)
        features = tf.concat([last, maximum, mean], axis=-1)
        x = classifier.head(tf.where(count > 0, features, tf.zeros_like(features)), training=False)
        return x if classifier.output_range is None else classifier.output_range(x)

    return forward


def _lstm_weights(lstm):
    """An LSTM's kernel, recurrent kernel and bias with the gates reordered (input, forget, output, cell)."""
    units = lstm.units
    order = np.concatenate([np.arange(units), np.arange(units, 2 * units), np.arange(3 * units, 4 * units),
                            np.arange(2 * units, 3 * units)])
    return [
        tf.constant(np.asarray(keras.ops.convert_to_numpy(w), "float32")[..., order])
        for w in (lstm.cell.kernel, lstm.cell.recurrent_kernel, lstm.cell.bias)
    ]


def _lstm(x, kernel, recurrent_kernel, bias):
    """A Keras LSTM over the rows of `x` `(time, features)`, unrolled: its outputs `(time, units)`.

    One matrix product projects every position; each step adds `h @
    recurrent_kernel` and applies one sigmoid to three gates and one tanh
    to the fourth (the gates are stored in that order).
    """
    units = recurrent_kernel.shape[0]
    projected = tf.split(tf.matmul(x, kernel) + bias, x.shape[0], axis=0)
    h = c = None
    outputs = []
    for row in projected:
        gates = row if h is None else row + tf.matmul(h, recurrent_kernel)
        sigmoid_gates, cell = tf.split(gates, [3 * units, units], axis=1)
        i, f, o = tf.split(tf.sigmoid(sigmoid_gates), 3, axis=1)
        c = i * tf.tanh(cell) if c is None else f * c + i * tf.tanh(cell)
        h = o * tf.tanh(c)
        outputs.append(h)
    return tf.concat(outputs, axis=0)


def convert(classifier, quantization, sequence_length=SEQUENCE_LENGTH):
    """The unrolled classifier as TFLite flatbuffer bytes: inputs `INPUTS`, output `OUTPUT`, no metadata yet."""
    forward = unrolled_network(classifier, sequence_length)
    archive = keras.export.ExportArchive()
    archive.track(keras.Model(classifier.inputs, classifier.outputs))
    spec = [tf.TensorSpec([1, sequence_length], tf.int32, name=name) for name in INPUTS]

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
        return converter.convert()


def with_mediapipe_metadata(model, tokenizer_proto, label_names, info, sequence_length, score_threshold=None):
    """The TFLite flatbuffer `model` with MediaPipe's `TFLITE_METADATA` and its files appended.

    The metadata (schema `metadata_schema.fbs`, identifier `M001`) names
    the model (`info`: `name`, `description`, `version`, `author`,
    `license`), describes the inputs `ids`, `segment_ids`, `mask` with a
    SentencePiece tokenizer process unit reading `sentencepiece.model`, and
    the output `probability` with `labels.txt` as its
    `TENSOR_AXIS_LABELS` (and, with `score_threshold`, a
    `ScoreThresholdingOptions` process unit: MediaPipe returns only the
    categories scoring at least its `global_score_threshold`, unless the
    app sets `score_threshold`). Both files are then appended to the flatbuffer
    as a zip archive (stored, not compressed), as tflite-support's
    `MetadataPopulator` does: the file stays a valid TFLite model. Entries
    carry a fixed date, so that one classifier always gives the same bytes.

    Args:
        model: Bytes of the TFLite flatbuffer.
        tokenizer_proto: Bytes of the SentencePiece model.
        label_names: List of class names, in output order.
        info: Dict of the five strings above (empty ones are left out).
        sequence_length: Integer, the inputs' positions (for their descriptions).
        score_threshold: Optional float, the metadata's global score threshold.

    Returns:
        The bytes of the `.tflite` file.
    """
    builder = flatbuffers.Builder(1024)
    tokenizer_file = _associated_file(builder, TOKENIZER_FILE, "The SentencePiece model of the tokenizer.", 0)
    labels_file = _associated_file(builder, LABELS_FILE, "The class names, one a line, in output order.", _AXIS_LABELS)
    options = _table(builder, 2, {0: _vector(builder, [tokenizer_file])})
    tokenizer = _table(builder, 2, {1: options}, {0: _SENTENCEPIECE_OPTIONS})
    inputs = [
        _tensor(builder, "ids", f"Piece ids: [CLS], the text's first {sequence_length - 2} pieces, [SEP], zeros."),
        _tensor(builder, "segment_ids", "0 on the text's positions; other positions are not read."),
        _tensor(builder, "mask", "1 on [CLS], the pieces and [SEP], 0 after them."),
    ]
    units = [] if score_threshold is None else [_score_thresholding(builder, score_threshold)]
    output = _tensor(builder, OUTPUT, "Probability of each class.", stats=(1.0, 0.0), files=[labels_file], units=units)
    subgraph = _table(builder, 10, {
        0: builder.CreateString("text_classifier"),
        2: _vector(builder, inputs),
        3: _vector(builder, [output]),
        5: _vector(builder, [tokenizer]),
    })
    fields = {slot: builder.CreateString(info[key]) for key, slot in INFO_SLOTS.items() if info.get(key)}
    fields[7] = builder.CreateString(MIN_PARSER_VERSION)
    fields[3] = _vector(builder, [subgraph])
    root = _table(builder, 8, fields)
    builder.Finish(root, file_identifier=b"M001")
    model = with_flatbuffer_metadata(model, {"TFLITE_METADATA": bytes(builder.Output())})
    files = {TOKENIZER_FILE: tokenizer_proto, LABELS_FILE: "".join(f"{name}\n" for name in label_names).encode("utf-8")}
    content = _with_zip(model, files, b"")
    # The zip's comment pads the file to whole 4-byte words, as a finished flatbuffer is.
    return _with_zip(model, files, b" " * (-len(content) % 4))


def _with_zip(model, files, comment):
    """`model` followed by a zip of `files` (`{name: bytes}`, stored: MediaPipe reads no compressed entry)."""
    archive = io.BytesIO(model)
    archive.seek(0, io.SEEK_END)
    with zipfile.ZipFile(archive, "a") as zipped:
        for name, data in files.items():
            zipped.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
        zipped.comment = comment
    return archive.getvalue()


def _table(builder, size, offsets, small=None):
    """A flatbuffer table of `size` slots: `offsets` `{slot: offset}`, `small` `{slot: uint8}` (built before)."""
    builder.StartObject(size)
    for slot, offset in offsets.items():
        builder.PrependUOffsetTRelativeSlot(slot, offset, 0)
    for slot, value in (small or {}).items():
        builder.PrependUint8Slot(slot, value, 0)
    return builder.EndObject()


def _vector(builder, offsets):
    builder.StartVector(4, len(offsets), 4)
    for offset in reversed(offsets):
        builder.PrependUOffsetTRelative(offset)
    return builder.EndVector()


def _associated_file(builder, name, description, file_type):
    strings = {0: builder.CreateString(name), 1: builder.CreateString(description)}
    return _table(builder, 5, strings, {2: file_type} if file_type else None)


def _score_thresholding(builder, value):
    """A `ProcessUnit` of `ScoreThresholdingOptions` (its one field, `global_score_threshold`, a float)."""
    builder.StartObject(1)
    builder.PrependFloat32Slot(0, value, 0.0)
    return _table(builder, 2, {1: builder.EndObject()}, {0: _SCORE_THRESHOLDING_OPTIONS})


def _tensor(builder, name, description, stats=None, files=(), units=()):
    """A `TensorMetadata`: `FeatureProperties` content, optional process units, `(max, min)` stats, associated files."""
    feature = _table(builder, 0, {})
    content = _table(builder, 3, {1: feature}, {0: _FEATURE_PROPERTIES})
    fields = {0: builder.CreateString(name), 1: builder.CreateString(description), 3: content}
    if units:
        fields[4] = _vector(builder, list(units))
    if stats is not None:
        fields[5] = _table(builder, 2, {slot: builder.CreateNumpyVector(np.array([value], "float32"))
                                        for slot, value in enumerate(stats)})
    if files:
        fields[6] = _vector(builder, list(files))
    return _table(builder, 7, fields)
