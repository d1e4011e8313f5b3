"""`model.fit` one epoch at a time: resumable from per-epoch checkpoints, stopped on a non-finite loss."""

import contextlib
import math

import keras

from ulmfit_tf.callbacks.epoch_checkpoint import EpochCheckpoint
from ulmfit_tf.callbacks.epoch_checkpoint import is_better
from ulmfit_tf.callbacks.one_run import OneRun
from ulmfit_tf.distribute import is_chief
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.folders import exclusive


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
    restore_best_weights=None,
    class_weight=None,
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
        callbacks: Keras callbacks. They see one run, as in one `fit` over
            all the epochs (`OneRun`): one `on_train_begin` and one
            `on_train_end`, and a callback that sets `model.stop_training`
            (`EarlyStopping`) ends the run after that epoch. On a resumed
            run they start afresh (`EarlyStopping`'s and
            `ReduceLROnPlateau`'s counters are not in the checkpoints; a
            lowered rate is), except `CSVLogger`, which appends, and
            `TensorBoard`, which writes on in the same folder.
        verbose: Keras' `fit` verbosity.
        steps: Optional integer, `fit`'s `steps_per_epoch`.
        validation_steps: Optional integer, `fit`'s `validation_steps`.
        fingerprint: Optional JSON-able dict of what made the model, kept in
            the checkpoints and set as `model.fingerprint`.
        restore_best_weights: Optional name of a log `fit` writes at each
            epoch's end, e.g. `"val_accuracy"` (higher is better; lower for
            names ending in `loss`, `mae` or `mse`). After the last epoch run,
            the model gets back the weights of the epoch where it was best
            (the first of ties), as Keras' `EarlyStopping(patience=epochs,
            restore_best_weights=True)` and fastai's `SaveModelCallback` do.
            With `checkpoint_dir` that epoch's checkpoint is kept beside the
            latest, so a resumed run restores the same epoch.
        class_weight: Optional dict of class id -> weight, `fit`'s.

    Returns:
        Nothing: `model.history` holds the `History` of all epochs run, and
        with `restore_best_weights` its `best_epoch` (counted from 0, as
        `history.epoch`).
        Raises `TrainingDiverged` when an epoch ends with a non-finite loss.

    Example:

    ```python
    fit_by_epoch(model, lambda epoch: dataset(seed=epoch), epochs=5, checkpoint_dir="checkpoints")
    ```
    """
    model.fingerprint = fingerprint  # what made the model: the CLI records it in the model folder
    checkpoint = None
    if checkpoint_dir is not None:
        checkpoint = EpochCheckpoint(checkpoint_dir, fingerprint=fingerprint, monitor=restore_best_weights)
    # Under multi-worker training only the chief writes checkpoints (the folder is shared).
    writes = checkpoint is not None and is_chief(model.distribute_strategy)
    with exclusive(checkpoint_dir) if writes else contextlib.nullcontext():
        best = _BestWeights(restore_best_weights) if restore_best_weights and checkpoint is None else None
        callbacks = list(callbacks) + ([best] if best else [])
        fit_options = dict(steps_per_epoch=steps, validation_steps=validation_steps, class_weight=class_weight)
        _fit_epochs(model, train_data, validation_data, epochs, checkpoint, callbacks, verbose, fit_options)
        if restore_best_weights:
            best_epoch = best.restore(model) if best else checkpoint.restore_best(model)
            if getattr(model, "history", None) is not None:
                model.history.best_epoch = best_epoch
            if verbose != 0:
                print(f"Restored the weights of epoch {best_epoch + 1}, the best by {restore_best_weights}.")


def _fit_epochs(model, train_data, validation_data, epochs, checkpoint, callbacks, verbose, fit_options):
    run = OneRun(callbacks)  # before the callback that ends each call, so that it tells a stop from it
    callbacks = [run, keras.callbacks.TerminateOnNaN(), _StopAfterOneEpoch()]
    initial_epoch = 0
    if checkpoint is not None:
        initial_epoch = checkpoint.restore(model)
        callbacks.append(checkpoint)
    if initial_epoch:
        run.resume_at(initial_epoch)
    merged, epochs_run = {}, []
    for epoch in range(initial_epoch, epochs):
        history = model.fit(
            train_data(epoch),
            validation_data=validation_data,
            epochs=epochs,
            initial_epoch=epoch,
            shuffle=False,
            callbacks=callbacks,
            verbose=verbose,
            **fit_options,
        )
        for key, values in history.history.items():
            merged.setdefault(key, []).extend(values)
        epochs_run += history.epoch
        loss = history.history.get("loss", [0.0])[-1]
        if not math.isfinite(loss):
            where = f" The last good checkpoint is in {checkpoint.directory!r}." if checkpoint else ""
            raise TrainingDiverged(
                f"Training stopped at epoch {epoch + 1}: the loss became {loss}. "
                f"Lower the learning rate (`lr_find` suggests one).{where}"
            )
        if run.finished:
            break  # the last epoch, or a callback stopped the run
    if merged:
        history.history = merged
        history.epoch = epochs_run  # as one `fit` call's History would say
        model.history = history


class _BestWeights(keras.callbacks.Callback):
    # Unlike Keras' EarlyStopping it keeps its best across `fit` calls (one per epoch here).
    def __init__(self, monitor):
        super().__init__()
        self.monitor, self.best, self.epoch, self.weights = monitor, None, None, None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            raise UserInputError(
                f"Argument `restore_best_weights` must name a log of `fit`. Received: "
                f"restore_best_weights={self.monitor!r} (the logs: {', '.join(sorted(logs or {}))})"
            )
        if is_better(self.monitor, value, self.best):
            self.best, self.epoch, self.weights = value, epoch, self.model.get_weights()

    def restore(self, model):
        model.set_weights(self.weights)
        return self.epoch


class _StopAfterOneEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        self.model.stop_training = True
