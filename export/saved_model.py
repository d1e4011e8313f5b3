"""SavedModel for TF Serving: raw strings in, named outputs out."""

import os

import keras
import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the tokenizer ops a SavedModel runs)

from ulmfit_tf.batch_predict import class_labels
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.export.exportable import check_exportable
from ulmfit_tf.export.exportable import exported_label_names
from ulmfit_tf.folders import write_folder_atomically
from ulmfit_tf.text.inputs import check_texts
from ulmfit_tf.thresholds import DEFAULT_THRESHOLD


def export_saved_model(classifier, directory, version=1, overwrite=False):
    """Writes a classifier as a SavedModel in TF Serving's layout.

    The model goes to `directory/<version>/`, the folder layout TF Serving
    watches. Its `serving_default` signature takes a batch of raw texts,
    `text: tf.string [None]`, turns them into ids inside the graph with the
    classifier's preprocessor, and returns (single- and multi-label):

    - `probabilities`: float32 `(batch, classes)`, softmax (sums to 1) or,
      for multi-label, per-class sigmoids;
    - `label_id`: int32 `(batch,)`, the most probable class;
    - `label`: string `(batch,)`, its name;
    - multi-label only: `labels`, bool `(batch, classes)`, the labels at
      or above their threshold (the classifier's `thresholds`, 0.5 when
      it has none), as `classifier.decide` chooses them.

    A regression model returns `prediction`, float32 `(batch, outputs)`.
    The signature `label_names()` returns the class names in id order;
    a multi-label model's `thresholds()`, its per-label thresholds.
    A second signature, `classify_ids(token_ids: int32 [None, None])`, takes
    ids padded with the backbone's `padding_id` and needs no text ops at
    all: the choice for a TF Serving build without tensorflow-text's ops
    (tokenize on the client).

    Texts are read up to their last 8,192 tokens (the preprocessor's
    `max_tokens`). Empty strings, invalid UTF-8 and NUL bytes are
    classified like any text.

    Loading the SavedModel needs only `tensorflow` and, when the tokenizer is
    SentencePiece, `import tensorflow_text` (which registers its ops).

    Args:
        classifier: A `ULMFiTTextClassifier` with a `preprocessor`.
        directory: The model's base folder (created if missing).
        version: Positive integer, the version subfolder.
        overwrite: Boolean, replace a version folder ulmfit-tf exported
            earlier. Any other existing non-empty folder is refused: the
            write never deletes what ulmfit-tf did not write.

    Returns:
        The path of the version folder.

    Example:

    ```python
    path = export_saved_model(classifier, "serving/sentiment")
    reloaded = tf.saved_model.load(path)
    reloaded.signatures["serving_default"](text=tf.constant(["A fine film."]))
    ```
    """
    check_exportable(classifier)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"Argument `version` must be a positive integer. Received: version={version!r}")
    path = os.path.join(os.fspath(directory), str(version))
    preprocessor = classifier.preprocessor
    archive = keras.export.ExportArchive()
    archive.track(classifier)
    for table in _lookup_tables(preprocessor.tokenizer):
        archive.track(table)

    def serve(text):
        return serving_outputs(classifier, preprocessor(text))

    def serve_ids(token_ids):
        return serving_outputs(classifier, token_ids)

    archive.add_endpoint("serving_default", serve, [tf.TensorSpec([None], tf.string, name="text")])
    archive.add_endpoint("classify_ids", serve_ids, [tf.TensorSpec([None, None], tf.int32, name="token_ids")])
    if classifier.problem_type != "regression":
        names = exported_label_names(classifier)
        archive.add_endpoint("label_names", lambda: {"label_names": tf.constant(names)}, [])
    if classifier.problem_type == "multi_label":
        thresholds = _thresholds(classifier)
        archive.add_endpoint("thresholds", lambda: {"thresholds": tf.constant(thresholds, tf.float64)}, [])
    return write_folder_atomically(path, lambda partial: archive.write_out(partial, verbose=False), "saved_model", overwrite)


