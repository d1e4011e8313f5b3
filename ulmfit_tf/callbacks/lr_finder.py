import math

import keras
import numpy as np
import tensorflow as tf

from ulmfit_tf.errors import UserInputError


class LRFinder(keras.callbacks.Callback):
    """Raises the learning rate exponentially, batch by batch, and records the loss.

    The rate of batch `i` of `num_steps` is
    `start_lr * (end_lr / start_lr) ** (i / (num_steps - 1))`. The recorded
    loss is each batch's own loss (recovered from Keras' running mean),
    smoothed with an exponential moving average (`smoothing`, debiased as
    in fastai). Training stops once the smoothed loss exceeds
    `divergence_factor` times the best one seen, or becomes NaN. Use it
    through `ulmfit_tf.lr_find`, which also restores the model afterwards.

    Args:
        start_lr: Float > 0, the first rate.
        end_lr: Float > `start_lr`, the last rate.
        num_steps: Integer >= 2, batches over which the rate rises.
        smoothing: Float in [0, 1), the moving average's factor. Defaults
            to `0.98`.
        divergence_factor: Float > 1. Defaults to `4.0`.

    Example:

    ```python
    finder = LRFinder(num_steps=100)
    model.fit(data.repeat(), steps_per_epoch=100, callbacks=[finder])
    finder.learning_rates, finder.losses
    ```
    """

    def __init__(self, start_lr=1e-7, end_lr=10.0, num_steps=100, smoothing=0.98, divergence_factor=4.0):
        super().__init__()
        if not 0 < start_lr < end_lr:
            raise ValueError(
                "Arguments `start_lr` and `end_lr` must satisfy 0 < start_lr < end_lr. "
                f"Received: start_lr={start_lr}, end_lr={end_lr}"
            )
        if not isinstance(num_steps, int) or num_steps < 2:
            raise ValueError(f"Argument `num_steps` must be an integer >= 2. Received: num_steps={num_steps}")
        if not 0 <= smoothing < 1:
            raise ValueError(f"Argument `smoothing` must be in [0, 1). Received: smoothing={smoothing}")
        self.start_lr = start_lr
        self.end_lr = end_lr
        self.num_steps = num_steps
        self.smoothing = smoothing
        self.divergence_factor = divergence_factor

    def rate_at(self, step):
        return self.start_lr * (self.end_lr / self.start_lr) ** (step / (self.num_steps - 1))

    def on_train_begin(self, logs=None):
        self.learning_rates, self.losses = [], []
        self._average = 0.0
        self._best = math.inf
        self._previous_mean = 0.0

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate = self.rate_at(len(self.losses))

    def on_train_batch_end(self, batch, logs=None):
        # Keras logs the running mean of the epoch; undo it for this batch.
        mean = float(logs["loss"])
        loss = (batch + 1) * mean - batch * self._previous_mean
        self._previous_mean = mean
        step = len(self.losses)
        self._average = self.smoothing * self._average + (1 - self.smoothing) * loss
        smoothed = self._average / (1 - self.smoothing ** (step + 1))
        self.learning_rates.append(self.rate_at(step))
        self.losses.append(smoothed)
        self._best = min(self._best, smoothed)
        if not math.isfinite(smoothed) or smoothed > self.divergence_factor * self._best:
            self.model.stop_training = True
        elif len(self.losses) >= self.num_steps:
            self.model.stop_training = True


class LRFindResult:
    """What `lr_find` measured: rates, smoothed losses and suggestions.

    Attributes:
        learning_rates: List of the rates tried, one per batch.
        losses: List of the smoothed losses.
        suggestions: Dict with fastai's suggestions: `"valley"` (within the
            longest stretch of decreasing loss), `"steep"` (steepest
            descent) and `"minimum"` (a tenth of the rate at the lowest
            loss).
    """

    def __init__(self, learning_rates, losses):
        self.learning_rates = list(learning_rates)
        self.losses = list(losses)
        self.suggestions = suggest(self.learning_rates, self.losses)

    def plot(self, path):
        """Saves a PNG of loss against learning rate (needs matplotlib)."""
        try:  # deferred: matplotlib is optional, needed only for this plot
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError("Plotting needs matplotlib: pip install matplotlib") from None
        figure, axes = plt.subplots(figsize=(6, 4))
        axes.plot(self.learning_rates, self.losses)
        for (name, rate), color in zip(self.suggestions.items(), ("C1", "C2", "C3")):
            axes.axvline(rate, color=color, linestyle="--", label=f"{name}: {rate:.2e}")
        axes.set_xscale("log")
        axes.set_xlabel("learning rate")
        axes.set_ylabel("loss (smoothed)")
        axes.legend()
        figure.tight_layout()
        figure.savefig(path)
        plt.close(figure)
        return path


