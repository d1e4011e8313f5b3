import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import save_and_reload
from ulmfit_tf.layers import WeightDropLSTM


def built_pair(units=6, features=4, **kwargs):
    """A WeightDropLSTM and a stock LSTM holding the same weights."""
    kwargs.setdefault("return_sequences", True)
    ours = WeightDropLSTM(units, weight_dropout=0.5, seed=7, **kwargs)
    stock = keras.layers.LSTM(units, **kwargs)
    ours.build((None, None, features))
    stock.build((None, None, features))
    stock.set_weights(ours.get_weights())
    return ours, stock


def dropped_entries(layer, x):
    """Recurrent-kernel entries whose gradient is zero after one call."""
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x, training=True))
    gradient = tape.gradient(loss, layer.cell.recurrent_kernel)
    return tf.convert_to_tensor(gradient).numpy() == 0


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_inference_equals_stock_lstm(go_backwards, return_sequences, masked):
    ours, stock = built_pair(
        go_backwards=go_backwards, return_sequences=return_sequences
    )
    x = np.random.normal(size=(3, 7, 4)).astype("float32")
    mask = None
    if masked:
        mask = np.ones((3, 7), bool)
        mask[0, 5:] = False  # padded after the text
        mask[1, :2] = False  # padded before it
    np.testing.assert_allclose(
        ours(x, mask=mask), stock(x, mask=mask), atol=1e-6
    )


def test_one_mask_for_all_timesteps_and_the_whole_batch():
    ours, stock = built_pair()
    x = np.random.normal(size=(5, 9, 4)).astype("float32")
    seed_state = ours.seed_generator.state.numpy()
    dropped = dropped_entries(ours, x)
    assert 0.3 < dropped.mean() < 0.7
    # Replay the same mask: the training output is exactly a plain LSTM whose
    # recurrent kernel is this one masked matrix, rescaled by 1 / (1 - p).
    ours.seed_generator.state.assign(seed_state)
    out = ours(x, training=True)
    recurrent = ours.cell.recurrent_kernel.numpy()
    stock.cell.recurrent_kernel.assign(np.where(dropped, 0, recurrent / 0.5))
    np.testing.assert_allclose(out, stock(x), atol=1e-5)
    # The variable itself is untouched and still tracked once.
    np.testing.assert_array_equal(ours.cell.recurrent_kernel.numpy(), recurrent)
    assert len(ours.trainable_variables) == 3


def test_new_mask_each_call_also_in_a_compiled_function():
    ours, _ = built_pair()
    x = tf.constant(np.random.normal(size=(2, 5, 4)).astype("float32"))
    assert not np.array_equal(dropped_entries(ours, x), dropped_entries(ours, x))

    @tf.function
    def gradient():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(ours(x, training=True))
        return tape.gradient(loss, ours.cell.recurrent_kernel)

    first, second = gradient().numpy() == 0, gradient().numpy() == 0
    assert not np.array_equal(first, second)


def test_gradients_reach_the_recurrent_kernel_variable():
    ours, _ = built_pair()
    x = np.random.normal(size=(2, 5, 4)).astype("float32")
    dropped = dropped_entries(ours, x)
    assert dropped.any() and (~dropped).any()
    # Without weight drop every entry gets a gradient.
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(ours(x, training=False))
    gradient = tape.gradient(loss, ours.cell.recurrent_kernel)
    assert np.all(tf.convert_to_tensor(gradient).numpy() != 0)


def test_trains_in_fit_and_saves(tmp_path):
    model = keras.Sequential(
        [
            keras.Input((6, 3)),
            WeightDropLSTM(5, weight_dropout=0.3, seed=1, name="lstm_0"),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    x = np.random.normal(size=(64, 6, 3)).astype("float32")
    y = x[:, -1, :1]
    history = model.fit(x, y, epochs=15, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    restored = save_and_reload(model, tmp_path)
    assert restored.layers[0].weight_dropout == 0.3
    np.testing.assert_allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


def test_config_round_trip():
    layer = WeightDropLSTM(4, weight_dropout=0.2, seed=3, stateful=True, name="lstm_1")
    restored = WeightDropLSTM.from_config(layer.get_config())
    assert (restored.units, restored.weight_dropout, restored.seed, restored.cell.seed) == (4, 0.2, 3, 3)
    assert restored.stateful and restored.name == "lstm_1"


def test_bad_weight_dropout():
    with pytest.raises(ValueError, match=r"Argument `weight_dropout` must be in \[0, 1\). Received: weight_dropout=1.0"):
        WeightDropLSTM(4, weight_dropout=1.0)


def test_seed_also_seeds_the_lstm_dropout_masks():
    # `seed` used to stop at the weight dropout, leaving `dropout` unseeded.
    x = np.random.normal(size=(3, 5, 4)).astype("float32")
    outputs = []
    for _ in range(2):
        layer = WeightDropLSTM(6, dropout=0.5, recurrent_dropout=0.5, seed=11, return_sequences=True)
        layer.build(x.shape)
        layer.set_weights([np.full(w.shape, 0.1, "float32") for w in layer.get_weights()])
        outputs.append(np.asarray(layer(x, training=True)))
    assert layer.cell.seed == 11
    np.testing.assert_array_equal(outputs[0], outputs[1])
    plain = np.asarray(layer(x, training=False))
    assert not np.allclose(outputs[0], plain)
