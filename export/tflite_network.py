"""The classifier's network as the float TFLite files run it: fixed windows, the state carried."""

import tensorflow as tf

# Tokens per window. Short texts pay for at most `WINDOW - 1` padded steps;
# LiteRT copies a loop's carried tensors at every step, so a longer window
# (a larger projected input and output) costs more per token: at the bundled
# preset's size, 8 / 16 / 32 tokens took 72 / 63 / 172 ms for 819 tokens.
WINDOW = 16


def windowed_network(classifier, window=WINDOW):
    """The classifier's inference on one unpadded text, in windows of `window` tokens.

    The same maths as `classifier(token_ids)` for a `(1, time)` batch of one
    text, arranged so that LiteRT runs it in time linear in the text's
    length and with shapes that do not depend on it inside the loop:

    - the text is padded to whole windows; one `WHILE` loop runs over the
      windows, carrying only each LSTM's `(h, c)` and the pooling's running
      maximum, sum and the top LSTM's last state (Keras 3's LSTM converts to
      a loop carrying the whole output sequence, which LiteRT copies or
      grows at every step: time quadratic in the length, 17 s for 2,665
      tokens);
    - inside a window every layer's input projection is one matrix product
      and an inner loop runs the `window` recurrent steps, all of static
      shape (unrolled steps would each hold their own copy of the weights
      packed by XNNPACK: about 4x slower);
    - masked steps (padding, and the window's tail after the text) carry
      the state, as the masked Keras LSTM does, with exact arithmetic
      (`m * new + (1 - m) * old` for `m` in {0, 1});
    - concat pooling reads the positions of `LastChunksMask`: the last
      state, the maximum and the mean, zeros for a text with none.

    Args:
        classifier: A `ULMFiTTextClassifier`.
        window: Integer, tokens per window.

    Returns:
        A function from int32 token ids `(1, time)` to the model's outputs
        `(1, num_classes)` (logits, or regression values).

    Example:

    ```python
    forward = windowed_network(classifier)
    logits = forward(tf.constant([[31, 7, 268]]))  # == classifier(...) to ~1e-6
    ```
    """
    if not isinstance(window, int) or window < 1:
        raise ValueError(f"Argument `window` must be a positive integer. Received: window={window!r}")
    backbone = classifier.backbone
    layers = [
        [tf.cast(w, tf.float32) for w in (lstm.cell.kernel, lstm.cell.recurrent_kernel, lstm.cell.bias)]
        for lstm in backbone.lstm_layers
    ]
    top_units = backbone.lstm_layers[-1].units

    def embed(ids):
        return tf.cast(backbone.embedding_dropout_layer(ids[None], training=False)[0], tf.float32)

    def forward(token_ids):
        ids = token_ids[0]
        length = tf.shape(ids)[0]
        real = tf.ones_like(ids, tf.bool) if backbone.padding_id is None else ids != backbone.padding_id
        first = classifier.pooling_mask.first_pooled_position(tf.reduce_sum(tf.cast(real, tf.int32)))
        count = tf.cast(tf.reduce_sum(tf.cast(tf.logical_and(real, tf.range(length) >= first), tf.int32)), tf.float32)
        windows = (length + window - 1) // window
        # The loop carries (and LiteRT copies at each window) only the ids.
        ids = tf.pad(ids, [[0, windows * window - length]])

        def body(k, states, maximum, total):
            start = k * window
            window_ids = tf.slice(ids, [start], [window])
            positions = start + tf.range(window)
            take = positions < length
            if backbone.padding_id is not None:
                take = tf.logical_and(take, window_ids != backbone.padding_id)
            pooled = tf.cast(tf.logical_and(take, positions >= first), tf.float32)[:, None]
            take = tf.cast(take, tf.float32)
            step_mask = tf.stack([1.0 - take, take], axis=1)[:, :, None, None]  # (window, keep/take, 1, 1)
            x = embed(window_ids)
            new_states = []
            for state, weights in zip(states, layers):
                x, state = _lstm_window(x, step_mask, state, weights, window)
                new_states.append(state)
            maximum = tf.maximum(maximum, tf.reduce_max(tf.where(pooled > 0, x, -float("inf")), 0, keepdims=True))
            return k + 1, new_states, maximum, total + tf.reduce_sum(x * pooled, 0, keepdims=True)

        zeros = [(tf.zeros([1, w[1].shape[0]]), tf.zeros([1, w[1].shape[0]])) for w in layers]
        top = tf.zeros([1, top_units])
        _, states, maximum, total = tf.while_loop(
            lambda k, *_: k < windows, body, (tf.constant(0), zeros, top - float("inf"), top)
        )
        features = tf.concat([states[-1][0], maximum, total / tf.maximum(count, 1.0)], axis=-1)
        x = tf.where(count > 0, features, tf.zeros_like(features))
        x = classifier.head(x, training=False)
        return x if classifier.output_range is None else classifier.output_range(x)

    return forward


def _lstm_window(x, step_mask, state, weights, window):
    """One LSTM over a window: the input projection at once, then `window` recurrent steps in a loop.

    `step_mask[t]` holds `(keep, take)`: a masked step keeps the state.
    Returns the window's outputs `(window, units)` and the last `(h, c)`.
    """
    kernel, recurrent_kernel, bias = weights
    projected = tf.matmul(x, kernel) + bias
    units = recurrent_kernel.shape[0]

    def step(t, h, c, outputs):
        gates = tf.slice(projected, [t, 0], [1, 4 * units]) + tf.matmul(h, recurrent_kernel)
        i, f, g, o = tf.split(gates, 4, axis=1)
        new_c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
        new_h = tf.sigmoid(o) * tf.tanh(new_c)
        keep, take = tf.unstack(tf.slice(step_mask, [t, 0, 0, 0], [1, 2, 1, 1])[0])
        h = take * new_h + keep * h
        row = tf.one_hot(t, window)[:, None]
        return t + 1, h, take * new_c + keep * c, (1.0 - row) * outputs + row * h

    _, h, c, outputs = tf.while_loop(
        lambda t, *_: t < window, step, (tf.constant(0), *state, tf.zeros([window, units]))
    )
    return outputs, (h, c)