def suggest(learning_rates, losses):
    """fastai's suggestions, skipping the first tenth and the last 5 points."""
    count = len(losses)
    start, end = count // 10, count - 5
    if end - start < 3:
        start, end = 0, count
    rates = np.asarray(learning_rates[start:end], "float64")
    values = np.asarray(losses[start:end], "float64")
    if len(values) < 2:
        raise UserInputError(
            f"The LR finder recorded {count} losses, too few to suggest a rate: "
            "give it more steps or a smaller `start_lr`."
        )
    slopes = np.diff(values) / np.diff(np.log(rates))
    return {
        "valley": float(rates[_valley_index(values)]),
        "steep": float(rates[int(np.argmin(slopes))]),
        "minimum": float(rates[int(np.argmin(values))] / 10),
    }


def _valley_index(losses):
    """fastai's `valley`: in the longest decreasing run, two-thirds down it."""
    count = len(losses)
    lengths = [1] * count
    start = end = 0
    for i in range(1, count):
        for j in range(i):
            if losses[i] < losses[j] and lengths[i] < lengths[j] + 1:
                lengths[i] = lengths[j] + 1
            if lengths[end] < lengths[i]:
                end = i
                start = end - lengths[end]
    sections = (end - start) / 3
    return start + int(sections) + int(sections / 2)


def lr_find(model, data, start_lr=1e-7, end_lr=10.0, num_steps=100, batch_size=32, plot_path=None, verbose=0):
    """Runs the LR range test on a compiled model, then restores it.

    Trains for up to `num_steps` batches while the rate rises exponentially
    from `start_lr` to `end_lr`, stopping early when the loss diverges. The
    model's weights, the optimizer's state (slots, step count) and its
    learning rate are put back as they were, so the run leaves no trace.

    Args:
        model: A compiled Keras model whose optimizer has a constant
            learning rate (the finder drives it; compile with your schedule
            afterwards).
        data: A `tf.data.Dataset` of batches (repeated as needed), or a
            tuple `(x, y)` of arrays.
        start_lr: Float, the first rate. Defaults to `1e-7`.
        end_lr: Float, the last rate. Defaults to `10`.
        num_steps: Integer, the number of batches. Defaults to `100`.
        batch_size: Integer, batch size when `data` is arrays.
        plot_path: Optional path of a PNG plot to write (needs matplotlib).
        verbose: Verbosity of the `fit` call.

    Returns:
        An `LRFindResult` with `learning_rates`, `losses` and
        `suggestions` (`"valley"`, `"steep"`, `"minimum"`).

    Example:

    ```python
    result = ulmfit_tf.lr_find(model, train_data, plot_path="lr_find.png")
    result.suggestions["valley"]
    ```
    """
    if not getattr(model, "compiled", False):
        raise ValueError("Argument `model` must be compiled (with an optimizer and a loss) before `lr_find`.")
    with model.distribute_strategy.scope():  # the strategy the model was built under, if any
        result = _lr_find(model, data, start_lr, end_lr, num_steps, batch_size, verbose)
    if plot_path is not None:
        result.plot(plot_path)
    return result


def _lr_find(model, data, start_lr, end_lr, num_steps, batch_size, verbose):
    optimizer = model.optimizer
    learning_rate = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
    try:
        optimizer.learning_rate = learning_rate
    except TypeError:
        raise ValueError(
            "The model's optimizer follows a learning rate schedule; `lr_find` sets the rate "
            "itself. Compile with a constant rate for `lr_find`, then with your schedule."
        ) from None
    if isinstance(data, tuple):
        data = tf.data.Dataset.from_tensor_slices(data).shuffle(4096, seed=0).batch(batch_size)
    data = data.repeat()
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    weights = [(v, v.numpy()) for v in model.variables]
    optimizer_state = [(v, v.numpy()) for v in optimizer.variables]
    finder = LRFinder(start_lr, end_lr, num_steps)
    try:
        model.fit(data, steps_per_epoch=num_steps, epochs=1, shuffle=False, callbacks=[finder], verbose=verbose)
    finally:
        for variable, value in weights + optimizer_state:
            variable.assign(value)
        optimizer.learning_rate = learning_rate
    return LRFindResult(finder.learning_rates, finder.losses)
