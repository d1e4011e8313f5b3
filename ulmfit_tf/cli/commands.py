"""The commands of `ulmfit-tf`: each one's name, help, arguments and the function that runs it.

To add a command, write a module with its `add_arguments(parser)` and
`run(args)` and add a `Command` here.
"""

import collections
import importlib

from ulmfit_tf.cli import arguments
from ulmfit_tf.cli import generate_arguments
from ulmfit_tf.cli import report_arguments

Command = collections.namedtuple("Command", ["name", "help", "add_arguments", "runner"])
Command.__doc__ = """A command: `runner` is `"module:function"`, the function of `args` that runs it."""

COMMANDS = (
    Command(
        "pretrain", "Stage 1: train a language model (and a SentencePiece vocabulary) on a corpus.",
        arguments.pretrain, "ulmfit_tf.cli.train_commands:pretrain",
    ),
    Command(
        "finetune-lm", "Stage 2: fine-tune a language model on the target task's texts.",
        arguments.finetune_lm, "ulmfit_tf.cli.train_commands:finetune_lm",
    ),
    Command(
        "fit-classifier", "Stage 3: fit a classifier with gradual unfreezing, discriminative and STLR rates.",
        arguments.fit_classifier, "ulmfit_tf.cli.train_commands:fit_classifier",
    ),
    Command(
        "evaluate", "Accuracy of a classifier (or the average of several) on a labelled file.",
        arguments.evaluate, "ulmfit_tf.cli.predict_commands:evaluate",
    ),
    Command("predict", "Labels and probabilities for texts.", arguments.predict, "ulmfit_tf.cli.predict_commands:predict"),
    Command(
        "lr-find", "The LR range test for the classifier stage; writes the plot.",
        arguments.lr_find, "ulmfit_tf.cli.train_commands:lr_find",
    ),
    Command(
        "export", "Export a classifier: SavedModel for TF Serving and/or a .tflite file.",
        arguments.export, "ulmfit_tf.cli.export_command:run",
    ),
    Command(
        "report", "An HTML report of a classifier on a labelled file: metrics, errors, attributions, curves.",
        report_arguments.add_arguments, "ulmfit_tf.cli.report_command:run",
    ),
    Command(
        "pipeline", "All three stages and a test, on your files or (by default) the bundled data.",
        arguments.pipeline, "ulmfit_tf.cli.pipeline_command:run",
    ),
    Command(
        "generate", "Write text after each prompt with a language model (KerasHub's samplers).",
        generate_arguments.add_arguments, "ulmfit_tf.cli.generate_command:run",
    ),
)


def runner(name):
    """The function running the command `name`.

    Its module is imported only now, the one place the command line defers
    an import: the runners load TensorFlow (seconds), so that `--help` and
    a mistyped argument answer at once.
    """
    module, function = next(command.runner for command in COMMANDS if command.name == name).split(":")
    return getattr(importlib.import_module(module), function)
