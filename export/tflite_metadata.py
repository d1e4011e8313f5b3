"""What a `.tflite` file from `export_tflite` says about itself, written into and read from the flatbuffer.

The file's `metadata` list holds one entry, `ulmfit_tf`: JSON with the
format version, the input (`"text"` or `"token_ids"`), the output name, the
problem type, the label names, the multi-label thresholds (`null`: 0.5 for
every label), the quantization, the preprocessor's `max_tokens` and
`padding_id`, and the serialized tokenizer.
"""

import json

from ulmfit_tf.bounded_reading import parse_json
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.export.tflite_full_integer import flatbuffer_metadata
from ulmfit_tf.export.tflite_full_integer import with_flatbuffer_metadata

FORMAT = 1
# Name of the file's metadata entry (in the flatbuffer's `metadata` list).
METADATA = "ulmfit_tf"


def write_metadata(model, metadata):
    """The TFLite flatbuffer `model` (bytes) carrying `metadata` (a JSON-able dict) as its `ulmfit_tf` entry."""
    return with_flatbuffer_metadata(model, {METADATA: json.dumps(dict(metadata, format=FORMAT)).encode("utf-8")})


def load_metadata(content, name="the model"):
    """The `ulmfit_tf` metadata of a TFLite file written by `export_tflite`, as a dict.

    Args:
        content: Bytes of the file.
        name: String naming the file in error messages.

    Raises:
        UserInputError: not a TFLite file, not one ulmfit-tf wrote, or
            written in another format version.
    """
    metadata = parse_json(read_metadata(content, name)[METADATA], name, "export it again")
    if metadata.get("format") != FORMAT:
        raise UserInputError(
            f"{name!r} was written by ulmfit-tf {metadata.get('ulmfit_tf', '?')} in TFLite format "
            f"{metadata.get('format')}; this version reads format {FORMAT}. Export it again."
        )
    return metadata


def read_metadata(content, name="the model"):
    """The `{name: bytes}` metadata entries of a TFLite flatbuffer written by `export_tflite`."""
    if len(content) % 4:  # a finished flatbuffer is padded to whole 4-byte words
        raise UserInputError(f"{name!r} is truncated ({len(content)} bytes, not a whole number of 4-byte words); export it again.")
    try:
        entries = flatbuffer_metadata(content)
    except ValueError:
        raise UserInputError(f"{name!r} is not a TFLite model file.") from None
    if METADATA not in entries:
        raise UserInputError(
            f"{name!r} is a TFLite model, but not one written by `ulmfit_tf.export.export_tflite` "
            "(it has no ulmfit_tf metadata)."
        )
    return entries

