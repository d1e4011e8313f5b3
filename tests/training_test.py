import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from ulmfit_tf.training import TrainingDiverged
from ulmfit_tf.training import fit_by_epoch


def model_and_data():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(keras.optimizers.SGD(0.01), "mse")
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    return model, x, x[:, :2] * 2


def batches(x, y):
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(8)


class Epochs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = []

    def on_epoch_begin(self, epoch, logs=None):
        self.seen.append(epoch)


def test_one_fit_per_epoch_on_that_epochs_data():
    model, x, y = model_and_data()
    asked, epochs = [], Epochs()

    def train_data(epoch):
        asked.append(epoch)
        return batches(x[epoch * 8 :][:16], y[epoch * 8 :][:16])

    fit_by_epoch(model, train_data, (x, y), epochs=3, callbacks=[epochs], verbose=0, fingerprint={"run": 1})
    assert asked == epochs.seen == [0, 1, 2]
    assert len(model.history.history["loss"]) == len(model.history.history["val_loss"]) == 3
    assert model.fingerprint == {"run": 1}


def test_resumes_from_the_last_checkpoint(tmp_path):
    model, x, y = model_and_data()
    fit_by_epoch(model, lambda epoch: batches(x, y), epochs=2, checkpoint_dir=str(tmp_path), verbose=0)
    assert os.listdir(tmp_path) == ["epoch_0002"]
    resumed, _, _ = model_and_data()
    epochs = Epochs()
    fit_by_epoch(resumed, lambda epoch: batches(x, y), epochs=3, checkpoint_dir=str(tmp_path), callbacks=[epochs], verbose=0)
    assert epochs.seen == [2] and os.listdir(tmp_path) == ["epoch_0003"]
    model.fit(batches(x, y), epochs=3, initial_epoch=2, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), resumed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_a_non_finite_loss_raises_training_diverged(tmp_path):
    model, x, y = model_and_data()
    y[3] = np.nan
    with pytest.raises(TrainingDiverged, match="Training stopped at epoch 1: the loss became nan. Lower the learning"):
        fit_by_epoch(model, lambda epoch: batches(x, y), epochs=2, checkpoint_dir=str(tmp_path / "ckpt"), verbose=0)
    assert not os.path.exists(tmp_path / "ckpt" / "epoch_0001")


def test_restore_best_weights_ends_with_the_best_epochs_weights(tmp_path):
    # Validating on the opposite targets: the validation loss grows as training goes on, so the
    # best epoch is an early one and restoring it is visible in the weights.
    model, x, y = model_and_data()
    fit_by_epoch(model, lambda epoch: batches(x, y), (x, -y), epochs=3, verbose=0, restore_best_weights="val_loss")
    losses = model.history.history["val_loss"]
    best = int(np.argmin(losses))
    assert model.history.best_epoch == best < 2 and losses[best] < losses[-1]
    plain, _, _ = model_and_data()
    fit_by_epoch(plain, lambda epoch: batches(x, y), (x, -y), epochs=best + 1, verbose=0)
    for a, b in zip(model.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    # With checkpoints the best epoch's is kept beside the latest, and a resumed run restores it.
    with_checkpoints, _, _ = model_and_data()
    fit_by_epoch(
        with_checkpoints, lambda epoch: batches(x, y), (x, -y), epochs=2, checkpoint_dir=str(tmp_path),
        verbose=0, restore_best_weights="val_loss",
    )
    assert sorted(os.listdir(tmp_path)) == [f"epoch_{best + 1:04d}", "epoch_0002"][: 2 - (best == 1)]
    resumed, _, _ = model_and_data()
    fit_by_epoch(
        resumed, lambda epoch: batches(x, y), (x, -y), epochs=3, checkpoint_dir=str(tmp_path), verbose=0,
        restore_best_weights="val_loss",
    )
    assert resumed.history.best_epoch == best and sorted(os.listdir(tmp_path)) == [f"epoch_{best + 1:04d}", "epoch_0003"]
    for a, b in zip(resumed.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_restore_best_weights_must_name_a_log(tmp_path):
    model, x, y = model_and_data()
    with pytest.raises(ValueError, match=r"must name a log of `fit`. Received: restore_best_weights='val_acc' \(the logs: loss, val_loss\)"):
        fit_by_epoch(model, lambda epoch: batches(x, y), (x, y), epochs=1, verbose=0, restore_best_weights="val_acc")
    with pytest.raises(ValueError, match=r"must name a log of `fit`. Received: monitor='val_acc' \(the logs: loss, val_loss\)"):
        fit_by_epoch(model, lambda epoch: batches(x, y), (x, y), epochs=1, checkpoint_dir=str(tmp_path), verbose=0, restore_best_weights="val_acc")
    assert os.listdir(tmp_path) == []
