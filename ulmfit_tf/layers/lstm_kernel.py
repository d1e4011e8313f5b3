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

A masked step of Keras' loop keeps the state and repeats the previous
output. `masked_lstm_sequence` gets the same outputs from the plain loop:
it moves each row's real steps to its front (an identity for text padded
after its end, the classifier's batches), runs `lstm_sequence` unmasked, and
spreads the outputs back over the masked steps. No step of the loop does
any masking, and the steps after a row's last real one are read by
nothing, so padding reaches neither the outputs nor the gradients.

This module is TensorFlow-only (`tf.custom_gradient`, `tf.while_loop`):
`WeightDropLSTM` uses it on the TensorFlow backend when no cuDNN,
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
        `(outputs, cells)`: the hidden and the cell states of every step,
        each `(batch, timesteps, units)`; the last step's are the final
        state.
    """
    return _lstm_prefix(projected, initial_h, initial_c, recurrent_kernel, tf.shape(projected)[1])


def _lstm_prefix(projected, initial_h, initial_c, recurrent_kernel, steps):
    """`lstm_sequence` run over the first `steps` timesteps only; zeros after them."""
    # Tensors, not variables: the gradient of a variable read is the caller's.
    tensors = (projected, initial_h, initial_c, recurrent_kernel)
    return _lstm_sequence(*(tf.identity(x) for x in tensors), tf.cast(steps, tf.int32))


def masked_lstm_sequence(projected, mask, initial_h, initial_c, recurrent_kernel, zero_output_for_mask=False):
    """Runs an LSTM over projected inputs, skipping masked steps as Keras does.

    A masked step keeps the state and outputs the previous step's output
    (zeros before the first real step; zeros at every masked step with
    `zero_output_for_mask`), as `keras.layers.LSTM` with a mask. The real
    steps of each row run first, unmasked, in their order: for rows padded
    after their end that order is the identity.

    Args:
        projected: Tensor `(batch, timesteps, 4 * units)`, as for
            `lstm_sequence`.
        mask: Boolean tensor `(batch, timesteps)`, `True` at real steps
            (anywhere in the row).
        initial_h, initial_c: Tensors `(batch, units)`, the initial state.
        recurrent_kernel: Tensor `(units, 4 * units)`.
        zero_output_for_mask: Boolean, zeros as the output of masked steps.

    Returns:
        `(outputs, h, c)`: the outputs `(batch, timesteps, units)` and the
        state after each row's last real step (the initial state for a row
        without one).
    """
    real = tf.cast(mask, tf.bool)
    positions = tf.range(tf.shape(real)[1])[None, :]
    real_first = tf.argsort(tf.where(real, positions, positions + tf.shape(real)[1]), axis=1)
    read = tf.cumsum(tf.cast(real, tf.int32), axis=1)
    # The loop stops after the longest row's real steps: what follows is read by nothing, so a batch
    # padded further (a bucketed length) costs no more steps.
    longest = tf.reduce_max(read[:, -1])
    hs, cs = _lstm_prefix(tf.gather(projected, real_first, batch_dims=1), initial_h, initial_c, recurrent_kernel, longest)
    # Step t shows the output of the last real step at or before it.
    shown = real if zero_output_for_mask else read > 0
    outputs = tf.where(shown[:, :, None], tf.gather(hs, tf.maximum(read - 1, 0), batch_dims=1), tf.zeros([], hs.dtype))
    count = read[:, -1]
    last = tf.maximum(count - 1, 0)
    any_real = (count > 0)[:, None]
    h = tf.where(any_real, tf.gather(hs, last, batch_dims=1), initial_h)
    c = tf.where(any_real, tf.gather(cs, last, batch_dims=1), initial_c)
    return outputs, h, c


@tf.custom_gradient
def _lstm_sequence(projected, initial_h, initial_c, recurrent_kernel, steps):
    dtype = projected.dtype
    inputs = tf.transpose(projected, [1, 0, 2])  # time major
    timesteps = tf.shape(inputs)[0]
    # Steps past `steps` are not run: their outputs, cells and gradients are zeros.
    run = tf.minimum(steps, timesteps)

    def forward(t, h, c, hs, cs, gates):
        z = inputs[t] + tf.matmul(h, recurrent_kernel)
        i, f, g, o = tf.split(z, 4, axis=-1)
        i, f, g, o = tf.sigmoid(i), tf.sigmoid(f), tf.tanh(g), tf.sigmoid(o)
        c = f * c + i * g
        h = o * tf.tanh(c)
        return t + 1, h, c, hs.write(t, h), cs.write(t, c), gates.write(t, tf.concat([i, f, g, o], axis=-1))

    arrays = [tf.TensorArray(dtype, size=timesteps, element_shape=initial_h.shape) for _ in range(2)]
    arrays.append(tf.TensorArray(dtype, size=timesteps, element_shape=projected.shape[:1] + projected.shape[2:]))
    _, _, _, hs, cs, gates = tf.while_loop(
        lambda t, *_: t < run, forward, [tf.constant(0), initial_h, initial_c, *arrays]
    )
    hs, cs, gates = hs.stack(), cs.stack(), gates.stack()  # (time, batch, ...)

    def backward(d_outputs, d_cells):
        d_hs = tf.zeros_like(hs) if d_outputs is None else tf.transpose(d_outputs, [1, 0, 2])
        d_cs = tf.zeros_like(cs) if d_cells is None else tf.transpose(d_cells, [1, 0, 2])
        previous_cs = tf.concat([initial_c[None], cs[:-1]], axis=0)
        transposed_kernel = tf.transpose(recurrent_kernel)

        def step(t, d_h, d_c, d_zs):
            i, f, g, o = tf.split(gates[t], 4, axis=-1)
            tanh_c = tf.tanh(cs[t])
            d_h = d_h + d_hs[t]
            d_c = d_c + d_cs[t] + d_h * o * (1 - tanh_c * tanh_c)
            d_z = tf.concat(
                [d_c * g * i * (1 - i), d_c * previous_cs[t] * f * (1 - f), d_c * i * (1 - g * g),
                 d_h * tanh_c * o * (1 - o)],
                axis=-1,
            )
            return t - 1, tf.matmul(d_z, transposed_kernel), d_c * f, d_zs.write(t, d_z)

        _, d_h, d_c, d_zs = tf.while_loop(
            lambda t, *_: t >= 0,
            step,
            [run - 1, tf.zeros_like(initial_h), tf.zeros_like(initial_c),
             tf.TensorArray(dtype, size=timesteps, element_shape=projected.shape[:1] + projected.shape[2:])],
        )
        d_zs = d_zs.stack()
        previous_hs = tf.concat([initial_h[None], hs[:-1]], axis=0)
        units = tf.shape(initial_h)[-1]
        d_kernel = tf.matmul(tf.reshape(previous_hs, [-1, units]), tf.reshape(d_zs, [-1, 4 * units]), transpose_a=True)
        return tf.transpose(d_zs, [1, 0, 2]), d_h, d_c, d_kernel, None

    return (tf.transpose(hs, [1, 0, 2]), tf.transpose(cs, [1, 0, 2])), backward