def predict_saved_model(path, texts, batch_size=64, threshold=None, top_k=None):
    """Classifies texts with a SavedModel written by `export_saved_model`.

    Args:
        path: The version folder (`directory/1`).
        texts: List of strings (bytes are decoded as UTF-8); a lone string
            is one text. Anything else among them raises a `TypeError`.
        batch_size: Integer, texts per signature call.
        threshold: Optional float, multi-label: one threshold for every
            label instead of the exported ones.
        top_k: Optional positive integer, as in `stages.predict`.

    Returns:
        `(labels, probabilities, label_names)`: a class name per text (a
        list of names, most probable first, for multi-label or with
        `top_k`), the float32 probabilities `(texts, classes)`
        (`(0, classes)` for no texts) and the class names.
    """
    predict, names = saved_model_predictor(path, batch_size, threshold, top_k)
    return *predict(texts), names


def saved_model_predictor(path, batch_size=64, threshold=None, top_k=None):
    """Loads a SavedModel of `export_saved_model` once, for many calls.

    Args:
        path: The version folder (`directory/1`).
        batch_size: Integer, texts per signature call.
        threshold: Optional float, as in `predict_saved_model`.
        top_k: Optional positive integer, as in `predict_saved_model`.

    Returns:
        `(predict, label_names)`: `predict(texts)` gives `(labels,
        probabilities)` as `predict_saved_model` does;
        `predict.problem_type` is `"single_label"` or `"multi_label"`,
        `predict.thresholds` the exported multi-label thresholds (or `None`).

    Example:

    ```python
    predict, names = saved_model_predictor("serving/1")
    labels, probabilities = predict(["A fine film."])
    ```
    """
    signatures = tf.saved_model.load(os.fspath(path)).signatures
    if "label_names" not in signatures:
        raise UserInputError(
            f"{os.fspath(path)!r} has no `label_names` signature: it is not a classifier exported by "
            "ulmfit-tf, or it is a regression model."
        )
    serve = signatures["serving_default"]
    names = [name.decode("utf-8") for name in signatures["label_names"]()["label_names"].numpy()]
    thresholds = signatures["thresholds"]()["thresholds"].numpy() if "thresholds" in signatures else None
    problem_type = "single_label" if thresholds is None else "multi_label"

    def predict(texts):
        texts = check_texts(texts)
        outputs = [serve(text=tf.constant(texts[i : i + batch_size], tf.string)) for i in range(0, len(texts), batch_size)]
        probabilities = np.concatenate(
            [out["probabilities"].numpy() for out in outputs] or [np.zeros((0, len(names)), "float32")]
        )
        if problem_type == "single_label" and top_k is None:
            return [label.decode("utf-8") for out in outputs for label in out["label"].numpy()], probabilities
        chosen = thresholds.tolist() if threshold is None and thresholds is not None else threshold
        return class_labels(probabilities, names, problem_type, chosen, top_k), probabilities

    predict.problem_type = problem_type
    predict.thresholds = None if thresholds is None else thresholds.tolist()
    return predict, names


def serving_outputs(classifier, token_ids):
    """The named outputs of the exported signatures for padded ids.

    Args:
        classifier: A `ULMFiTTextClassifier`.
        token_ids: int32 ids `(batch, time)`, padded as its preprocessor pads.

    Returns:
        `{"probabilities", "label_id", "label"}` for classification,
        `{"prediction"}` for regression.
    """
    logits = classifier(token_ids, training=False)
    if classifier.problem_type == "regression":
        return {"prediction": tf.cast(logits, tf.float32)}
    probabilities = tf.cast(classifier.probabilities(logits), tf.float32)
    label_id = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
    outputs = {
        "probabilities": probabilities,
        "label_id": label_id,
        "label": tf.gather(tf.constant(exported_label_names(classifier)), label_id),
    }
    if classifier.problem_type == "multi_label":
        # Compared in float64, as `thresholds.decide` compares: the same labels to the last bit.
        thresholds = tf.constant(_thresholds(classifier), tf.float64)
        outputs["labels"] = tf.cast(probabilities, tf.float64) >= thresholds
    return outputs


def _thresholds(classifier):
    """A multi-label classifier's thresholds, one a label (0.5 each when it has none)."""
    return classifier.thresholds or [DEFAULT_THRESHOLD] * classifier.num_classes


def _lookup_tables(tokenizer):
    vocabulary = getattr(tokenizer, "vocabulary", None)
    return [] if vocabulary is None else [vocabulary.table]
