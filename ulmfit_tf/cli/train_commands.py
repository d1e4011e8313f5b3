"""`ulmfit-tf pretrain`, `finetune-lm`, `fit-classifier` and `lr-find`: the stages on files."""

import contextlib
import os

import keras

from ulmfit_tf import stages
from ulmfit_tf.callbacks.epoch_checkpoint import EpochCheckpoint
from ulmfit_tf.cli.inputs import array_file
from ulmfit_tf.cli.inputs import load_model
from ulmfit_tf.cli.inputs import read_labelled
from ulmfit_tf.cli.inputs import read_texts
from ulmfit_tf.cli.inputs import sentencepiece_file
from ulmfit_tf.cli.outputs import print_table
from ulmfit_tf.cli.outputs import verbosity
from ulmfit_tf.cli.parser import settings_from_options
from ulmfit_tf.distribute import get_strategy
from ulmfit_tf.distribute import is_chief
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.folders import check_new_file
from ulmfit_tf.folders import check_output
from ulmfit_tf.folders import exclusive
from ulmfit_tf.folders import read_manifest
from ulmfit_tf.model_directory import save_model_directory
from ulmfit_tf.recipe import ClassifierSettings
from ulmfit_tf.recipe import FinetuneSettings
from ulmfit_tf.recipe import PretrainSettings


def pretrain(args):
    """`ulmfit-tf pretrain`: a language model (and its SentencePiece model) from corpus files."""
    if args.stream and (len(args.texts) != 1 or (args.validation and len(args.validation) != 1)):
        raise UserInputError("With --stream, give --texts (and --validation) one glob pattern each, e.g. 'corpus/*.txt'.")
    if args.case_fold and args.tokenizer:
        raise UserInputError("--case-fold trains a new SentencePiece model: give it or --tokenizer, not both.")
    options = _run_options(args, "pretrain")
    with _output(args, "language_model", options["strategy"]) as output:
        if args.stream:
            texts, validation = args.texts[0], args.validation[0] if args.validation else None
        else:
            texts = read_texts(args.texts, args.text_column)
            validation = read_texts(args.validation, args.text_column) if args.validation else None
        model = stages.pretrain_language_model(
            texts, validation, settings=settings_from_options(args, PretrainSettings),
            tokenizer=sentencepiece_file(args.tokenizer), embeddings=array_file(args.embeddings),
            backwards=args.backwards, checkpoint_dir=_checkpoints(output), **options,
        )
        return _save(model, args, output, "language_model")


def finetune_lm(args):
    """`ulmfit-tf finetune-lm`: a language model fine-tuned on the target task's texts."""
    options = _run_options(args, "finetune")
    with _output(args, "language_model", options["strategy"]) as output:
        language_model = load_model(args.language_model, "language_model")
        settings = settings_from_options(args, FinetuneSettings, base=_stream_of(args.language_model))
        texts = read_texts(args.texts, args.text_column)
        validation = read_texts(args.validation, args.text_column) if args.validation else None
        model = stages.finetune_language_model(
            language_model, texts, validation, settings=settings, checkpoint_dir=_checkpoints(output), **options
        )
        return _save(model, args, output, "language_model")


def _stream_of(language_model):
    """`FinetuneSettings` reading the stream as the language model folder's training did, when it says."""
    recorded = (os.path.isdir(language_model) and read_manifest(language_model) or {}).get("fingerprint") or {}
    return FinetuneSettings().replace(**{name: recorded[name] for name in ("batch_size", "bptt") if recorded.get(name)})


def fit_classifier(args):
    """`ulmfit-tf fit-classifier`: a classifier on a language model, from a labelled file."""
    settings = settings_from_options(args, ClassifierSettings)
    if settings.restore_best_weights and not args.validation:
        raise UserInputError("--restore-best-weights needs --validation FILE to choose the epoch on.")
    texts, labels = read_labelled(args.train, args, args.problem_type)
    validation = read_labelled(args.validation, args, args.problem_type) if args.validation else None
    options = _run_options(args, "classifier")
    with _output(args, "classifier", options["strategy"]) as output:
        language_model = load_model(args.language_model, "language_model")
        classifier = stages.fit_classifier(
            language_model, texts, labels, validation, settings=settings, label_names=args.label_columns,
            problem_type=args.problem_type, checkpoint_dir=_checkpoints(output), **options,
        )
        return _save(classifier, args, output, "classifier")


def lr_find(args):
    """`ulmfit-tf lr-find`: the classifier stage's LR range test, its plot and suggested rates."""
    check_new_file(args.plot, args.overwrite)
    texts, labels = read_labelled(args.train, args)
    language_model = load_model(args.language_model, "language_model")
    result = stages.classifier_lr_find(
        language_model, texts, labels, batch_size=args.batch_size, num_steps=args.num_steps, plot_path=args.plot,
        seed=args.seed,
    )
    suggestions = [(f"suggested rate ({name})", f"{value:.2e}") for name, value in result.suggestions.items()]
    print_table(suggestions + [("plot", args.plot)])
    return 0


def _run_options(args, name):
    """The stages' arguments a training command's options give, besides the settings.

    The strategy is made first, before any other TensorFlow op.
    """
    callbacks = [keras.callbacks.TensorBoard(os.path.join(args.tensorboard, name))] if args.tensorboard else []
    return dict(
        strategy=get_strategy(args.strategy), dtype_policy=args.dtype_policy, seed=args.seed, callbacks=callbacks,
        verbose=verbosity(args),
    )


@contextlib.contextmanager
def _output(args, kind, strategy):
    """Checks `--output` before any work, holds its lock while the command runs, yields the folder.

    Under a multi-worker strategy only the chief, which writes, holds the lock.
    """
    output = args.output.rstrip(os.sep) or args.output
    check_output(output, kind, args.overwrite)
    with exclusive(output) if is_chief(strategy) else contextlib.nullcontext():
        yield output


def _save(model, args, output, kind):
    """Saves a trained model (on the chief of a cluster), drops the checkpoints, prints the last metrics."""
    if is_chief(model.distribute_strategy):
        save_model_directory(model, output, kind, overwrite=args.overwrite, fingerprint=model.fingerprint)
        print(f"saved {kind.replace('_', ' ')} to {output}")
        if not args.keep_checkpoints:
            EpochCheckpoint(_checkpoints(output)).clear()
    print_table(_history_rows(model))
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
