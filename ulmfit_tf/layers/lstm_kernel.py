"""The LSTM time loop with its backward pass written once, for TensorFlow on CPU.

TensorFlow differentiates a `tf.while_loop` op by op: each timestep of the
backward pass multiplies by the recurrent kernel twice (the state's
gradient, and that step's share of the kernel's gradient) and keeps every
intermediate of every gate. `lstm_sequence` keeps the activated gates and
the cell states, runs one matrix product per step backwards (the state's
gradient) and gets the recurrent kernel's gradient for all timesteps at
once, `H_{t-1}^T dZ`, with one large product. The maths is that of
`keras.layers.LSTM` (gates i, f, c, o; sigmoid and tanh); the tests check
outputs and gradients against it.

This module is TensorFlow-only (`tf.custom_gradient`, `tf.while_loop`):
`WeightDropLSTM` uses it on the TensorFlow backend when no cuDNN, mask,
`go_backwards` or unrolling is involved.
"""

import tensorflow as tf


def lstm_sequence(projected, initial_h, initial_c, recurrent_kernel):
    """Runs an LSTM over projected inputs.

    Args:
        projected: Tensor `(batch, timesteps, 4 * units)`, the inputs times
            the input kernel plus the bias (gates in Keras' order i, f, c, o).
        initial_h, initial_c: Tensors `(batch, units)`, the initial state.
        recurrent_kernel: Tensor `(units, 4 * units)`.

    Returns:
        `(outputs, h, c)`: the hidden states `(batch, timesteps, units)` and
        the last state.
    """
    # Tensors, not variables: the gradient of a variable read is the caller's.
    return _lstm_sequence(*(tf.identity(x) for x in (projected, initial_h, initial_c, recurrent_kernel)))


@tf.custom_gradient
def _lstm_sequence(projected, initial_h, initial_c, recurrent_kernel):
    dtype = projected.dtype
    inputs = tf.transpose(projected, [1, 0, 2])  # time major
    steps = tf.shape(inputs)[0]

    def forward(t, h, c, hs, cs, gates):
        z = inputs[t] + tf.matmul(h, recurrent_kernel)
        i, f, g, o = tf.split(z, 4, axis=-1)
        i, f, g, o = tf.sigmoid(i), tf.sigmoid(f), tf.tanh(g), tf.sigmoid(o)
        c = f * c + i * g
        h = o * tf.tanh(c)
        return t + 1, h, c, hs.write(t, h), cs.write(t, c), gates.write(t, tf.concat([i, f, g, o], axis=-1))

    arrays = [tf.TensorArray(dtype, size=steps) for _ in range(3)]
    _, h, c, hs, cs, gates = tf.while_loop(
        lambda t, *_: t < steps, forward, [tf.constant(0), initial_h, initial_c, *arrays]
    )
    hs, cs, gates = hs.stack(), cs.stack(), gates.stack()  # (time, batch, ...)

    def backward(d_outputs, d_h, d_c):
        d_hs = tf.transpose(d_outputs, [1, 0, 2]) if d_outputs is not None else tf.zeros_like(hs)
        d_h = tf.zeros_like(initial_h) if d_h is None else d_h
        d_c = tf.zeros_like(initial_c) if d_c is None else d_c
        previous_cs = tf.concat([initial_c[None], cs[:-1]], axis=0)
        transposed_kernel = tf.transpose(recurrent_kernel)

        def step(t, d_h, d_c, d_zs):
            i, f, g, o = tf.split(gates[t], 4, axis=-1)
            tanh_c = tf.tanh(cs[t])
            d_h = d_h + d_hs[t]
            d_c = d_c + d_h * o * (1 - tanh_c * tanh_c)
            d_z = tf.concat(
                [d_c * g * i * (1 - i), d_c * previous_cs[t] * f * (1 - f), d_c * i * (1 - g * g),
                 d_h * tanh_c * o * (1 - o)],
                axis=-1,
            )
            return t - 1, tf.matmul(d_z, transposed_kernel), d_c * f, d_zs.write(t, d_z)

        _, d_h, d_c, d_zs = tf.while_loop(
            lambda t, *_: t >= 0, step, [steps - 1, d_h, d_c, tf.TensorArray(dtype, size=steps)]
        )
        d_zs = d_zs.stack()
        previous_hs = tf.concat([initial_h[None], hs[:-1]], axis=0)
        units = tf.shape(initial_h)[-1]
        d_kernel = tf.matmul(tf.reshape(previous_hs, [-1, units]), tf.reshape(d_zs, [-1, 4 * units]), transpose_a=True)
        return tf.transpose(d_zs, [1, 0, 2]), d_h, d_c, d_kernel

    return (tf.transpose(hs, [1, 0, 2]), h, c), backward
