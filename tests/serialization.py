"""`run_serialization_test`: a Keras object survives its config and a `.keras` file.

As KerasHub's `TestCase.run_serialization_test` and `run_model_saving_test`,
for every kind of object ulmfit-tf registers with Keras.
"""

import json
import os
import tempfile

import keras
import numpy as np
import tensorflow as tf


@keras.saving.register_keras_serializable(package="ulmfit_tf_tests")
class LayerHolder(keras.Model):
    """A model that only calls `layer`, to save a lone layer in a `.keras` file."""

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        self.layer = layer

    def call(self, inputs):
        return self.layer(inputs)

    def get_config(self):
        return {"name": self.name, "layer": keras.saving.serialize_keras_object(self.layer)}

    @classmethod
    def from_config(cls, config):
        config = dict(config, layer=keras.saving.deserialize_keras_object(config["layer"]))
        return cls(**config)


def run_serialization_test(obj, inputs):
    """Checks `obj`'s config round trip, then its `.keras` reload, by its outputs.

    The configs of `type(obj).from_config(obj.get_config())` and of the
    object revived by `keras.saving.deserialize_keras_object` must equal
    `obj`'s (as JSON). Then `obj` is saved in a `.keras` file and reloaded,
    and the reloaded object must compute exactly what `obj` computes:

    - a layer or model: its outputs on `inputs` (a layer is saved inside a
      `LayerHolder` model);
    - a loss: its value on `inputs = (y_true, y_pred)`;
    - a learning rate schedule: its rates at the steps `inputs`, read from
      an optimizer using it (the reloaded optimizer is returned);
    - an optimizer: `inputs = (model, x, y)`, the model compiled with `obj`
      and trained one step before saving; then the weights after one more
      step of each copy.

    Args:
        obj: The Keras object.
        inputs: What to compute the outputs on (above).

    Returns:
        The reloaded object.
    """
    config = _json(obj.get_config())
    assert _json(type(obj).from_config(obj.get_config()).get_config()) == config
    serialized = keras.saving.serialize_keras_object(obj)
    revived = keras.saving.deserialize_keras_object(json.loads(_json(serialized)))
    assert _json(revived.get_config()) == config

    with tempfile.TemporaryDirectory() as folder:
        return _check_keras_file(obj, inputs, config, serialized, os.path.join(folder, "object.keras"))


def _check_keras_file(obj, inputs, config, serialized, path):
    if isinstance(obj, keras.optimizers.Optimizer):
        model, x, y = inputs
        model.compile(optimizer=obj, loss="mse")
        model.train_on_batch(x, y)
        model.save(path)
        reloaded_model = keras.saving.load_model(path)
        reloaded = reloaded_model.optimizer
        assert _json(reloaded.get_config()) == config
        for trained in (model, reloaded_model):
            trained.train_on_batch(x, y)
        _assert_same(model.get_weights(), reloaded_model.get_weights())
        return reloaded
    if isinstance(obj, keras.layers.Layer):
        model = obj if isinstance(obj, keras.Model) else LayerHolder(obj)
        expected = model(inputs)
        model.save(path)
        reloaded_model = keras.saving.load_model(path)
        _assert_same(reloaded_model(inputs), expected)
        return reloaded_model if isinstance(obj, keras.Model) else reloaded_model.layer
    # A loss or a schedule travels in a compiled model's file.
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    if isinstance(obj, keras.losses.Loss):
        model.compile(optimizer="sgd", loss=obj)
        model.save(path)
        reloaded = keras.saving.load_model(path).loss
        _assert_same(reloaded(*inputs), obj(*inputs))
        assert _json(reloaded.get_config()) == config
        return reloaded
    model.compile(optimizer=keras.optimizers.SGD(obj), loss="mse")
    model.save(path)
    optimizers = [model.optimizer, keras.saving.load_model(path).optimizer]
    assert _json(optimizers[1].get_config()["learning_rate"]) == _json(serialized)

    def rates(optimizer):
        values = []
        for step in inputs:
            optimizer.iterations.assign(step)
            values.append(optimizer.learning_rate)
        return values

    _assert_same(rates(optimizers[1]), rates(optimizers[0]))
    return optimizers[1]


def _json(value):
    return json.dumps(value, sort_keys=True)


def _assert_same(actual, expected):
    actual, expected = keras.tree.flatten(actual), keras.tree.flatten(expected)
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        if isinstance(e, tf.RaggedTensor):
            assert a.to_list() == e.to_list()
        else:
            np.testing.assert_array_equal(np.asarray(a), np.asarray(e))
