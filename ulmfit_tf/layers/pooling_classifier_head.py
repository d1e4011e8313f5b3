import keras


@keras.saving.register_keras_serializable(package="ulmfit_tf")
class PoolingClassifierHead(keras.layers.Layer):
    """ULMFiT's classifier head on the pooled encoder states.

    fastai's `PoolingLinearClassifier` after the pooling: one block per
    layer, each `BatchNormalization -> Dropout -> Dense (no bias)`, with a
    ReLU after every block but the last. With the defaults that is
    `BatchNorm -> Dropout(0.4) -> Dense(50) -> ReLU -> BatchNorm ->
    Dropout(0.1) -> Dense(num_outputs)`. BatchNorm uses PyTorch's settings
    (epsilon 1e-5, running statistics updated by 0.1 of each batch), so
    fastai's statistics load as they are. Under a `tf.distribute` strategy
    the batch statistics span all replicas (`synchronized=True`), as on one
    device. The outputs (logits) are float32, also under mixed precision.

    Args:
        num_outputs: Integer, number of outputs (classes).
        hidden_dims: Tuple of integers, units of the hidden blocks.
            Defaults to `(50,)`.
        dropout_rates: Tuple of floats, one dropout rate per block (so one
            more than `hidden_dims`). Defaults to `(0.4, 0.1)`, fastai's
            `output_p` and `0.1`.
        seed: Optional integer, seeds the dropout masks.
        **kwargs: Base layer keyword arguments, such as `name`.

    Call arguments:
        inputs: A 2D tensor `(batch, features)`, e.g. from `ConcatPooling`.
        training: Python boolean: dropout on, BatchNorm uses batch
            statistics and updates its running ones.

    Example:

    >>> head = PoolingClassifierHead(num_outputs=3)
    >>> head(np.ones((2, 1200))).shape
    (2, 3)

    Reference:
        - [Howard & Ruder, 2018](https://arxiv.org/abs/1801.06146)
    """

    def __init__(self, num_outputs, hidden_dims=(50,), dropout_rates=(0.4, 0.1), seed=None, **kwargs):
        super().__init__(**kwargs)
        hidden_dims = tuple(int(units) for units in hidden_dims)
        dropout_rates = tuple(float(rate) for rate in dropout_rates)
        if not isinstance(num_outputs, int) or num_outputs < 1:
            raise ValueError(f"Argument `num_outputs` must be a positive integer. Received: num_outputs={num_outputs}")
        if len(dropout_rates) != len(hidden_dims) + 1:
            raise ValueError(
                "Argument `dropout_rates` must hold one rate per block, "
                f"len(hidden_dims) + 1 = {len(hidden_dims) + 1}. Received: dropout_rates={dropout_rates}"
            )
        self.num_outputs = num_outputs
        self.hidden_dims = hidden_dims
        self.dropout_rates = dropout_rates
        self.seed = seed
        units = hidden_dims + (num_outputs,)
        self.batch_norms, self.dropouts, self.denses = [], [], []
        for i, (size, rate) in enumerate(zip(units, dropout_rates)):
            last = i == len(units) - 1
            self.batch_norms.append(
                keras.layers.BatchNormalization(
                    momentum=0.9, epsilon=1e-5, synchronized=True, name=f"batch_normalization_{i}"
                )
            )
            self.dropouts.append(
                keras.layers.Dropout(rate, seed=None if seed is None else seed + i, name=f"dropout_{i}")
            )
            self.denses.append(
                keras.layers.Dense(
                    size,
                    activation=None if last else "relu",
                    use_bias=False,
                    dtype="float32" if last else self.dtype_policy,
                    name=f"dense_{i}",
                )
            )

    def build(self, input_shape):
        shape = input_shape
        for batch_norm, dense in zip(self.batch_norms, self.denses):
            batch_norm.build(shape)
            dense.build(shape)
            shape = dense.compute_output_shape(shape)

    def call(self, inputs, training=False):
        x = inputs
        for batch_norm, dropout, dense in zip(self.batch_norms, self.dropouts, self.denses):
            x = dense(dropout(batch_norm(x, training=training), training=training))
        return x

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_outputs)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_outputs": self.num_outputs,
                "hidden_dims": list(self.hidden_dims),
                "dropout_rates": list(self.dropout_rates),
                "seed": self.seed,
            }
        )
        return config
