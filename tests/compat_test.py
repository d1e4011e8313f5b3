"""The private parts of Keras, TensorFlow, TFLite and KerasHub that ulmfit-tf uses are still there.

They are fenced in `ulmfit_tf/_keras_internals.py`,
`ulmfit_tf/_tensorflow_internals.py`, `ulmfit_tf/_keras_hub_internals.py`
and `export/tflite_full_integer.py` (TFLite's). After an upgrade, these
tests name the one that changed.
"""

import inspect

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf
from keras.src import backend
from keras.src.backend.tensorflow.trainer import TFEpochIterator
from tensorflow.python.distribute import values

from ulmfit_tf import _keras_hub_internals
from ulmfit_tf import _keras_internals
from ulmfit_tf import _tensorflow_internals
from ulmfit_tf.distribute import distribute_fixes

# === Keras ===

KERAS_SIGNATURES = [
    (backend.rnn, "(step_function, inputs, initial_states, go_backwards=False, mask=None, constants=None, "
     "unroll=False, input_length=None, time_major=False, zero_output_for_mask=False, return_all_outputs=True)"),
    (keras.layers.LSTMCell._compute_carry_and_output_fused, "(self, z, c_tm1)"),
    (keras.layers.LSTM.inner_loop, "(self, sequences, initial_state, mask, training=False)"),
    (keras.Model._maybe_symbolic_build, "(self, iterator=None, data_batch=None)"),
    (keras.optimizers.Optimizer._var_key, "(self, variable)"),
    (keras.optimizers.Optimizer._filter_empty_gradients, "(self, grads, vars)"),
    (keras.optimizers.Optimizer._clip_gradients, "(self, grads)"),
    (keras.optimizers.Optimizer.exclude_from_weight_decay, "(self, var_list=None, var_names=None)"),
]


@pytest.mark.parametrize("function, signature", KERAS_SIGNATURES, ids=lambda x: getattr(x, "__qualname__", ""))
def test_keras_private_has_the_signature_used(function, signature):
    assert str(inspect.signature(function)) == signature


def test_keras_version_is_the_one_checked():
    assert keras.__version__.startswith("3.15.")


def test_lstm_step_is_the_cells_own():
    cell = keras.layers.LSTMCell(3)
    cell.build((None, 2))
    x, h, c = (np.random.normal(size=(4, n)).astype("float32") for n in (2, 3, 3))
    gates = x @ cell.kernel.numpy() + h @ cell.recurrent_kernel.numpy() + cell.bias.numpy()
    new_c, o = _keras_internals.lstm_step(cell, np.split(gates, 4, axis=-1), c)
    expected_h, (_, expected_c) = cell(x, [h, c])
    np.testing.assert_allclose(o * np.tanh(new_c), expected_h, atol=1e-6)
    np.testing.assert_allclose(new_c, expected_c, atol=1e-6)


def test_epoch_iterator_holds_its_distributed_dataset():
    iterator = TFEpochIterator(tf.distribute.get_strategy(), x=np.zeros((6, 2), "float32"), batch_size=3)
    assert iterator._distributed_dataset.element_spec.shape.as_list() == [3, 2]


@distribute_fixes
class DecoratedModel(keras.Model):
    pass


def test_fit_builds_from_the_element_spec_without_drawing_a_batch():
    # Keras' own build reads one more batch than the epoch: a second pass.
    passes = []

    def batches():
        passes.append(len(passes))
        for _ in range(3):
            yield np.ones((2, 3), "float32"), np.ones((2, 1), "float32")

    with tf.distribute.OneDeviceStrategy("/cpu:0").scope():
        inputs = keras.Input((3,))
        model = DecoratedModel(inputs, keras.layers.Dense(1)(inputs))
        model.compile(optimizer="sgd", loss="mse")
    spec = (tf.TensorSpec((2, 3), tf.float32), tf.TensorSpec((2, 1), tf.float32))
    data = tf.data.Dataset.from_generator(batches, output_signature=spec).apply(tf.data.experimental.assert_cardinality(3))
    history = model.fit(data, epochs=1, verbose=0)
    assert passes == [0]
    assert np.isfinite(history.history["loss"][0])


def test_optimizer_internals():
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    assert _keras_internals.learning_rate_as_given(keras.optimizers.SGD(schedule)) is schedule
    optimizer = keras.optimizers.SGD(0.1, weight_decay=0.5, global_clipnorm=1.0)
    variables = [keras.Variable(np.ones(2), name="kernel"), keras.Variable(np.ones(2), name="bias")]
    optimizer.build(variables)
    assert _keras_internals.built_variables(optimizer) == variables
    assert _keras_internals.variable_key(optimizer, variables[0]) != _keras_internals.variable_key(
        optimizer, variables[1]
    )
    with pytest.warns(UserWarning, match="Gradients do not exist for variables"):
        grads, kept = _keras_internals.filter_empty_gradients(optimizer, [None, np.ones(2)], variables)
    assert kept == variables[1:]
    (clipped,) = _keras_internals.clip_gradients(optimizer, [tf.fill([2], 10.0)])
    assert float(tf.norm(clipped)) == pytest.approx(1.0)

    source = keras.optimizers.SGD(0.1, weight_decay=0.5)
    source.exclude_from_weight_decay(var_list=variables[:1], var_names=["bias"])
    target = keras.optimizers.SGD(0.1, weight_decay=0.5)
    _keras_internals.copy_weight_decay_exclusions(source, target)
    target.apply([tf.zeros(2), tf.zeros(2)], variables)
    assert [v.numpy().tolist() for v in variables] == [[1.0, 1.0], [1.0, 1.0]]


# === TensorFlow ===


def test_per_replica_spec_holds_one_spec_per_replica():
    replica = tf.TensorSpec((2, 5), tf.int32)
    assert _tensorflow_internals.one_replica_spec(values.PerReplicaSpec(replica, replica)) == replica
    assert _tensorflow_internals.one_replica_spec(replica) is replica


# === TFLite (export/) ===
# The TFLite converter's private settings that export/ uses are checked here too.


# === KerasHub ===
# `ulmfit_tf/_keras_hub_internals.py` fences the private KerasHub names the family uses.


def test_keras_hub_version_is_the_one_checked():
    assert keras_hub.__version__.startswith("0.32.")


def test_keras_hub_registers_presets_as_used():
    assert str(inspect.signature(_keras_hub_internals.register_presets)) == "(presets, backbone_cls)"
