import re

import keras

from ulmfit_tf import _keras_internals


@keras.saving.register_keras_serializable(package="ulmfit_tf")
class DiscriminativeOptimizer(keras.optimizers.Optimizer):
    """Trains each layer group at its own learning rate (ULMFiT, eq. 2).

    Wraps any Keras optimizer. The last (top) layer group trains at the
    optimizer's learning rate, a float or a schedule such as
    `SlantedTriangularLR`; each group below at that rate divided by `factor`
    once more: group `k` of `n` (counted from the input side, from 0) at
    `lr / factor ** (n - 1 - k)`. `learning_rate_multipliers` sets the
    multipliers explicitly instead.

    Each group gets its own copy of the wrapped optimizer (its slots, e.g.
    Adam moments, and its step count for bias correction, as PyTorch keeps
    per parameter), but every group's rate comes from one global step, this
    optimizer's `iterations`: a group that was frozen for a while joins the
    schedule where it stands, rather than starting its triangle late.
    Weight decay uses the group's rate, as fastai's does. Gradient clipping
    (`clipnorm`, `clipvalue`, `global_clipnorm` of the wrapped optimizer) is
    applied once over all gradients. Variables that receive no gradient
    (frozen layers) are not touched at all; a group is built the first time
    it trains, so layers may be unfrozen mid-training (see
    `GradualUnfreezing`).

    `learning_rate` reads and sets the wrapped optimizer's (the top group's)
    rate, so Keras callbacks that change it move every group. Variables
    excluded from weight decay (`exclude_from_weight_decay`, on the wrapped
    optimizer before wrapping it, or on this one) stay excluded in every
    group.

    Args:
        inner_optimizer: A Keras optimizer, e.g. `keras.optimizers.Adam(0.01,
            beta_1=0.7, beta_2=0.99)` as in the paper. Its settings
            (`weight_decay`, clipping, ...) are the ones that apply; the
            base optimizer's arguments given here raise a `ValueError`.
        layer_groups: A list of layer groups, input side first. Each group
            is a list of Keras layers, or of regular expressions that fully
            match variable paths (`"lstm_0/.*"`). Every trainable variable
            must belong to exactly one group.
        factor: Float > 0, the ratio between the rates of neighbouring
            groups. Defaults to `2.6`.
        learning_rate_multipliers: Optional list of one float per group, the
            group's rate as a multiple of the optimizer's; overrides
            `factor`.
        name: Optional string, the optimizer's name.

    Example:

    ```python
    optimizer = DiscriminativeOptimizer(
        keras.optimizers.Adam(SlantedTriangularLR(0.01, total_steps=1000)),
        layer_groups=model.layer_groups(),
    )
    model.compile(optimizer=optimizer, loss=...)
    ```

    Reference:
        - [Howard & Ruder, 2018](https://arxiv.org/abs/1801.06146)
    """

    def __init__(
        self,
        inner_optimizer=None,
        layer_groups=None,
        factor=2.6,
        learning_rate_multipliers=None,
        name="discriminative_optimizer",
        **kwargs,
    ):
        if kwargs:
            raise ValueError(
                f"Argument(s) {', '.join(f'`{key}`' for key in kwargs)} must be set on `inner_optimizer`, "
                "whose copies train the layer groups: `DiscriminativeOptimizer` would ignore them. "
                f"Received: {', '.join(f'{key}={value!r}' for key, value in kwargs.items())}"
            )
        if not isinstance(inner_optimizer, keras.optimizers.Optimizer) or isinstance(
            inner_optimizer, (DiscriminativeOptimizer, keras.optimizers.LossScaleOptimizer)
        ):
            raise ValueError(
                "Argument `inner_optimizer` must be a Keras optimizer (not a "
                "`DiscriminativeOptimizer` or `LossScaleOptimizer`). "
                f"Received: inner_optimizer={inner_optimizer}"
            )
        layer_groups = [list(group) if isinstance(group, (list, tuple)) else [group] for group in layer_groups or []]
        if not layer_groups:
            raise ValueError(f"Argument `layer_groups` must not be empty. Received: layer_groups={layer_groups}")
        if not factor > 0:
            raise ValueError(f"Argument `factor` must be > 0. Received: factor={factor}")
        if learning_rate_multipliers is None:
            count = len(layer_groups)
            learning_rate_multipliers = [factor ** -(count - 1 - k) for k in range(count)]
        elif len(learning_rate_multipliers) != len(layer_groups):
            raise ValueError(
                "Argument `learning_rate_multipliers` must hold one value per "
                f"layer group ({len(layer_groups)}). Received: "
                f"learning_rate_multipliers={learning_rate_multipliers}"
            )
        super().__init__(
            learning_rate=0.0,
            clipnorm=inner_optimizer.clipnorm,
            clipvalue=inner_optimizer.clipvalue,
            global_clipnorm=inner_optimizer.global_clipnorm,
            loss_scale_factor=inner_optimizer.loss_scale_factor,
            name=name,
        )
        self.inner_optimizer = inner_optimizer
        self.layer_groups = layer_groups
        self.factor = factor
        self.learning_rate_multipliers = [float(m) for m in learning_rate_multipliers]
        self.group_optimizers = [
            self._group_optimizer(k, multiplier)
            for k, multiplier in enumerate(self.learning_rate_multipliers)
        ]

    def _group_optimizer(self, index, multiplier):
        config = self.inner_optimizer.get_config()
        config.update(
            learning_rate=lambda: self._top_learning_rate() * multiplier,
            clipnorm=None,
            clipvalue=None,
            global_clipnorm=None,
            loss_scale_factor=None,
            name=f"{self.inner_optimizer.name}_group_{index}",
        )
        optimizer = type(self.inner_optimizer).from_config(config)
        _keras_internals.copy_weight_decay_exclusions(self.inner_optimizer, optimizer)
        return optimizer

    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        for optimizer in [self.inner_optimizer] + self.group_optimizers:
            optimizer.exclude_from_weight_decay(var_list=var_list, var_names=var_names)

    def _top_learning_rate(self):
        rate = _keras_internals.learning_rate_as_given(self.inner_optimizer)
        if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
            return rate(self.iterations)
        return rate() if callable(rate) else rate

    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self.inner_optimizer.learning_rate = value

    @property
    def variables(self):
        variables = super().variables
        for optimizer in self.group_optimizers:
            variables.extend(optimizer.variables)
        return variables

    def group_of(self, variable):
        """Index of the layer group that `variable` belongs to."""
        key = _keras_internals.variable_key(self, variable)
        if key not in self._group_index:
            self._group_index[key] = self._find_group(variable)
        return self._group_index[key]

    def _find_group(self, variable):
        matches = [
            k
            for k, group in enumerate(self.layer_groups)
            if any(_member(variable, entry) for entry in group)
        ]
        if len(matches) != 1:
            problem = "belongs to no layer group" if not matches else f"belongs to layer groups {matches}"
            raise ValueError(
                f"Variable {variable.path!r} {problem}; each trainable variable "
                "must be in exactly one group of `layer_groups`."
            )
        return matches[0]

    def build(self, var_list):
        if self.built:
            return
        self._group_index = {}
        super().build(var_list)
        self._build_groups(var_list)

    def _build_groups(self, var_list):
        """Builds the groups not built yet that `var_list` has variables of."""
        by_group = self._split(var_list, var_list)
        for optimizer, (_, variables) in zip(self.group_optimizers, by_group):
            if variables and not optimizer.built:
                optimizer.build(variables)

    def _split(self, grads, variables):
        by_group = [([], []) for _ in self.layer_groups]
        for grad, variable in zip(grads, variables):
            group_grads, group_variables = by_group[self.group_of(variable)]
            group_grads.append(grad)
            group_variables.append(variable)
        return by_group

    def apply(self, grads, trainable_variables=None):
        if trainable_variables is None:
            trainable_variables = _keras_internals.built_variables(self)
        trainable_variables = list(trainable_variables)
        if not self.built:
            self.build(trainable_variables)
            self.built = True
        self._build_groups(trainable_variables)
        grads, trainable_variables = _keras_internals.filter_empty_gradients(self, grads, trainable_variables)
        if self.loss_scale_factor is not None:
            grads = [g / self.loss_scale_factor for g in grads]
        grads = _keras_internals.clip_gradients(self, grads)
        for optimizer, (group_grads, variables) in zip(
            self.group_optimizers, self._split(grads, trainable_variables)
        ):
            if variables:
                optimizer.apply(group_grads, variables)
        self.iterations.assign_add(1)

    def finalize_variable_values(self, var_list):
        for optimizer, (_, variables) in zip(self.group_optimizers, self._split(var_list, var_list)):
            if variables and optimizer.built:
                optimizer.finalize_variable_values(variables)

    def get_config(self):
        return {
            "name": self.name,
            "inner_optimizer": keras.saving.serialize_keras_object(self.inner_optimizer),
            "layer_groups": [[_pattern(entry) for entry in group] for group in self.layer_groups],
            "factor": self.factor,
            "learning_rate_multipliers": self.learning_rate_multipliers,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["inner_optimizer"] = keras.saving.deserialize_keras_object(
            config["inner_optimizer"], custom_objects=custom_objects
        )
        return cls(**config)


def _member(variable, entry):
    if isinstance(entry, str):
        return re.fullmatch(entry, variable.path) is not None
    return any(variable is weight for weight in entry.weights)


def _pattern(entry):
    """A regular expression for the variables of a group entry."""
    if isinstance(entry, str):
        return entry
    return re.escape(entry.path) + "/.*"
