import keras
import tensorflow as tf
from keras import ops

from ulmfit_tf import _keras_internals
from ulmfit_tf.layers import lstm_kernel


HAND_WRITTEN_BACKWARD = True


@keras.saving.register_keras_serializable(package="ulmfit_tf")
class WeightDropLSTM(keras.layers.LSTM):
    """LSTM with DropConnect on the hidden-to-hidden weights (AWD-LSTM).

    During training, each call draws one dropout mask over the recurrent
    kernel, used for every timestep and every sequence of the batch, and
    rescales the kept weights by `1 / (1 - weight_dropout)`. At inference the
    layer is exactly a `keras.layers.LSTM` with the same weights.

    The layer keeps the stock Keras LSTM: on GPU the cuDNN kernel still runs
    (the dropped kernel is swapped in for the duration of the call). On other
    devices the input projection of the whole sequence is computed with one
    matrix product before the time loop, rather than one small product per
    timestep, which is what makes the CPU path fast, and the time loop's
    backward pass is written once (`lstm_kernel`). A mask (padding) adds no
    work inside that loop: each sequence's real steps run first, unmasked,
    and masked steps keep the state and repeat the last output, exactly as
    in Keras' masked loop. The maths is that of `keras.layers.LSTM`.

    Args:
        units: Positive integer, dimensionality of the output space.
        weight_dropout: Float between 0 and 1. Fraction of the recurrent
            kernel's entries to drop during training. Defaults to `0.0`.
        seed: Optional integer, seeds the weight dropout mask and the
            `dropout` / `recurrent_dropout` masks of `keras.layers.LSTM`.
        **kwargs: Any other argument of `keras.layers.LSTM`
            (`return_sequences`, `stateful`, `name`, ...).

    Call arguments:
        sequences: A 3D tensor of shape `(batch, timesteps, features)`.
        initial_state: Optional list of the two initial state tensors.
        mask: Optional boolean tensor of shape `(batch, timesteps)`.
        training: Python boolean, whether to drop weights.

    Example:

    >>> lstm = WeightDropLSTM(8, weight_dropout=0.5, return_sequences=True)
    >>> lstm(np.ones((2, 5, 3)), training=True).shape
    (2, 5, 8)

    Reference:
        - [Merity et al., 2017](https://arxiv.org/abs/1708.02182)
    """

    def __init__(self, units, weight_dropout=0.0, seed=None, **kwargs):
        super().__init__(units, seed=seed, **kwargs)
        if not 0.0 <= weight_dropout < 1.0:
            raise ValueError(
                "Argument `weight_dropout` must be in [0, 1). "
                f"Received: weight_dropout={weight_dropout}"
            )
        self.weight_dropout = weight_dropout
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    # Overrides a method Keras does not document (see `_keras_internals`).
    def inner_loop(self, sequences, initial_state, mask, training=False):
        cell = self.cell
        variable = recurrent_kernel = cell.recurrent_kernel
        if training and self.weight_dropout > 0:
            recurrent_kernel = keras.random.dropout(
                ops.convert_to_tensor(recurrent_kernel),
                self.weight_dropout,
                seed=self.seed_generator,
            )
        # The stock LSTM (its cuDNN kernel, its cell) reads the attribute, so
        # the dropped copy is swapped in; bypassing `Layer.__setattr__` keeps
        # variable tracking untouched.
        object.__setattr__(cell, "recurrent_kernel", recurrent_kernel)
        try:
            if self._uses_cudnn() or cell.dropout or cell.recurrent_dropout:
                return super().inner_loop(
                    sequences, initial_state, mask, training=training
                )
            return self._projected_loop(
                sequences, initial_state, mask, recurrent_kernel
            )
        finally:
            object.__setattr__(cell, "recurrent_kernel", variable)

    def _uses_cudnn(self):
        return self.use_cudnn is True or (
            self.use_cudnn == "auto"
            and keras.backend.backend() == "tensorflow"
            and _gpu_available()
        )

    def _projected_loop(self, sequences, initial_state, mask, recurrent_kernel):
        cell = self.cell
        inputs = ops.matmul(sequences, cell.kernel)
        if cell.use_bias:
            inputs = inputs + cell.bias
        if self._hand_written_backward():
            return self._hand_written_loop(inputs, initial_state, mask, ops.convert_to_tensor(recurrent_kernel))

        def step(projected_inputs, states):
            h_tm1, c_tm1 = states
            z = projected_inputs + ops.matmul(h_tm1, recurrent_kernel)
            c, o = _keras_internals.lstm_step(cell, ops.split(z, 4, axis=-1), c_tm1)
            h = o * cell.activation(c)
            return h, [h, c]

        # The same time loop (masking, `go_backwards`, state handling) that
        # `keras.layers.RNN.inner_loop` runs, minus the per-step input matmul.
        return _keras_internals.rnn(
            step,
            inputs,
            list(initial_state),
            go_backwards=self.go_backwards,
            mask=mask,
            unroll=self.unroll,
            input_length=sequences.shape[1],
            zero_output_for_mask=self.zero_output_for_mask,
            return_all_outputs=self.return_sequences,
        )

    def _hand_written_loop(self, inputs, initial_state, mask, recurrent_kernel):
        if mask is None:
            outputs, cells = lstm_kernel.lstm_sequence(inputs, *initial_state, recurrent_kernel)
            h, c = outputs[:, -1], cells[:, -1]
        else:
            # No masking inside the loop: each row's real steps run first, the rest is dropped.
            outputs, h, c = lstm_kernel.masked_lstm_sequence(
                inputs, mask, *initial_state, recurrent_kernel, self.zero_output_for_mask
            )
        return outputs[:, -1], outputs, [h, c]

    def _hand_written_backward(self):
        return (
            HAND_WRITTEN_BACKWARD
            and keras.backend.backend() == "tensorflow"
            and self.return_sequences
            and not (self.go_backwards or self.unroll)
            and self.activation is keras.activations.tanh
            and self.recurrent_activation is keras.activations.sigmoid
        )

    def get_config(self):
        config = super().get_config()
        config.update({"weight_dropout": self.weight_dropout})
        return config


def _gpu_available():
    return bool(tf.config.list_logical_devices("GPU"))
