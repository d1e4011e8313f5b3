import keras
import numpy as np

from ulmfit_tf.layers import SigmoidRange


def test_values_are_low_plus_the_sigmoid_times_the_width():
    # sigmoid(0) = 1/2, sigmoid(ln 3) = 3/4, sigmoid(-ln 3) = 1/4: 1 + 4 * p.
    values = SigmoidRange(1.0, 5.0)(np.array([[0.0, np.log(3.0), -np.log(3.0)]], "float32")).numpy()
    np.testing.assert_allclose(values, [[3.0, 4.0, 2.0]], rtol=1e-6)


def test_config_round_trip():
    layer = SigmoidRange(-1, 2, name="output_range")
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert (restored.low, restored.high, restored.name) == (-1.0, 2.0, "output_range")
    np.testing.assert_allclose(restored(np.array([0.0], "float32")).numpy(), [0.5])
