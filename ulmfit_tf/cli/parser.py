"""The pieces of `ulmfit-tf`'s argument parser: one-line errors, types, shared options, settings options.

A stage's training options are generated from its settings dataclass
(`ulmfit_tf.recipe`): one option per field, named after it
(`learning_rate` -> `--learning-rate`), its help the field's
`metadata["help"]`, its default the field's. Nothing here loads TensorFlow.
"""

import argparse
import dataclasses

from ulmfit_tf.options import DTYPE_POLICIES
from ulmfit_tf.options import STRATEGIES
from ulmfit_tf.recipe import field_kind

EXIT_BAD_INPUT = 2

# Help of the options that are not settings (those take their field's), by `dest`.
OPTION_HELP = {
    "seed": "seeds weights, dropout and data order",
    "num_steps": "steps of the LR sweep",
    "language_model": "language model folder",
    "train": "labelled training file",
    "quantization": "TFLite weights and activations",
    "backwards": "train backward (reversed-text) models",
    "tensorboard": "write TensorBoard logs here",
}
LANGUAGE_MODEL_HELP = (
    "a folder written by `pretrain` or `finetune-lm`, a preset (a bundled name or a `save_to_preset` folder), "
    "or a fastai folder (one .pth and one .pkl)"
)


class Parser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line: `ulmfit-tf CMD: error: ...`, exit status 2."""

    def error(self, message):
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
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
    value = _float(text)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number (got {text!r})")
    return value


def non_negative_float(text):
    """argparse type: a finite number >= 0."""
    value = _float(text)
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number >= 0 (got {text!r})")
    return value


def _float(text):
    try:
        return float(text)
    except ValueError:
        return float("nan")


def class_weight_option(text):
    """`--class-weight`: `balanced`, or `NAME=WEIGHT,NAME=WEIGHT` (a dict of class name -> weight)."""
    if text == "balanced":
        return text
    weights = {}
    for part in text.split(","):
        name, equals, weight = part.rpartition("=")
        try:
            value = float(weight) if equals and name.strip() else None
        except ValueError:
            value = None
        if value is None or not 0 < value < float("inf"):
            raise argparse.ArgumentTypeError(
                f"must be 'balanced' or NAME=WEIGHT,... with weights > 0 (e.g. neg=1,pos=3), not {text!r}"
            )
        weights[name.strip()] = value
    return weights


def add_command(commands, name, help_text):
    """A subcommand with the options every command has: `--seed`, `--quiet`, `--debug`."""
    command = commands.add_parser(name, help=help_text, description=help_text, formatter_class=HelpFormatter)
    command.add_argument("--seed", type=int, default=42)
    command.add_argument("--quiet", action="store_true", help="no progress bars")
    command.add_argument("--debug", action="store_true", help="show TensorFlow's log and full tracebacks")
    return command


def add_data_options(command, labels=True, multi_label=False):
    """`--text-column` (and `--label-column`; with `multi_label`, `--label-separator` and `--label-columns`)."""
    command.add_argument("--text-column", default="text", help="column of the texts (csv/tsv/jsonl)")
    if labels:
        command.add_argument("--label-column", default="label", help="column of the labels")
    if labels and multi_label:
        command.add_argument(
            "--label-separator", metavar="SEP",
            help="multi-label: the label column holds a text's labels joined by SEP (e.g. 'action|comedy'; blank: "
            "none); the default for a multi-label problem is '|'",
        )
        command.add_argument(
            "--label-columns", metavar="A,B,...", type=label_columns,
            help="multi-label: one 0/1 column per label, named by the label (instead of --label-column)",
        )


def probability(value):
    """A float in [0, 1], for `--threshold`."""
    try:
        number = float(value)
    except ValueError:
        number = None
    if number is None or not 0 <= number <= 1:
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 1 (got {value!r})")
    return number


def label_columns(value):
    """`--label-columns a,b,c`: the column names, at least one, none repeated."""
    names = [name.strip() for name in value.split(",")]
    if not all(names) or len(set(names)) < len(names):
        raise argparse.ArgumentTypeError(f"must be distinct column names separated by commas (got {value!r})")
    return names


def add_overwrite_option(command, what):
    command.add_argument("--overwrite", action="store_true", help=f"replace {what} written earlier by ulmfit-tf")


def add_run_options(command):
    """The options of a command that trains a model into `--output`, besides its settings."""
    command.add_argument("--output", required=True, help="folder of the model written (new, empty, or ours)")
    add_overwrite_option(command, "a model folder of the same kind")
    command.add_argument(
        "--keep-checkpoints", action="store_true",
        help="keep the per-epoch checkpoints (OUTPUT.checkpoints) after a run that ends well",
    )
    command.add_argument("--tensorboard", metavar="DIR", help="write TensorBoard logs here")
    command.add_argument(
        "--strategy", default="default", choices=STRATEGIES,
        help="tf.distribute strategy; multi-worker reads the cluster from TF_CONFIG",
    )
    command.add_argument(
        "--dtype-policy", default=None, choices=DTYPE_POLICIES,
        help="mixed precision (mixed_bfloat16 on CPU/TPU, mixed_float16 on GPU)",
    )


def add_settings_options(command, settings_class, prefix="", unset=None):
    """One option per field of a settings dataclass.

    Args:
        command: The `argparse` parser to add them to.
        settings_class: `PretrainSettings`, `FinetuneSettings` or
            `ClassifierSettings`.
        prefix: String before each option's name and `dest`
            (`"classifier-"` gives `--classifier-epochs`, `classifier_epochs`).
        unset: Optional dict `{field: help on its default}` (`"{default}"`
            in it is the field's): those options default to `None`, read
            with `settings_from_options` over another base. `"*"` names
            every field.

    Example:

    ```python
    add_settings_options(command, ClassifierSettings)  # --epochs, --learning-rate, --no-gradual-unfreezing, ...
    ```
    """
    unset = unset or {}
    for field in dataclasses.fields(settings_class):
        option = "--" + prefix + field.name.replace("_", "-")
        dest = prefix.replace("-", "_") + field.name
        where = unset.get(field.name, unset.get("*"))
        default = None if where else field.default
        text = field.metadata["help"] + (" (" + where.format(default=field.default) + ")" if where else "")
        kind = field_kind(field)
        if kind == "bool":
            action = "store_true" if default is False else argparse.BooleanOptionalAction
            command.add_argument(option, dest=dest, action=action, default=default, help=text)
            continue
        if kind == "ClassWeight":
            value_type = class_weight_option
        elif kind == "int":
            value_type = positive_int
        else:
            value_type = non_negative_float if field.metadata["zero"] else positive_float
        command.add_argument(option, dest=dest, type=value_type, default=default, help=text)


def settings_from_options(args, settings_class, base=None, prefix=""):
    """The settings the options of `add_settings_options` give: `base` with every option set.

    Example:

    ```python
    settings = settings_from_options(args, ClassifierSettings, base=recipe.classifier, prefix="classifier_")
    ```
    """
    base = settings_class() if base is None else base
    given = {}
    for field in dataclasses.fields(settings_class):
        value = getattr(args, prefix + field.name)
        if value is not None:  # an option not given keeps the base's value
            given[field.name] = value
    return base.replace(**given)
