"""How a stage runs, as opposed to what it trains: the options every stage takes."""

import contextlib
import dataclasses

import tensorflow as tf

from ulmfit_tf.distribute import dtype_policy_scope
from ulmfit_tf.recipe import settings_with


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """The keyword options every stage takes beside its settings.

    `pretrain_language_model`, `finetune_language_model` and
    `fit_classifier` take these as keywords (with any setting of their
    settings dataclass), e.g. `fit_classifier(lm, texts, labels, seed=1,
    callbacks=[...], epochs=3)`. `seed` and `dtype_policy` are part of what
    made a model (its fingerprint); the others are not.

    Attributes:
        checkpoint_dir: Optional folder for per-epoch checkpoints, written
            atomically after each epoch (each part with the language
            models' `checkpoint_every`). Calling the stage again with the
            same arguments resumes from the last one and ends with the same
            weights as an uninterrupted run; a checkpoint of other
            arguments is refused.
        seed: Integer, seeds weights, dropout and data order.
        strategy: Optional `tf.distribute.Strategy` to train under (see
            `ulmfit_tf.distribute`). Batch sizes are global: each of the
            replicas reads its own `batch_size / replicas` rows, so they
            compute what one device computes.
        dtype_policy: Optional Keras dtype policy of the model:
            `"mixed_bfloat16"` or `"mixed_float16"` (with loss scaling).
            The softmax, the loss and AR/TAR stay in float32. It is a
            training setting: a saved model loads in float32, and each
            stage takes its own.
        callbacks: More Keras callbacks, given to every `fit` call of the
            stage (each sees one run: `on_train_begin` once,
            `on_train_end` at the end).
        verbose: Keras' `fit` verbosity.

    Example:

    ```python
    settings, run = RunOptions.split(ClassifierSettings, None, {"epochs": 3, "seed": 1})
    run.seed, settings.epochs  # 1, 3
    ```
    """

    checkpoint_dir: str | None = None
    seed: int = 0
    strategy: tf.distribute.Strategy | None = None
    dtype_policy: str | None = None
    callbacks: tuple = ()
    verbose: int | str = "auto"

    @classmethod
    def split(cls, settings_class, settings, options):
        """`(settings, run options)` from a stage's `settings` and keyword `options`.

        The names of `RunOptions` fields make the run options; every other
        name changes a setting of `settings` (default: `settings_class()`);
        a name that is neither is refused with both lists. The strategy
        defaults to the one in force.
        """
        names = [field.name for field in dataclasses.fields(cls)]
        known = [field.name for field in dataclasses.fields(settings_class)]
        unknown = sorted(set(options) - set(names) - set(known))
        if unknown:
            raise TypeError(
                f"Argument `{unknown[0]}` is not a setting of `{settings_class.__name__}` (its settings: "
                f"{', '.join(known)}) nor a run option ({', '.join(names)}). Received: "
                f"{unknown[0]}={options[unknown[0]]!r}"
            )
        run = cls(**{name: value for name, value in options.items() if name in names})
        overrides = {name: value for name, value in options.items() if name not in names}
        run = dataclasses.replace(
            run, callbacks=tuple(run.callbacks), strategy=run.strategy or tf.distribute.get_strategy()
        )
        return settings_with(settings, settings_class, overrides), run

    @contextlib.contextmanager
    def scope(self):
        """Builds what is made inside under the strategy and the dtype policy."""
        with (self.strategy or tf.distribute.get_strategy()).scope(), dtype_policy_scope(self.dtype_policy):
            yield
