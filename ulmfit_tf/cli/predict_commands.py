"""`ulmfit-tf evaluate` and `predict`: classifier folders, ensembles, or exported .tflite files and SavedModels."""

import itertools
import json
import os
import signal
import sys

from ulmfit_tf import stages
from ulmfit_tf.batch_predict import Progress
from ulmfit_tf.batch_predict import chunks
from ulmfit_tf.batch_predict import file_texts
from ulmfit_tf.cli.inputs import check_table
from ulmfit_tf.cli.inputs import command_line_texts
from ulmfit_tf.cli.inputs import load_model
from ulmfit_tf.cli.inputs import read_labelled
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.export import TFLiteClassifier
from ulmfit_tf.export import saved_model_predictor
from ulmfit_tf.interruptions import exit_status
from ulmfit_tf.metrics import classification_metrics
from ulmfit_tf.metrics import format_metrics
from ulmfit_tf.prediction_output import PredictionRows
from ulmfit_tf.text.classification_dataset import encode_labels
from ulmfit_tf.thresholds import DEFAULT_THRESHOLD


def evaluate(args):
    """`ulmfit-tf evaluate`: the metrics of a classifier folder (or an ensemble, or an export) on a labelled file.

    The file is read as the model's problem type asks, its labels checked against the model's.
    """
    check_table(args.data, args)
    exported = _exported(args.model)
    if exported:
        predict, names, problem_type, thresholds = _exported_predictor(exported)
        texts, labels = read_labelled(args.data, args, problem_type, label_names=names)
        _, probabilities = predict(texts)
        targets = encode_labels(labels, names, multi_label=problem_type == "multi_label")[0]
        metrics = classification_metrics(probabilities, targets, problem_type, names, thresholds or DEFAULT_THRESHOLD)
    else:
        classifiers = [load_model(path, "classifier") for path in args.model]
        first = classifiers[0]
        texts, labels = read_labelled(args.data, args, first.problem_type, label_names=first.label_names)
        metrics = stages.evaluate(classifiers, texts, labels)
    print(json.dumps(metrics) if args.json else "\n" + format_metrics(metrics))
    return 0


def predict(args):
    """Streams: reads a chunk of texts, predicts it (batched by length), writes its rows, shows texts/s."""
    rows = PredictionRows(args.output, args.overwrite)  # refuses a taken path before any work
    texts = command_line_texts(args.text) if args.text else file_texts(args.data, args.text_column)
    texts = chunks(texts, args.chunk_size)
    first = next(texts, None)  # a file's format errors come before the model loads
    if first is None:
        raise UserInputError(f"No texts in {args.data}.")
    predict_chunk, names, _ = _predictor(args.model, args.batch_size, args.threshold, args.top_k)
    progress = Progress(verbose=not args.quiet)
    try:
        with rows.open(names, args.label_separator):
            for chunk in itertools.chain([first], texts):
                rows.write(chunk, *predict_chunk(chunk))
                progress.update(len(chunk))
            rows.finish()
    except KeyboardInterrupt as error:
        if not rows.count:
            raise
        signum = getattr(error, "signum", signal.SIGINT)
        print(f"\nulmfit-tf predict: {rows.interrupted_message(signum)}", file=sys.stderr)
        return exit_status(signum)
    progress.done()
    if args.output:
        print(f"wrote {rows.count} predictions to {args.output}")
    return 0


def _predictor(paths, batch_size, threshold=None, top_k=None):
    """`(predict, label_names, problem_type)` for `--model`: `predict(texts)` gives their labels and probabilities.

    `threshold` and `top_k` as in `stages.predict`.
    """
    exported = _exported(paths)
    if exported:
        return _exported_predictor(exported, threshold, top_k)[:3]
    classifiers = [load_model(path, "classifier") for path in paths]
    first = classifiers[0]
    names = first.label_names or [str(i) for i in range(first.num_classes)]
    _check_threshold(threshold, first.problem_type)
    predict = lambda texts: stages.predict(classifiers, texts, batch_size, threshold, top_k)  # noqa: E731
    return predict, names, first.problem_type


def _check_threshold(threshold, problem_type):
    if threshold is not None and problem_type != "multi_label":
        raise UserInputError(f"--threshold decides multi-label models; this one is {problem_type}.")


def _exported(paths):
    """The exported model among `--model` (a .tflite file or a SavedModel), or `None`."""
    exported = [path for path in paths if os.path.isfile(path) or _saved_model_version(path)]
    if exported and len(paths) > 1:
        raise UserInputError("An exported model (.tflite file or SavedModel) is used alone: pass one `--model`.")
    return exported[0] if exported else None


def _saved_model_version(path):
    """The SavedModel folder `path` names: itself, or its highest version subfolder (as TF Serving picks)."""
    if os.path.isfile(os.path.join(path, "saved_model.pb")):
        return path
    versions = [name for name in os.listdir(path) if name.isdigit()] if os.path.isdir(path) else []
    versions = [name for name in versions if os.path.isfile(os.path.join(path, name, "saved_model.pb"))]
    return os.path.join(path, max(versions, key=int)) if versions else None


def _exported_predictor(path, threshold=None, top_k=None):
    """`(predict, label_names, problem_type, thresholds)` for a .tflite file or a SavedModel folder, loaded once.

    `thresholds` are the multi-label ones the export carries (`None`: 0.5 each).
    """
    if os.path.isfile(path):
        runner = TFLiteClassifier(path)
        if runner.label_names is None:
            raise UserInputError(f"{path!r} is a regression model; `predict` prints class labels.")
        _check_threshold(threshold, runner.problem_type)
        predict = lambda texts: runner.predict(texts, threshold, top_k)  # noqa: E731
        return predict, runner.label_names, runner.problem_type, runner.metadata.get("thresholds")
    predict, names = saved_model_predictor(_saved_model_version(path), threshold=threshold, top_k=top_k)
    _check_threshold(threshold, predict.problem_type)
    return predict, names, predict.problem_type, predict.thresholds
