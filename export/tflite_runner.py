"""Runs the `.tflite` files of `export_tflite` with LiteRT."""

import os
import struct

import keras
import numpy as np
import tensorflow as tf
import tensorflow_text
from ai_edge_litert.interpreter import InterpreterWithCustomOps
from ai_edge_litert.interpreter import OpResolverType

import ulmfit_tf.text  # noqa: F401  (registers the tokenizer classes the metadata names)
from ulmfit_tf.batch_predict import class_labels
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.export.tflite_full_integer import has_dynamic_numeric_tensors
from ulmfit_tf.export.tflite_metadata import load_metadata
from ulmfit_tf.text.inputs import check_texts
from ulmfit_tf.text.ulmfit_text_classifier_preprocessor import ULMFiTTextClassifierPreprocessor


class TFLiteClassifier:
    """Classifies texts with a `.tflite` file written by `export_tflite`.

    Runs on LiteRT (`ai_edge_litert`), registering tensorflow-text's ops for
    files with the tokenizer inside; for ids-input files (word tokenizer) it
    turns texts into ids with a `ULMFiTTextClassifierPreprocessor` built
    from the file's metadata, exactly as the Keras model did. Each document
    is one `invoke` and no state is carried from one call to the next: a
    text's answer does not depend on the texts classified before it (nor
    on their order or lengths), with LiteRT's XNNPACK delegate only where
    that holds (see `litert_interpreter`).

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
        self.metadata = load_metadata(content, self.path)
        if self.metadata["input"] == "mediapipe":
            raise UserInputError(
                f"{self.path!r} was exported for MediaPipe Tasks (`target='mediapipe'`): run it with MediaPipe's "
                "TextClassifier, or export with `target='litert'` for this runner."
            )
        self.label_names = self.metadata["label_names"]
        self.problem_type = self.metadata["problem_type"]
        text_input = self.metadata["input"] == "text"
        try:
            self._interpreter = litert_interpreter(content, text_input, num_threads=num_threads)
        except (ValueError, RuntimeError, struct.error) as error:
            message = " ".join(str(error).split())[:160]
            raise UserInputError(f"{self.path!r} is damaged ({message}); export it again.") from None
        self._classify = self._interpreter.get_signature_runner("serving_default")
        self._tokenize = self._interpreter.get_signature_runner("tokenize") if text_input else None
        self.preprocessor = self.tokenizer = None
        if not text_input:
            self.tokenizer = keras.saving.deserialize_keras_object(self.metadata["tokenizer"])
            self.preprocessor = ULMFiTTextClassifierPreprocessor(
                self.tokenizer, self.metadata["max_tokens"], self.metadata["padding_id"]
            )

    def tokenize(self, texts):
        """The token ids the network reads for each text (a list of int arrays)."""
        texts = check_texts(texts)
        if self._tokenize is None:
            return [self.preprocessor(tf.constant([text], tf.string)).numpy()[0] for text in texts]
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

    def predict(self, texts, threshold=None, top_k=None):
        """Labels and probabilities of a list of texts.

        Multi-label files decide as the classifier did (`classifier.decide`),
        at the thresholds their metadata carries.

        Args:
            texts: List of strings (bytes are decoded as UTF-8, invalid
                bytes replaced); a lone string is one text. Anything else
                among them raises a `TypeError`.
            threshold: Optional float in [0, 1], multi-label: one
                threshold for every label instead of the file's.
            top_k: Optional positive integer: at most `top_k` labels a
                text, the most probable (as in `stages.predict`).

        Returns:
            `(labels, probabilities)`: the most probable class name of each
            text (multi-label, or with `top_k`: a list of names, most
            probable first) and the float32 probabilities `(n, classes)`
            (`[]` and `(0, classes)` for no texts). For a regression model,
            `(None, predictions)`.
        """
        if threshold is not None and self.problem_type != "multi_label":
            raise ValueError(
                "Argument `threshold` decides multi-label models. "
                f"Received: threshold={threshold!r} for a {self.problem_type} model"
            )
        outputs = self.predict_outputs(texts)
        if self.label_names is None:
            return None, outputs
        thresholds = self.metadata.get("thresholds") if threshold is None else threshold
        return class_labels(outputs, self.label_names, self.problem_type, thresholds, top_k), outputs

    def _run(self, **inputs):
        self._interpreter.reset_all_variables()
        return self._classify(**inputs)


def litert_interpreter(content, text_input, **options):
    """A LiteRT interpreter for a model (with tensorflow-text's ops if it takes text), allocated.

    Allocated up front so that the fused LSTMs' state tensors exist for
    `reset_all_variables()`. LiteRT's default XNNPACK delegate runs the
    model only when none of its float or quantized tensors changes shape
    with the text (`export_tflite`'s float, `float16` and `dynamic_int8`
    files, since `windowed_network`): on tensors that do (earlier files,
    whose LSTM loops grew their outputs step by step), XNNPACK
    (ai-edge-litert 2.3.0) gave answers that depended on the texts run
    before in a fresh interpreter, or failed to reshape. Full-integer
    files (dynamic shapes around the fused LSTMs) run on the builtin
    kernels, as fast there (XNNPACK has no LSTM kernel).

    Args:
        content: Bytes of the `.tflite` file.
        text_input: Boolean, whether the model runs tensorflow-text's ops.
        **options: Other arguments of `InterpreterWithCustomOps`, such as
            `num_threads`.
    """
    if has_dynamic_numeric_tensors(content):
        options.setdefault("experimental_op_resolver_type", OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter = InterpreterWithCustomOps(
        model_content=content, custom_op_registerers=text_op_registerers() if text_input else [], **options
    )
    interpreter.allocate_tensors()
    return interpreter


def text_op_registerers():
    """tensorflow-text's registerers of the ops its TFLite kernels run (FastSentencepiece, ...)."""
    return list(tensorflow_text.tflite_registrar.SELECT_TFTEXT_OPS)
