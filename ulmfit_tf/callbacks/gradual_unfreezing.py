import keras


def freeze_to(model, layer_groups, n):
    """Freezes the first `n` layer groups and trains the rest, as fastai's `freeze_to(n)`.

    As in fastai, a negative `n` counts from the top: `freeze_to(-1)`
    trains the top group only (fastai's `freeze()`), `freeze_to(-2)` the
    top two, and `freeze_to(0)` every group (fastai's `unfreeze()`).

    For fastai's recipe of one `fit` per stage: call it between `fit` calls.
    It rebuilds a compiled model's training function so that the next `fit`
    trains the new set of variables. With a plain Keras optimizer, build it
    on all variables first (the first `fit`, or `optimizer.build`, while
    everything is trainable); `DiscriminativeOptimizer` handles groups that
    join later by itself.

    Args:
        model: The Keras model the layers belong to.
        layer_groups: List of layer groups, input side first; each a list of
            Keras layers.
        n: Integer between `-len(layer_groups)` and `len(layer_groups)`,
            the number of groups frozen from the input side, or, negative,
            minus the number of groups that train.

    Example:

    ```python
    groups = model.layer_groups()
    freeze_to(model, groups, -1)   # the head only
    model.fit(...)
    freeze_to(model, groups, -2)   # and the layer below it
    model.fit(...)
    freeze_to(model, groups, 0)    # everything
    model.fit(...)
    ```
    """
    total = len(layer_groups)
    if not isinstance(n, int) or not -total <= n <= total:
        raise ValueError(
            f"Argument `n` must be an integer between -{total} and {total}, the number of layer groups. "
            f"Received: n={n}"
        )
    frozen = total + n if n < 0 else n
    for index, group in enumerate(layer_groups):
        for layer in group:
            layer.trainable = index >= frozen
    if getattr(model, "compiled", False) and model.train_function is not None:
        model.make_train_function(force=True)


class GradualUnfreezing(keras.callbacks.Callback):
    """Unfreezes layer groups one at a time from the top (ULMFiT, 3.2).

    At the start of training only the top group is trainable; at each epoch
    boundary (every `every` epochs) one more group below it is unfrozen,
    until all train. `schedule` gives the number of trainable top groups
    for each epoch explicitly instead: fastai's classifier recipe,
    `freeze_to(-1)`, `(-2)`, `(-3)`, then all, is `schedule=[1, 2, 3, 5]`
    (the last entry holds for later epochs).

    Frozen variables receive no gradient and are not passed to the
    optimizer, so they do not change at all: no weight decay, no momentum.
    The training function is rebuilt whenever the trainable set changes.
    Works within one `fit` call (epochs count from `initial_epoch`, so a
    resumed run continues the schedule) and with `DiscriminativeOptimizer`
    and `SlantedTriangularLR`, and with plain Keras optimizers: the callback
    builds the optimizer on every trainable variable before it freezes any
    (so do not freeze the model yourself before a first `fit`).

    Args:
        layer_groups: List of layer groups, input side first; each a list
            of Keras layers.
        every: Integer >= 1, epochs between two unfreezings. Defaults to
            `1`.
        schedule: Optional list of integers, the number of trainable top
            groups at each epoch.
        verbose: Integer, 1 prints each change.

    Example:

    ```python
    groups = classifier.layer_groups()
    model.fit(data, epochs=5, callbacks=[GradualUnfreezing(groups)])
    ```

    Reference:
        - [Howard & Ruder, 2018](https://arxiv.org/abs/1801.06146)
    """

    def __init__(self, layer_groups, every=1, schedule=None, verbose=0):
        super().__init__()
        self.layer_groups = [list(group) for group in layer_groups]
        total = len(self.layer_groups)
        if total == 0:
            raise ValueError("Argument `layer_groups` must not be empty. Received: layer_groups=[]")
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"Argument `every` must be a positive integer. Received: every={every}")
        if schedule is not None and (
            not schedule or any(not isinstance(n, int) or not 1 <= n <= total for n in schedule)
        ):
            raise ValueError(
                f"Argument `schedule` must be a non-empty list of integers between 1 and "
                f"the number of layer groups ({total}). Received: schedule={schedule}"
            )
        self.every = every
        self.schedule = schedule
        self.verbose = verbose
        self.trainable_groups = None

    def groups_trainable_at(self, epoch):
        """The number of top groups that train during `epoch` (from 0)."""
        if self.schedule is not None:
            return self.schedule[min(epoch, len(self.schedule) - 1)]
        return min(1 + epoch // self.every, len(self.layer_groups))

    def on_train_begin(self, logs=None):
        # Build the optimizer while every group is still trainable, so that
        # a plain Keras optimizer knows the variables unfrozen later.
        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.model.trainable_variables)

    def on_epoch_begin(self, epoch, logs=None):
        count = self.groups_trainable_at(epoch)
        if count == self.trainable_groups:
            return
        freeze_to(self.model, self.layer_groups, -count)
        self.trainable_groups = count
        if self.verbose:
            total = len(self.layer_groups)
            names = [layer.name for group in self.layer_groups[total - count :] for layer in group]
            print(
                f"\nEpoch {epoch + 1}: GradualUnfreezing training the top {count} of "
                f"{total} layer groups ({', '.join(names)})."
            )

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["trainable_groups"] = self.trainable_groups
