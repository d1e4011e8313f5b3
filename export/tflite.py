"""TFLite for on-device classification: the conversion.

The runner is in `tflite_runner`, the file's metadata in `tflite_metadata`,
the full-integer path (and every private TFLite API) in
`tflite_full_integer`, the MediaPipe variant in `tflite_mediapipe`.
"""

import tempfile
import warnings

import keras
import numpy as np
import tensorflow as tf

from ulmfit_tf import __version__
from ulmfit_tf.export.exportable import check_exportable
from ulmfit_tf.export.exportable import exported_label_names
from ulmfit_tf.export.tflite_full_integer import allow_text_ops
from ulmfit_tf.export.tflite_full_integer import calibrate_only
from ulmfit_tf.export.tflite_full_integer import integer_network
from ulmfit_tf.export.tflite_full_integer import quantize_with_measured_ranges
from ulmfit_tf.export.tflite_mediapipe import OUTPUT
from ulmfit_tf.export.tflite_mediapipe import SEQUENCE_LENGTH
from ulmfit_tf.export.tflite_mediapipe import check_mediapipe_exportable
from ulmfit_tf.export.tflite_mediapipe import mediapipe_model
from ulmfit_tf.export.tflite_metadata import write_metadata
from ulmfit_tf.export.tflite_network import windowed_network
from ulmfit_tf.export.tflite_runner import litert_interpreter
from ulmfit_tf.export.tflite_runner import text_op_registerers
from ulmfit_tf.folders import check_new_file
from ulmfit_tf.folders import write_file_atomically
from ulmfit_tf.options import QUANTIZATIONS
from ulmfit_tf.options import TFLITE_TARGETS
from ulmfit_tf.text.sentencepiece_tokenizer import SentencePieceTokenizer


def export_tflite(
    classifier,
    path,
    quantization="none",
    representative_texts=None,
    overwrite=False,
    target="litert",
    sequence_length=SEQUENCE_LENGTH,
    model_info=None,
):
    """Writes a classifier as one `.tflite` file for on-device inference.

    `target="litert"` (the default) writes the file described below, for
    LiteRT with tensorflow-text's ops (`TFLiteClassifier`).
    `target="mediapipe"` writes one that MediaPipe Tasks' `TextClassifier`
    (Android, iOS, web, Python) runs with no code of ours: MediaPipe
    tokenizes (lowercasing the text) with the SentencePiece model and reads
    the labels that the file carries, and the file reads the first
    `sequence_length - 2` pieces (see `tflite_mediapipe`).

    With a `SentencePieceTokenizer` the file takes a raw string: its
    signature `serving_default(text: string [1])` tokenizes with
    tensorflow-text's FastSentencepiece op (a custom op, registered by
    `TFLiteClassifier` or by `tensorflow_text.tflite_registrar`) and
    returns `probabilities` (float32 `(1, classes)`); a second signature,
    `tokenize(text)`, returns the `token_ids` the network reads (the
    preprocessor's `device_ids`). With the fastai `WordTokenizer`, whose
    regex rules have no TFLite kernels, the signature takes
    `token_ids: int32 [1, None]` and the tokenizer (rules and vocabulary)
    travels in the file for the runner to apply. Either way the file's
    metadata holds the label names, the problem type and the preprocessor
    (tokenizer, `max_tokens`, `padding_id`), so the file alone is enough to
    classify.

    The network uses builtin ops only, with a static batch of one document
    and any length (the last 8,192 tokens are read).

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
        target: `"litert"` or `"mediapipe"` (`quantization` `"none"`,
            `"float16"` or `"dynamic_int8"`; a SentencePiece classifier).
        sequence_length: Integer, for `target="mediapipe"`: the positions
            the file reads, `[CLS]` and `[SEP]` included (64: 62 pieces;
            its inputs take any length).
        model_info: Optional dict, for `target="mediapipe"`: `name`,
            `description`, `version`, `author`, `license` written in the
            file's metadata.

    Returns:
        `path`.

    Example:

    ```python
    export_tflite(classifier, "sentiment.tflite", quantization="dynamic_int8")
    labels, probabilities = TFLiteClassifier("sentiment.tflite").predict(["A fine film."])
    export_tflite(classifier, "sentiment_mediapipe.tflite", "dynamic_int8", target="mediapipe")
    ```
    """
    check_exportable(classifier)
    check_new_file(path, overwrite)
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"Argument `quantization` must be one of {QUANTIZATIONS}. Received: quantization={quantization!r}")
    if target not in TFLITE_TARGETS:
        raise ValueError(f"Argument `target` must be one of {TFLITE_TARGETS}. Received: target={target!r}")
    if target == "mediapipe":
        check_mediapipe_exportable(classifier, quantization, sequence_length, model_info)
        metadata = _metadata(classifier, quantization, "mediapipe", sequence_length)
        model = mediapipe_model(classifier, quantization, sequence_length, model_info, metadata)
        return write_file_atomically(path, lambda f: f.write(model), overwrite=overwrite)
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
    text_input = isinstance(classifier.preprocessor.tokenizer, SentencePieceTokenizer)
    archive, signatures = _export_archive(classifier, quantization, text_input)
    model = _convert(archive, signatures, classifier.preprocessor, quantization, representative_texts, text_input)
    model = write_metadata(model, _metadata(classifier, quantization, "text" if text_input else "token_ids"))
    return write_file_atomically(path, lambda f: f.write(model), overwrite=overwrite)


