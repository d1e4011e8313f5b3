import os

import keras
import numpy as np

from ulmfit_tf.callbacks import EpochCheckpoint


def model_and_data(seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dropout(0.3, seed=1), keras.layers.Dense(2)])
    model.compile(keras.optimizers.Adam(0.01), "mse")
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    return model, x, x[:, :2] * 2


def test_saves_each_epoch_atomically_and_restores_everything(tmp_path):
    model, x, y = model_and_data()
    checkpoint = EpochCheckpoint(tmp_path)
    model.fit(x, y, epochs=2, batch_size=8, shuffle=False, callbacks=[checkpoint], verbose=0)
    assert sorted(os.listdir(tmp_path)) == ["epoch_0002"]  # only the latest is kept
    os.makedirs(tmp_path / "epoch_0003.partial")  # a write cut short by a kill
    restored, _, _ = model_and_data(seed=9)
    assert checkpoint.restore(restored) == 2
    for a, b in zip(model.get_weights(), restored.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert int(restored.optimizer.iterations.numpy()) == 8
    seeds = [v.numpy().tolist() for v in model.variables if v.path.endswith("seed_generator_state")]
    assert seeds == [v.numpy().tolist() for v in restored.variables if v.path.endswith("seed_generator_state")]
    # Both continue identically.
    model.fit(x, y, epochs=3, initial_epoch=2, batch_size=8, shuffle=False, verbose=0)
    restored.fit(x, y, epochs=3, initial_epoch=2, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), restored.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_no_checkpoint_and_non_finite_loss(tmp_path):
    model, x, y = model_and_data()
    checkpoint = EpochCheckpoint(tmp_path / "none")
    assert checkpoint.restore(model) == 0
    checkpoint.set_model(model)
    checkpoint.on_epoch_end(0, {"loss": float("nan")})
    assert checkpoint.latest() is None
