import json
import math
import os

import keras
import numpy as np

from ulmfit_tf.bounded_reading import read_json_file
from ulmfit_tf.distribute import is_chief
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.fingerprint import fingerprint_changes
from ulmfit_tf.folders import read_manifest
from ulmfit_tf.folders import remove_folder
from ulmfit_tf.folders import write_folder_atomically
from ulmfit_tf.storage import check_free_space

WEIGHTS_FILENAME = "model.weights.h5"
STATE_FILENAME = "state.json"
_PREFIX = "epoch_"


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves everything a run needs to resume, atomically, after each epoch.

    At the end of every epoch with a finite loss, the model's weights, the
    optimizer's state (slots, step count: the learning-rate schedule goes on
    where it was) and the state of every dropout seed generator are written
    to a new folder, which is then renamed into place in one step: a run
    killed at any moment leaves either the previous checkpoint or the new
    one, never a half-written file. Only the latest checkpoint is kept.
    Under `MultiWorkerMirroredStrategy` only the chief writes, and every
    worker restores from `directory`, which must then be storage that all
    workers share (a network file system).

    `restore()` loads the latest checkpoint into a model compiled like the
    one that wrote it and returns the number of epochs it completed: pass
    it to `fit(initial_epoch=...)`. If each epoch's data order is fixed by
    the seed and the epoch number (the stages build each epoch's dataset
    with `seed + epoch`; a reshuffling `tf.data` pipeline would restart its
    sequence of orders), the resumed run ends with the same weights as a
    run that was never interrupted.

    A `fingerprint` (a dict of what makes the run: settings, seed, model
    config, data digests) is recorded in each checkpoint, and `restore()`
    refuses a checkpoint whose fingerprint differs, naming what changed:
    a rerun with other data or settings never resumes, silently, a run it
    is not. Only folders this callback wrote (they hold an ulmfit-tf
    manifest of kind `"checkpoint"`) are read or deleted.

    With a `monitor` (a log such as `"val_accuracy"`), the checkpoint of
    the epoch best by it is kept too, and `restore_best()` loads its
    weights at the end of the run.

    Args:
        directory: String, the folder of the checkpoints.
        fingerprint: Optional dict of JSON values identifying the run.
        monitor: Optional name of a log of `fit`: higher is better, lower
            for names ending in `loss`, `mae` or `mse`.

    Example:

    ```python
    checkpoint = EpochCheckpoint("runs/classifier/checkpoints")
    initial_epoch = checkpoint.restore(model)
    model.fit(train_data, epochs=5, initial_epoch=initial_epoch, callbacks=[checkpoint])
    ```
    """

    def __init__(self, directory, fingerprint=None, monitor=None):
        super().__init__()
        self.directory = os.fspath(directory).rstrip(os.sep) or os.sep
        self.fingerprint = fingerprint
        self.monitor = monitor

    def checkpoints(self):
        """The paths of the complete checkpoints this callback wrote, oldest first."""
        if not os.path.isdir(self.directory):
            return []
        epochs = sorted(
            int(name[len(_PREFIX) :])
            for name in os.listdir(self.directory)
            if name.startswith(_PREFIX) and name[len(_PREFIX) :].isdigit()
        )
        paths = [os.path.join(self.directory, f"{_PREFIX}{epoch:04d}") for epoch in epochs]
        return [path for path in paths if (read_manifest(path) or {}).get("kind") == "checkpoint"]

    def latest(self):
        """The path of the latest complete checkpoint, or `None`."""
        paths = self.checkpoints()
        return paths[-1] if paths else None

    def best(self):
        """The path of the checkpoint best by `monitor` (the first of ties), or `None`."""
        best_path, best_value = None, None
        for path in self.checkpoints():
            value = _read_state(path).get("monitored")
            if isinstance(value, (int, float)) and is_better(self.monitor, value, best_value):
                best_path, best_value = path, value
        return best_path

    def restore_best(self, model):
        """Loads the weights of the `best()` checkpoint into `model`; returns its epoch, from 0."""
        path = self.best()
        if path is None:
            raise UserInputError(f"No checkpoint in {self.directory!r} recorded {self.monitor!r}.")
        with model.distribute_strategy.scope():
            model.load_weights(os.path.join(path, WEIGHTS_FILENAME))
        return int(_read_state(path)["epochs_completed"]) - 1

    def clear(self):
        """Deletes the checkpoints (after a run that ended well), and the folder if nothing else is in it."""
        for path in self.checkpoints():
            remove_folder(path, "checkpoint")
        if os.path.isdir(self.directory) and not os.listdir(self.directory):
            os.rmdir(self.directory)

    def on_train_begin(self, logs=None):
        if is_chief(self.model.distribute_strategy):  # a disk too full for a checkpoint: before any training
            check_free_space(self.directory, _checkpoint_bytes(self.model))

    def on_epoch_end(self, epoch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            return
        if self.monitor is not None and self.monitor not in (logs or {}):
            raise UserInputError(
                f"Argument `monitor` must name a log of `fit`. Received: monitor={self.monitor!r} "
                f"(the logs: {', '.join(sorted(logs or {}))})"
            )
        if not is_chief(self.model.distribute_strategy):
            return  # Under multi-worker training only the chief (worker 0) writes.
        final = os.path.join(self.directory, f"{_PREFIX}{epoch + 1:04d}")

        def write(partial):
            self.model.save_weights(os.path.join(partial, WEIGHTS_FILENAME))
            state = {
                "epochs_completed": epoch + 1,
                "seed_generators": [np.asarray(v.numpy()).tolist() for v in _seed_states(self.model)],
            }
            if self.monitor is not None:
                state["monitored"] = float(logs[self.monitor])
            with open(os.path.join(partial, STATE_FILENAME), "w") as f:
                json.dump(state, f)

        best = self.best() if self.monitor is not None else None  # before this epoch's
        if best is not None and is_better(self.monitor, float(logs[self.monitor]), _read_state(best)["monitored"]):
            best = None
        previous = [path for path in self.checkpoints() if path not in (final, best)]
        fingerprint = None if self.fingerprint is None else {"fingerprint": self.fingerprint}
        # HDF5 crashes the process on a full disk (SIGSEGV): refuse in one line before writing instead.
        check_free_space(self.directory, _checkpoint_bytes(self.model))
        write_folder_atomically(final, write, "checkpoint", overwrite=True, manifest=fingerprint)
        for path in previous:
            remove_folder(path, "checkpoint")

    def restore(self, model):
        """Loads the latest checkpoint into `model`; returns the epochs it completed (0 if none)."""
        path = self.latest()
        if path is None:
            return 0
        self._check_fingerprint(path)
        try:
            state = read_json_file(os.path.join(path, STATE_FILENAME))
            with model.distribute_strategy.scope():  # the strategy the model was built under, if any
                if model.optimizer is not None and not model.optimizer.built:
                    model.optimizer.build(model.trainable_variables)
                model.load_weights(os.path.join(path, WEIGHTS_FILENAME))
        except (OSError, ValueError, KeyError) as error:
            message = " ".join(str(error).split())[:160]
            raise UserInputError(
                f"The checkpoint {path!r} is damaged ({message}): delete {self.directory!r} to start the run over."
            ) from None
        variables = _seed_states(model)
        if len(variables) != len(state["seed_generators"]):
            raise UserInputError(
                f"The checkpoint {path!r} was written by a different model "
                f"({len(state['seed_generators'])} dropout seeds, this model has {len(variables)})."
            )
        for variable, value in zip(variables, state["seed_generators"]):
            variable.assign(np.asarray(value, variable.dtype))
        return int(state["epochs_completed"])

    def _check_fingerprint(self, path):
        recorded = read_manifest(path).get("fingerprint")
        changes = fingerprint_changes(recorded, self.fingerprint)
        if changes:
            raise UserInputError(
                f"The checkpoint in {self.directory!r} was made by a run with other settings or data "
                f"({changes}): rerun with the settings it was made with to resume it, or delete "
                f"{self.directory!r} to start over."
            )


def _checkpoint_bytes(model):
    """About what a checkpoint of `model` takes on disk: its weights, with room for HDF5's own records."""
    variables = list(model.weights) + list(getattr(model.optimizer, "variables", None) or [])
    return int(1.25 * sum(np.dtype(v.dtype).itemsize * int(np.prod(v.shape)) for v in variables)) + (1 << 20)


def _read_state(path):
    try:
        state = read_json_file(os.path.join(path, STATE_FILENAME))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def is_better(monitor, value, best):
    """Whether `value` of the log `monitor` beats `best` (`None`: nothing yet)."""
    if best is None:
        return True
    return value < best if monitor.endswith(("loss", "mae", "mse")) else value > best


def _seed_states(model):
    # Their paths are not unique; the model's variable order is fixed.
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]
