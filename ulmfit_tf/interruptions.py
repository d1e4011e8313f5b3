"""Ctrl-C and `kill`: the command stops cleanly and says in one line what was kept.

While a command runs, SIGINT, SIGTERM and SIGHUP raise `Interrupted` in the
main thread, so every `finally` runs: locks are released and their files
removed, hidden partial folders deleted, folders made for the output
removed. The command line then prints one line, `ulmfit-tf COMMAND:
interrupted by SIGTERM: ...`, saying what was kept and how to go on, and
exits with status 128 + the signal's number (130 for SIGINT, 143 for
SIGTERM), as a shell reports a process the signal ended.
"""

import contextlib
import os
import signal

TRAINING_COMMANDS = ("pretrain", "finetune-lm", "fit-classifier")
_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """A signal (SIGINT, SIGTERM, SIGHUP) stopped the command.

    Args:
        signum: Integer, the signal's number.
    """

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_interrupted(signum, frame):
    raise Interrupted(signum)


@contextlib.contextmanager
def signals_interrupt():
    """Within the block, SIGINT, SIGTERM and SIGHUP raise `Interrupted` (SIGHUP only if it was not ignored)."""
    previous = {}
    for signum in _SIGNALS:
        if signal.getsignal(signum) is not signal.SIG_IGN:  # `nohup` keeps SIGHUP ignored
            previous[signum] = signal.signal(signum, _raise_interrupted)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def interruption_message(command, output, signum):
    """The line printed for `command` (writing `output`, if any) stopped by signal `signum`."""
    name = signal.Signals(signum).name
    if command in TRAINING_COMMANDS:
        from ulmfit_tf.callbacks import EpochCheckpoint  # deferred: callbacks load Keras; `--help` must not

        checkpoints = output.rstrip(os.sep) + ".checkpoints"
        if EpochCheckpoint(checkpoints).latest() is not None:
            return (
                f"interrupted by {name}: the complete epochs are kept in {checkpoints!r}; run the same command "
                "again to resume from the last one."
            )
        return f"interrupted by {name} before an epoch was complete: nothing was kept; run the same command to start again."
    if command == "pipeline":
        return (
            f"interrupted by {name}: the finished stages and the checkpoints of the one running are kept in "
            f"{output!r}; run the same command again to resume."
        )
    return f"interrupted by {name}: nothing was written."


def exit_status(signum):
    """128 + the signal's number: what a shell reports for a process the signal ended."""
    return 128 + int(signum)
