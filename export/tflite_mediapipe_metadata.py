"""The metadata and packed files of the MediaPipe TFLite file (`export_tflite(..., target="mediapipe")`).

MediaPipe's `TextClassifier` and the Task Library's `BertNLClassifier`
read the file's `TFLITE_METADATA` (schema `metadata_schema.fbs`): the
tokenizer process unit and its SentencePiece model, the input tensors'
names and the labels file, both files packed as a zip after the
flatbuffer. Written here with the metadata schema directly (no
tflite-support at export time).
"""

import io
import zipfile

import flatbuffers
import numpy as np

from ulmfit_tf.export.tflite_full_integer import with_flatbuffer_metadata

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
        sequence_length: Integer, the positions read (for the inputs' descriptions).
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
        _tensor(builder, "ids", f"Piece ids: [CLS], the text's pieces, [SEP] (the first {sequence_length} are read)."),
        _tensor(builder, "segment_ids", "0 on the text's positions; other positions are not read."),
        _tensor(builder, "mask", "1 on [CLS], the pieces and [SEP], 0 on any padding after them."),
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
