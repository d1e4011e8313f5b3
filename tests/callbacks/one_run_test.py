import csv
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.training_test import batches
from tests.training_test import model_and_data
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.optimizers import DiscriminativeOptimizer
from ulmfit_tf.schedules import SlantedTriangularLR
from ulmfit_tf.training import fit_by_epoch


class Recorder(keras.callbacks.Callback):
    """Records the hooks called, and the weights at each epoch's end."""

    def __init__(self):
        super().__init__()
        self.calls, self.weights = [], []

    def on_train_begin(self, logs=None):
        self.calls.append("train_begin")

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(f"epoch_end {epoch}")
        self.weights.append(self.model.get_weights())

    def on_train_end(self, logs=None):
        self.calls.append("train_end")


class FakeValLoss(keras.callbacks.Callback):
    """Writes a chosen `val_loss` for each epoch into the logs the callbacks after it see."""

    def __init__(self, values):
        super().__init__()
        self.values = values

    def on_epoch_end(self, epoch, logs=None):
        logs["val_loss"] = self.values[epoch]


class StopDuringEpoch(keras.callbacks.Callback):
    """Sets `model.stop_training` after the second batch of `epoch`, as `TerminateOnNaN` would."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch, self.current = epoch, None

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.current == self.epoch and batch == 1:
            self.model.stop_training = True


def fit(model, x, y, epochs, callbacks, checkpoint_dir=None):
    fit_by_epoch(model, lambda epoch: batches(x, y), (x, y), epochs=epochs, callbacks=callbacks, verbose=0,
                 checkpoint_dir=checkpoint_dir)


def test_callbacks_see_one_run_over_all_the_epochs():
    model, x, y = model_and_data()
    recorder = Recorder()
    fit(model, x, y, 3, [recorder])
    assert recorder.calls == ["train_begin", "epoch_end 0", "epoch_end 1", "epoch_end 2", "train_end"]
    assert model.history.epoch == [0, 1, 2]


def test_a_callback_setting_stop_training_ends_the_run():
    model, x, y = model_and_data()
    recorder = Recorder()
    fit(model, x, y, 5, [StopDuringEpoch(1), recorder])
    assert recorder.calls == ["train_begin", "epoch_end 0", "epoch_end 1", "train_end"]
    assert model.history.epoch == [0, 1] and len(model.history.history["loss"]) == 2


def test_early_stopping_stops_after_patience_epochs_and_restores_the_best_weights():
    model, x, y = model_and_data()
    recorder = Recorder()
    # Best at epoch 1; epochs 2 and 3 do not improve on it: patience 2 stops the run after epoch 3.
    stopping = keras.callbacks.EarlyStopping(patience=2, restore_best_weights=True)
    fit(model, x, y, 8, [FakeValLoss([1.0, 0.5, 0.6, 0.7, 0.1, 0.1, 0.1, 0.1]), recorder, stopping])
    assert model.history.epoch == [0, 1, 2, 3] and stopping.stopped_epoch == 3
    assert recorder.calls[-2:] == ["epoch_end 3", "train_end"]
    for restored, best, last in zip(model.get_weights(), recorder.weights[1], recorder.weights[3]):
        np.testing.assert_array_equal(restored, best)
        assert not np.array_equal(best, last)


def test_reduce_lr_on_plateau_keeps_its_counters_across_epochs():
    model, x, y = model_and_data()  # SGD at a constant 0.01
    plateau = keras.callbacks.ReduceLROnPlateau(patience=1, factor=0.5)
    fit(model, x, y, 4, [FakeValLoss([1.0] * 4), plateau])
    # Logged before each epoch's reduction: no improvement from epoch 1 on halves the rate each epoch.
    assert model.history.history["learning_rate"] == pytest.approx([0.01, 0.01, 0.005, 0.0025])
    assert float(model.optimizer.learning_rate) == pytest.approx(0.00125)


def test_reduce_lr_on_plateau_is_refused_under_a_schedule():
    model, x, y = model_and_data()
    schedule = SlantedTriangularLR(0.01, total_steps=8)
    groups = [[model.layers[0]]]
    for optimizer in (keras.optimizers.SGD(schedule), DiscriminativeOptimizer(keras.optimizers.Adam(schedule), groups)):
        model.compile(optimizer, "mse")
        with pytest.raises(UserInputError, match=(
            r"Argument `callbacks` must not hold a `ReduceLROnPlateau` when the learning rate follows a schedule: .* "
            r"Received: callbacks=\[ReduceLROnPlateau\] with learning_rate=SlantedTriangularLR"
        )):
            fit(model, x, y, 2, [keras.callbacks.ReduceLROnPlateau()])


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_csv_logger_writes_one_log_continued_by_a_resumed_run(tmp_path):
    path = str(tmp_path / "log.csv")
    model, x, y = model_and_data()
    fit(model, x, y, 2, [keras.callbacks.CSVLogger(path)], checkpoint_dir=str(tmp_path / "ckpt"))
    rows = read_csv(path)
    assert rows[0][0] == "epoch" and [row[0] for row in rows[1:]] == ["0", "1"]
    with open(path, "a", newline="") as f:
        csv.writer(f).writerow(["2"] + rows[-1][1:])  # the interrupted run logged epoch 2, not checkpointed
    resumed, _, _ = model_and_data()
    fit(resumed, x, y, 4, [keras.callbacks.CSVLogger(path)], checkpoint_dir=str(tmp_path / "ckpt"))
    rows = read_csv(path)
    assert [row[0] for row in rows] == ["epoch", "0", "1", "2", "3"]
    assert rows[3] != ["2"] + rows[2][1:]  # epoch 2's row is the resumed run's


def epoch_steps(folder):
    """The steps of `epoch_loss` in each events file of a TensorBoard folder, oldest file first."""
    files = sorted(os.listdir(folder), key=lambda name: os.path.getmtime(os.path.join(folder, name)))
    return [
        [event.step for event in tf.compat.v1.train.summary_iterator(os.path.join(folder, name))
         for value in event.summary.value if value.tag == "epoch_loss"]
        for name in files
    ]


def test_tensorboard_writes_one_run_continued_by_a_resumed_run(tmp_path):
    logs = tmp_path / "tensorboard"
    model, x, y = model_and_data()
    fit(model, x, y, 3, [keras.callbacks.TensorBoard(str(logs))], checkpoint_dir=str(tmp_path / "ckpt"))
    assert sorted(os.listdir(logs)) == ["train", "validation"]
    assert epoch_steps(logs / "train") == [[0, 1, 2]] and epoch_steps(logs / "validation") == [[0, 1, 2]]
    resumed, _, _ = model_and_data()
    fit(resumed, x, y, 5, [keras.callbacks.TensorBoard(str(logs))], checkpoint_dir=str(tmp_path / "ckpt"))
    assert epoch_steps(logs / "train") == [[0, 1, 2], [3, 4]]
