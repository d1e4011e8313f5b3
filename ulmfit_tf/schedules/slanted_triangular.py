import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="ulmfit_tf")
class SlantedTriangularLR(keras.optimizers.schedules.LearningRateSchedule):
    """Slanted triangular learning rates (ULMFiT, eq. 3).

    The rate rises linearly from `max_lr / ratio` to `max_lr` over the first
    `cut = floor(total_steps * cut_frac)` steps, then decays linearly back
    towards `max_lr / ratio`:

    ```
    p = t / cut                                    if t < cut
    p = 1 - (t - cut) / (cut * (1 / cut_frac - 1))  otherwise
    lr = max_lr * (1 + p * (ratio - 1)) / ratio
    ```

    `t` is the optimizer's step, counted from 0. Once `p` reaches 0 (at
    `t = total_steps` when `total_steps * cut_frac` is a whole number, a
    little earlier otherwise) it is held there: past the end of training the
    rate stays at `max_lr / ratio` rather than going below it. When
    `total_steps` is so small that `cut` would be 0, `cut` is 1.

    Args:
        max_lr: Float > 0, the peak learning rate (paper: 0.01).
        total_steps: Integer > 0, the number of training steps `T`
            (see `ulmfit_tf.schedules.total_steps`).
        cut_frac: Float in (0, 1), the fraction of steps spent rising.
            Defaults to `0.1`.
        ratio: Float >= 1, how much smaller the lowest rate is than
            `max_lr`. Defaults to `32`.
        name: Optional string, name scope of the operations.

    Example:

    >>> schedule = SlantedTriangularLR(max_lr=0.01, total_steps=1000)
    >>> round(float(schedule(100)), 6)  # the peak, at cut = 100
    0.01
    >>> optimizer = keras.optimizers.Adam(learning_rate=schedule)

    Reference:
        - [Howard & Ruder, 2018](https://arxiv.org/abs/1801.06146)
    """

    def __init__(self, max_lr, total_steps, cut_frac=0.1, ratio=32, name="SlantedTriangularLR"):
        super().__init__()
        if not max_lr > 0:
            raise ValueError(f"Argument `max_lr` must be > 0. Received: max_lr={max_lr}")
        if not isinstance(total_steps, int) or total_steps < 1:
            raise ValueError(
                "Argument `total_steps` must be a positive integer. "
                f"Received: total_steps={total_steps}"
            )
        if not 0 < cut_frac < 1:
            raise ValueError(
                f"Argument `cut_frac` must be in (0, 1). Received: cut_frac={cut_frac}"
            )
        if not ratio >= 1:
            raise ValueError(f"Argument `ratio` must be >= 1. Received: ratio={ratio}")
        self.max_lr = max_lr
        self.total_steps = total_steps
        self.cut_frac = cut_frac
        self.ratio = ratio
        self.name = name

    @property
    def cut(self):
        return max(1, math.floor(self.total_steps * self.cut_frac))

    def __call__(self, step):
        with keras.name_scope(self.name):
            step = ops.cast(step, "float32")
            cut = float(self.cut)
            rising = step / cut
            decaying = 1.0 - (step - cut) / (cut * (1.0 / self.cut_frac - 1.0))
            p = ops.maximum(ops.where(step < cut, rising, decaying), 0.0)
            return self.max_lr * (1.0 + p * (self.ratio - 1.0)) / self.ratio

    def get_config(self):
        return {
            "max_lr": self.max_lr,
            "total_steps": self.total_steps,
            "cut_frac": self.cut_frac,
            "ratio": self.ratio,
            "name": self.name,
        }


def total_steps(epochs, steps_per_epoch=None, dataset=None):
    """Number of optimizer steps of a `fit` call, for `SlantedTriangularLR`.

    Args:
        epochs: Integer > 0, the epochs of the `fit` call.
        steps_per_epoch: Integer > 0, batches per epoch. Give this or
            `dataset`.
        dataset: A finite, batched `tf.data.Dataset` whose length is known
            (`dataset.cardinality()`), one epoch of the training data.

    Returns:
        `epochs * steps_per_epoch`.

    Example:

    >>> total_steps(epochs=2, steps_per_epoch=50)
    100
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"Argument `epochs` must be a positive integer. Received: epochs={epochs}")
    if (steps_per_epoch is None) == (dataset is None):
        raise ValueError(
            "Pass exactly one of `steps_per_epoch` and `dataset`. "
            f"Received: steps_per_epoch={steps_per_epoch}, dataset={dataset}"
        )
    if dataset is not None:
        steps_per_epoch = int(dataset.cardinality())
        if steps_per_epoch < 0:
            raise ValueError(
                "Argument `dataset` must have a known, finite number of batches "
                "(an infinite or filtered dataset has none: pass "
                "`steps_per_epoch`, or `dataset.apply(tf.data.experimental."
                f"assert_cardinality(n))`). Received: cardinality={steps_per_epoch}"
            )
    if not isinstance(steps_per_epoch, int) or steps_per_epoch < 1:
        raise ValueError(
            "Argument `steps_per_epoch` must be a positive integer. "
            f"Received: steps_per_epoch={steps_per_epoch}"
        )
    return epochs * steps_per_epoch
