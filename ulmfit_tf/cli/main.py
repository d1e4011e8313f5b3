"""`ulmfit-tf`'s entry point: parse, run the command, report bad input in one line."""

import os
import signal
import sys
import tempfile

from ulmfit_tf.cli.commands import COMMANDS
from ulmfit_tf.cli.commands import runner
from ulmfit_tf.cli.outputs import one_line
from ulmfit_tf.cli.parser import EXIT_BAD_INPUT
from ulmfit_tf.cli.parser import OPTION_HELP
from ulmfit_tf.cli.parser import Parser
from ulmfit_tf.cli.parser import add_command
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.interruptions import exit_status
from ulmfit_tf.interruptions import interruption_message
from ulmfit_tf.interruptions import signals_interrupt


def build_parser():
    """The parser of every command; building it loads no TensorFlow.

    Example:

    ```python
    args = build_parser().parse_args(["pipeline", "--recipe", "tiny"])
    ```
    """
    parser = Parser(
        prog="ulmfit-tf",
        description="ULMFiT for Keras: pretrain and fine-tune an AWD-LSTM language model, fit a text classifier.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_arguments(add_command(commands, command.name, command.help))
    for command in commands.choices.values():  # every option has a help line, so --help shows its default
        for action in command._actions:
            if action.help is None:
                action.help = OPTION_HELP.get(action.dest, action.dest.replace("_", " "))
    return parser


def main(argv=None):
    """Runs `ulmfit-tf` with `argv` (default: the command line); returns the exit status.

    Example:

    ```python
    main(["evaluate", "--model", "runs/classifier", "--data", "test.csv"])  # 0
    ```
    """
    args = build_parser().parse_args(argv)
    try:
        with signals_interrupt():
            if not args.debug:
                _load_tensorflow_quietly()
            result = runner(args.command)(args)
        return result if isinstance(result, int) else 0
    except KeyboardInterrupt as error:
        signum = getattr(error, "signum", signal.SIGINT)
        message = interruption_message(args.command, getattr(args, "output", None) or "", signum)
        print(f"\nulmfit-tf {args.command}: {message}", file=sys.stderr)
        return exit_status(signum)
    except Exception as error:
        # A user's input or file (and the I/O errors of reading it) is one line, and so is a run whose loss
        # diverged; anything else is a bug in ulmfit-tf and keeps its traceback.
        diverged = _diverged(error)
        if args.debug or not (diverged or isinstance(error, (UserInputError, OSError))):
            raise
        print(f"ulmfit-tf {args.command}: error: {one_line(error)}", file=sys.stderr)
        return 1 if diverged else EXIT_BAD_INPUT


def _diverged(error):
    """Whether `error` is a `TrainingDiverged`: only a command that trains has loaded `ulmfit_tf.training`."""
    training = sys.modules.get("ulmfit_tf.training")
    return training is not None and isinstance(error, training.TrainingDiverged)


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
            import tensorflow as tf  # noqa: PLC0415 (loaded here, quietly: see the docstring)
            import tensorflow_text  # noqa: F401, PLC0415

            tf.constant(0) + 0  # the first op probes for devices (and logs about CUDA)
        except BaseException:
            os.dup2(saved, 2)
            sink.seek(0)
            sys.stderr.write(sink.read().decode("utf-8", "replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
