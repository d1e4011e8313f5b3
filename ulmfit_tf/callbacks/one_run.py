"""Keras callbacks over `fit` calls of one epoch each, shown as one run (`training.fit_by_epoch`)."""

import csv
import os

import keras

from ulmfit_tf import _keras_internals
from ulmfit_tf.errors import UserInputError


def _call(callbacks, hook, *args, **kwargs):
    for callback in callbacks:
        getattr(callback, hook)(*args, **kwargs)


def _forward(hook):
    def forward(self, *args, **kwargs):
        _call(self.callbacks, hook, *args, **kwargs)

    forward.__name__ = hook
    return forward


class OneRun(keras.callbacks.Callback):
    """Shows Keras callbacks a run of one-epoch `fit` calls as one `fit`.

    `training.fit_by_epoch` calls `model.fit` once per epoch. Wrapped in
    `OneRun`, callbacks see one run over all the epochs: one
    `on_train_begin` (the first call's), one `on_train_end` (after the last
    epoch, or the epoch in which a callback set `model.stop_training`), and
    every other hook as `fit` calls it, epochs numbered over the whole run.
    `finished` says whether the run has ended, so the loop calling `fit`
    stops where one `fit` would: place `OneRun` before any callback of the
    loop's own that sets `model.stop_training` to end each call.

    So Keras' `EarlyStopping` and `ReduceLROnPlateau` keep their counters
    and best values from epoch to epoch, and `CSVLogger` and `TensorBoard`
    write one log. `ReduceLROnPlateau` sets the optimizer's rate, which a
    learning-rate schedule (`SlantedTriangularLR`) does not allow: it is
    refused, with the model, when the rate is a schedule.

    Args:
        callbacks: List of Keras callbacks, called in this order; their
            changes to `logs` reach the callbacks placed after `OneRun`
            (e.g. `History`).

    Example:

    ```python
    run = OneRun([keras.callbacks.EarlyStopping(patience=2), keras.callbacks.CSVLogger("log.csv")])
    for epoch in range(epochs):
        model.fit(data(epoch), epochs=epochs, initial_epoch=epoch, callbacks=[run, stop_after_one_epoch])
        if run.finished:
            break
    ```
    """

    def __init__(self, callbacks):
        super().__init__()
        self.callbacks = list(callbacks)
        self.begun = False
        self.finished = False

    def set_model(self, model):
        if model is self.model:
            return  # each `fit` sets it again, and `TensorBoard` would start new log files
        super().set_model(model)
        for callback in self.callbacks:
            if isinstance(callback, keras.callbacks.ReduceLROnPlateau) and _rate_is_scheduled(model.optimizer):
                raise UserInputError(
                    "Argument `callbacks` must not hold a `ReduceLROnPlateau` when the learning rate follows a "
                    "schedule: it sets the rate, and a schedule's rate cannot be set (the stages' "
                    "`SlantedTriangularLR` lowers the rate itself; `fit_classifier(slanted_triangular=False)` "
                    "trains at a constant rate that `ReduceLROnPlateau` can lower). Received: callbacks="
                    f"[{', '.join(type(c).__name__ for c in self.callbacks)}] with learning_rate="
                    f"{type(_keras_internals.learning_rate_as_given(_innermost(model.optimizer))).__name__}"
                )
            callback.set_model(model)

    def set_params(self, params):
        super().set_params(params)
        for callback in self.callbacks:
            callback.set_params(params)

    def resume_at(self, epoch):
        """Continues the logs of a run resumed at `epoch` (from 0) from a checkpoint.

        Each `CSVLogger` appends (`append=True`), after dropping any rows of
        `epoch` and later that the interrupted run wrote after its last
        checkpoint. `TensorBoard` needs nothing: a new events file in the
        same folder continues the run's epoch curves.
        """
        for callback in self.callbacks:
            if isinstance(callback, keras.callbacks.CSVLogger):
                callback.append = True
                _drop_rows_from(callback.filename, callback.sep, epoch)

    def on_train_begin(self, logs=None):
        if not self.begun:
            self.begun = True
            _call(self.callbacks, "on_train_begin", logs)

    def on_epoch_end(self, epoch, logs=None):
        _call(self.callbacks, "on_epoch_end", epoch, logs)
        self.finished = bool(self.model.stop_training) or epoch + 1 >= self.params["epochs"]

    def on_train_end(self, logs=None):
        if self.finished:
            _call(self.callbacks, "on_train_end", logs)

    on_epoch_begin = _forward("on_epoch_begin")
    on_train_batch_begin = _forward("on_train_batch_begin")
    on_train_batch_end = _forward("on_train_batch_end")
    on_test_begin = _forward("on_test_begin")
    on_test_end = _forward("on_test_end")
    on_test_batch_begin = _forward("on_test_batch_begin")
    on_test_batch_end = _forward("on_test_batch_end")
    on_predict_begin = _forward("on_predict_begin")
    on_predict_end = _forward("on_predict_end")
    on_predict_batch_begin = _forward("on_predict_batch_begin")
    on_predict_batch_end = _forward("on_predict_batch_end")


def _innermost(optimizer):
    # DiscriminativeOptimizer and Keras' LossScaleOptimizer hold the optimizer whose rate counts.
    while hasattr(optimizer, "inner_optimizer"):
        optimizer = optimizer.inner_optimizer
    return optimizer


def _rate_is_scheduled(optimizer):
    if optimizer is None:
        return False
    return not isinstance(_keras_internals.learning_rate_as_given(_innermost(optimizer)), keras.Variable)


def _drop_rows_from(path, separator, epoch):
    if not os.path.isfile(path):
        return
    with open(path, newline="") as f:
        rows = list(csv.reader(f, delimiter=separator))
    kept = rows[:1] + [row for row in rows[1:] if row and int(row[0]) < epoch]
    if len(kept) < len(rows):
        with open(path, "w", newline="") as f:
            csv.writer(f, delimiter=separator).writerows(kept)
