"""`model.fit` one epoch at a time: resumable from per-epoch checkpoints, stopped on a non-finite loss."""

import contextlib
import math

import keras

from ulmfit_tf.callbacks.epoch_checkpoint import EpochCheckpoint
from ulmfit_tf.distribute import is_chief
from ulmfit_tf.model_directory import exclusive


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the run stopped."""


def fit_by_epoch(
    model,
    train_data,
    validation_data=None,
    epochs=1,
    checkpoint_dir=None,
    callbacks=(),
    verbose="auto",
    steps=None,
    validation_steps=None,
    fingerprint=None,
):
    """`model.fit` one epoch at a time, on `train_data(epoch)`.

    Each epoch's data order comes from the seed and the epoch number alone,
    so a run resumed from a checkpoint sees the data the uninterrupted run
    saw (a reshuffling `tf.data` pipeline restarts its sequence of orders).
    Each call is `fit(epochs=epochs, initial_epoch=epoch)` stopped after its
    first epoch, so progress reads "Epoch 3/5". With `checkpoint_dir`, a
    checkpoint is written after each epoch, the run holds that folder's lock
    throughout and resumes only from a checkpoint with the same
    `fingerprint`. Under multi-worker training only the chief writes.

    Args:
        model: A compiled Keras model.
        train_data: Function of the epoch number (from 0) giving that
            epoch's data, anything `model.fit` takes.
        validation_data: Optional data for `fit`'s `validation_data`.
        epochs: Integer, epochs in all.
        checkpoint_dir: Optional folder of per-epoch checkpoints (resumed
            from when present).
        callbacks: Keras callbacks.
        verbose: Keras' `fit` verbosity.
        steps: Optional integer, `fit`'s `steps_per_epoch`.
        validation_steps: Optional integer, `fit`'s `validation_steps`.
        fingerprint: Optional JSON-able dict of what made the model, kept in
            the checkpoints and set as `model.fingerprint`.

    Returns:
        Nothing: `model.history` holds the `History` of all epochs run.
        Raises `TrainingDiverged` when an epoch ends with a non-finite loss.

    Example:

    ```python
    fit_by_epoch(model, lambda epoch: dataset(seed=epoch), epochs=5, checkpoint_dir="checkpoints")
    ```
    """
    model.fingerprint = fingerprint  # what made the model: the CLI records it in the model folder
    checkpoint = None if checkpoint_dir is None else EpochCheckpoint(checkpoint_dir, fingerprint=fingerprint)
    # Under multi-worker training only the chief writes checkpoints (the folder is shared).
    writes = checkpoint is not None and is_chief(model.distribute_strategy)
    with exclusive(checkpoint_dir) if writes else contextlib.nullcontext():
        _fit_epochs(model, train_data, validation_data, epochs, checkpoint, callbacks, verbose, steps, validation_steps)


def _fit_epochs(model, train_data, validation_data, epochs, checkpoint, callbacks, verbose, steps, validation_steps):
    callbacks = list(callbacks) + [keras.callbacks.TerminateOnNaN(), _StopAfterOneEpoch()]
    initial_epoch = 0
    if checkpoint is not None:
        initial_epoch = checkpoint.restore(model)
        callbacks.append(checkpoint)
    merged = {}
    for epoch in range(initial_epoch, epochs):
        history = model.fit(
            train_data(epoch),
            validation_data=validation_data,
            epochs=epochs,
            initial_epoch=epoch,
            steps_per_epoch=steps,
            validation_steps=validation_steps,
            shuffle=False,
            callbacks=callbacks,
            verbose=verbose,
        )
        for key, values in history.history.items():
            merged.setdefault(key, []).extend(values)
        loss = history.history.get("loss", [0.0])[-1]
        if not math.isfinite(loss):
            where = f" The last good checkpoint is in {checkpoint.directory!r}." if checkpoint else ""
            raise TrainingDiverged(
                f"Training stopped at epoch {epoch + 1}: the loss became {loss}. "
                f"Lower the learning rate (`lr_find` suggests one).{where}"
            )
    if merged:
        history.history = merged
        history.epoch = list(range(initial_epoch, epochs))  # as one `fit` call's History would say
        model.history = history


class _StopAfterOneEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        self.model.stop_training = True