def _export_archive(classifier, quantization, text_input):
    """The network's `ExportArchive` and its signature names: text or ids in, probabilities (or values) out."""
    preprocessor = classifier.preprocessor
    regression = classifier.problem_type == "regression"
    output_name = "prediction" if regression else "probabilities"

    # The network alone (same layers and weights): the preprocessor's
    # lookup tables, if any, have no TFLite kernels and stay out of the file.
    network = keras.Model(classifier.inputs, classifier.outputs)
    forward = integer_network(classifier) if quantization == "int8" else windowed_network(classifier)

    def predict(token_ids):
        outputs = forward(token_ids)
        if not regression:
            outputs = classifier.probabilities(outputs)
        return {output_name: tf.cast(outputs, tf.float32)}

    archive = keras.export.ExportArchive()
    archive.track(network)
    if text_input:
        spec = [tf.TensorSpec([1], tf.string, name="text")]
        archive.add_endpoint("serving_default", lambda text: predict(preprocessor.device_ids(text)), spec)
        archive.add_endpoint("tokenize", lambda text: {"token_ids": preprocessor.device_ids(text)}, spec)
        return archive, ["serving_default", "tokenize"]
    archive.add_endpoint("serving_default", predict, [tf.TensorSpec([1, None], tf.int32, name="token_ids")])
    return archive, ["serving_default"]


def _convert(archive, signatures, preprocessor, quantization, representative_texts, text_input):
    """The `.tflite` bytes of `archive`'s `signatures`, quantized as asked."""
    with tempfile.TemporaryDirectory() as saved_model:
        archive.write_out(saved_model, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved_model, signature_keys=signatures)
        if text_input:
            allow_text_ops(converter, text_op_registerers())
        if quantization != "none":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantization == "float16":
            converter.target_spec.supported_types = [tf.float16]
        if quantization != "int8":
            return converter.convert()
        representative = _representative_data(preprocessor, representative_texts, text_input)
        converter.representative_dataset = representative
        calibrate_only(converter)
        return _quantize_with_measured_ranges(converter.convert(), representative, text_input)


def _metadata(classifier, quantization, model_input, sequence_length=None):
    """ulmfit-tf's metadata entry: `model_input` is `"text"`, `"token_ids"` or `"mediapipe"` (BERT-style ids)."""
    preprocessor = classifier.preprocessor
    regression = classifier.problem_type == "regression"
    metadata = {
        "ulmfit_tf": __version__,
        "input": model_input,
        "output": OUTPUT if model_input == "mediapipe" else "prediction" if regression else "probabilities",
        "problem_type": classifier.problem_type,
        "label_names": None if regression else exported_label_names(classifier),
        # Multi-label decisions (`classifier.decide`): `None` is 0.5 for every label.
        "thresholds": classifier.thresholds,
        "quantization": quantization,
        "max_tokens": preprocessor.max_tokens,
        "padding_id": preprocessor.padding_id,
        "tokenizer": keras.saving.serialize_keras_object(preprocessor.tokenizer),
    }
    return metadata if sequence_length is None else dict(metadata, sequence_length=sequence_length)


def _quantize_with_measured_ranges(calibrated, representative, text_input):
    with warnings.catch_warnings():  # "intended for debugging": reading every tensor is the point here
        warnings.simplefilter("ignore", UserWarning)
        interpreter = litert_interpreter(calibrated, text_input, experimental_preserve_all_tensors=True)
    return quantize_with_measured_ranges(calibrated, representative, interpreter)


def _representative_data(preprocessor, texts, text_input):
    def generate():
        for text in texts:
            if text_input:
                yield "serving_default", {"text": np.array([text.encode("utf-8")], dtype=object)}
            else:
                yield "serving_default", {"token_ids": preprocessor(tf.constant([text])).numpy()}

    return generate
