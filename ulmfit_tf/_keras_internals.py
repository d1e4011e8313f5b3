"""The private parts of Keras 3.15 that ulmfit-tf uses, all in one place.

Keras has no public way to do these things. pyproject.toml pins `keras` to
the minor version they were checked on (`>=3.15,<3.16`), and
`tests/compat_test.py` checks that each one is still there with the
signature used here, so that an upgrade breaks that test, naming the part,
rather than training.
"""

from keras.src import backend

# === The LSTM time loop (WeightDropLSTM) ===
# Keras has no DropConnect on the recurrent kernel
# (https://github.com/keras-team/keras/issues/8935), so `WeightDropLSTM`
# overrides `keras.layers.LSTM.inner_loop(sequences, initial_state, mask,
# training)`. Its CPU path projects the inputs of all timesteps before the
# loop. That needs the loop itself and the LSTM step, and `keras.ops` has
# neither:
# https://github.com/keras-team/keras/blob/v3.15.1/keras/src/backend/tensorflow/rnn.py
# https://github.com/keras-team/keras/blob/v3.15.1/keras/src/layers/rnn/lstm.py

rnn = backend.rnn


def lstm_step(cell, gates, c_tm1):
    """`(c, o)` of a `keras.layers.LSTMCell` from its four gate pre-activations."""
    return cell._compute_carry_and_output_fused(gates, c_tm1)


# === The TensorFlow trainer's build before `fit` (ulmfit_tf.distribute) ===
# Before training, `fit` and `evaluate` call
# `model._maybe_symbolic_build(iterator=...)`. Under a strategy, that method
# draws a batch from the epoch iterator and averages it across the replicas.
# No upstream issue was found; this is the method:
# https://github.com/keras-team/keras/blob/v3.15.1/keras/src/backend/tensorflow/trainer.py#L713


def override_symbolic_build(model_class, data_batch_of):
    """Makes models of `model_class` build from `data_batch_of(dataset)`.

    `dataset` is the distributed dataset of the epoch iterator. Keras builds
    the model from what `data_batch_of` returns, not from a batch it draws.
    """

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if iterator is not None:
            data_batch = data_batch_of(iterator._distributed_dataset)
        return super(model_class, self)._maybe_symbolic_build(data_batch=data_batch)

    model_class._maybe_symbolic_build = _maybe_symbolic_build


# === Optimizer internals (DiscriminativeOptimizer) ===
# An optimizer that splits its variables among inner optimizers needs the
# base class's steps one at a time. Keras' own wrappers (LossScaleOptimizer,
# MultiOptimizer) use the same internals:
# https://github.com/keras-team/keras/blob/v3.15.1/keras/src/optimizers/base_optimizer.py


def learning_rate_as_given(optimizer):
    """The rate the optimizer was built with: a float variable, a schedule or a callable.

    The public `learning_rate` returns the schedule's value at the
    optimizer's own step, and an inner optimizer never takes a step.
    """
    return optimizer._learning_rate


def variable_key(optimizer, variable):
    """The key by which the optimizer tells variables apart, including a distributed variable's copies."""
    return optimizer._var_key(variable)


def built_variables(optimizer):
    """The trainable variables the optimizer was built on."""
    return optimizer._trainable_variables


def filter_empty_gradients(optimizer, grads, variables):
    """Drops the `None` gradients and their variables, warning as Keras does."""
    return optimizer._filter_empty_gradients(grads, variables)


def clip_gradients(optimizer, grads):
    """Applies the optimizer's `clipnorm`, `clipvalue` or `global_clipnorm`."""
    return optimizer._clip_gradients(grads)


def copy_weight_decay_exclusions(source, target):
    """Gives `target` the variables `source.exclude_from_weight_decay` excluded.

    `get_config` leaves them out, so a copy made with `from_config` loses them.
    """
    for name in ("_exclude_from_weight_decay", "_exclude_from_weight_decay_pattern"):
        if hasattr(source, name):
            setattr(target, name, getattr(source, name))
    target._exclude_from_weight_decay_cache = {}
