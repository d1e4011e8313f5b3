import keras
import numpy as np
import pytest
import tensorflow as tf

from ulmfit_tf.layers import lstm_kernel
from ulmfit_tf.layers import weight_drop_lstm
from ulmfit_tf.layers.lstm_kernel import lstm_sequence
from ulmfit_tf.layers.lstm_kernel import masked_lstm_sequence
from ulmfit_tf.layers.weight_drop_lstm import WeightDropLSTM


def gradients(function, inputs, variables):
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        outputs = function()
        # Weighted so that every output, and each position, gets its own gradient.
        weights = [tf.random.stateless_normal(tf.shape(o), seed=[i, 7]) for i, o in enumerate(outputs)]
        loss = sum(tf.reduce_sum(o * w) for o, w in zip(outputs, weights))
    return outputs, tape.gradient(loss, list(inputs) + list(variables))


@pytest.mark.parametrize("batch, steps, features, units", [(3, 7, 5, 4), (2, 1, 3, 6), (4, 30, 8, 16)])
def test_outputs_and_gradients_match_keras_lstm(batch, steps, features, units):
    rng = np.random.default_rng(steps)
    x = tf.constant(rng.normal(size=(batch, steps, features)), tf.float32)
    h0 = tf.constant(rng.normal(size=(batch, units)), tf.float32)
    c0 = tf.constant(rng.normal(size=(batch, units)), tf.float32)
    reference = keras.layers.LSTM(units, return_sequences=True, return_state=True)
    reference(x, initial_state=[h0, c0])
    cell = reference.cell
    cell.bias.assign(rng.normal(size=cell.bias.shape))
    variables = [cell.kernel, cell.recurrent_kernel, cell.bias]

    expected, expected_grads = gradients(lambda: reference(x, initial_state=[h0, c0]), [x, h0, c0], variables)

    def ours():
        outputs, cells = lstm_sequence(tf.matmul(x, cell.kernel) + cell.bias, h0, c0, cell.recurrent_kernel)
        return outputs, outputs[:, -1], cells[:, -1]

    actual, actual_grads = gradients(ours, [x, h0, c0], variables)
    for a, b in zip(list(actual) + actual_grads, list(expected) + expected_grads):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def lengths_mask(lengths, steps):
    """Rows padded after their text."""
    return np.arange(steps)[None, :] < np.asarray(lengths)[:, None]


MASKS = {
    # Varied lengths in one batch, one-token texts, an empty row.
    "right-padded": lengths_mask([7, 1, 4, 0, 1, 6], 7),
    "left-padded": lengths_mask([7, 1, 4, 0, 1, 6], 7)[:, ::-1],
    "holes": np.array(
        [[1, 0, 1, 1, 0, 0, 1], [0, 1, 0, 0, 1, 1, 0], [1] * 7, [0] * 7, [0, 0, 1, 0, 0, 0, 0], [1, 1, 0, 1, 0, 1, 1]],
        bool,
    ),
    # A long document beside short ones.
    "long": lengths_mask([300, 2, 150, 299], 300),
    # Padded past every row's end (a bucketed length), and a batch with no real step.
    "bucketed": lengths_mask([3, 1, 2], 16),
    "empty": lengths_mask([0, 0], 4),
}


def test_the_masked_loop_stops_after_the_longest_row():
    """Steps after every row's end are never run: NaN there reaches no output and no gradient."""
    rng = np.random.default_rng(0)
    mask = lengths_mask([3, 1, 5], 12)
    projected = rng.normal(size=(3, 12, 8)).astype("float32")
    h0, c0, kernel = (tf.constant(rng.normal(size=shape), tf.float32) for shape in [(3, 2), (3, 2), (2, 8)])
    poisoned = projected.copy()
    poisoned[:, 5:] = np.nan

    def run(inputs, steps):
        x = tf.constant(inputs[:, :steps])
        with tf.GradientTape() as tape:
            tape.watch([x, kernel])
            outputs, h, c = masked_lstm_sequence(x, mask[:, :steps], h0, c0, kernel)
            loss = tf.reduce_sum(outputs[:, :5] ** 2) + tf.reduce_sum(h * c)
        return [outputs[:, :5], h, c, *tape.gradient(loss, [x, kernel])]

    expected, actual = run(projected, 5), run(poisoned, 12)
    actual[3] = actual[3][:, :5]
    for a, b in zip(actual, expected):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("zero_output_for_mask", [False, True])
@pytest.mark.parametrize("name", list(MASKS))
def test_masked_outputs_and_gradients_match_keras_masked_loop(name, zero_output_for_mask):
    mask = MASKS[name]
    (batch, steps), features, units = mask.shape, 5, 6
    rng = np.random.default_rng(steps)
    x = tf.constant(rng.normal(size=(batch, steps, features)), tf.float32)
    h0 = tf.constant(rng.normal(size=(batch, units)), tf.float32)
    c0 = tf.constant(rng.normal(size=(batch, units)), tf.float32)
    reference = keras.layers.LSTM(
        units, return_sequences=True, return_state=True, zero_output_for_mask=zero_output_for_mask
    )
    reference(x, initial_state=[h0, c0])
    cell = reference.cell
    cell.bias.assign(rng.normal(size=cell.bias.shape))
    variables = [cell.kernel, cell.recurrent_kernel, cell.bias]

    expected, expected_grads = gradients(
        lambda: reference(x, initial_state=[h0, c0], mask=tf.constant(mask)), [x, h0, c0], variables
    )
    actual, actual_grads = gradients(
        lambda: masked_lstm_sequence(
            tf.matmul(x, cell.kernel) + cell.bias, mask, h0, c0, cell.recurrent_kernel, zero_output_for_mask
        ),
        [x, h0, c0],
        variables,
    )
    for a, b in zip(list(actual) + actual_grads, list(expected) + expected_grads):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(actual_grads[0].numpy()[~mask], 0)  # masked steps' inputs get no gradient


@pytest.mark.parametrize("padded", [False, True])
def test_weight_drop_lstm_takes_the_hand_written_path_only_where_it_applies(monkeypatch, padded):
    x = np.random.default_rng(0).normal(size=(2, 6, 3)).astype("float32")
    mask = np.array([[True] * 6, [True] * 4 + [False] * 2]) if padded else None
    layer = WeightDropLSTM(5, weight_dropout=0.5, return_sequences=True, seed=3)
    layer(x)
    calls = []
    real = lstm_kernel._lstm_sequence  # the loop both the plain and the masked path run

    def spy(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(lstm_kernel, "_lstm_sequence", spy)
    layer(x, mask=mask, training=True)
    assert calls == [1]
    backwards = WeightDropLSTM(5, return_sequences=True, go_backwards=True)
    backwards(x, mask=mask)  # Keras' loop
    assert calls == [1]
    # Training with weight dropout: the same mask, loss and gradient either way.
    seed_state = layer.seed_generator.state.numpy()

    def train_step():
        layer.seed_generator.state.assign(seed_state)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(layer(x, mask=mask, training=True) ** 2)
        return [loss] + tape.gradient(loss, layer.trainable_variables)

    monkeypatch.setattr(weight_drop_lstm, "HAND_WRITTEN_BACKWARD", False)
    plain = train_step()
    monkeypatch.setattr(weight_drop_lstm, "HAND_WRITTEN_BACKWARD", True)
    hand_written = train_step()
    for a, b in zip(hand_written, plain):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert float(tf.reduce_sum(tf.cast(hand_written[2] == 0, tf.int32))) > 0  # dropped entries get no gradient
