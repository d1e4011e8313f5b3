import keras
import numpy as np
import pytest

import ulmfit_tf
from ulmfit_tf.callbacks import LRFinder
from ulmfit_tf.callbacks.lr_finder import suggest
from ulmfit_tf.optimizers import DiscriminativeOptimizer
from ulmfit_tf.schedules import SlantedTriangularLR


def regression():
    """Least squares with unit-variance inputs: SGD diverges above lr = 1."""
    rng = np.random.RandomState(0)
    x = rng.normal(size=(2048, 8)).astype("float32")
    y = x @ rng.normal(size=(8, 1)).astype("float32")
    inputs = keras.Input((8,))
    model = keras.Model(inputs, keras.layers.Dense(1, name="linear")(inputs))
    return model, (x, y)


def test_suggestion_falls_in_the_good_range_and_the_model_is_restored(tmp_path):
    model, data = regression()
    model.compile(optimizer=keras.optimizers.SGD(1e-4, momentum=0.5), loss="mse")
    model.fit(*data, epochs=1, verbose=0, batch_size=256)  # some optimizer state
    weights = [v.numpy().copy() for v in model.variables]
    state = [v.numpy().copy() for v in model.optimizer.variables]
    result = ulmfit_tf.lr_find(model, data, end_lr=100, num_steps=100, batch_size=64, plot_path=tmp_path / "lr.png")
    # Rates rise exponentially from start_lr, and the run stops on divergence.
    rates = np.asarray(result.learning_rates)
    np.testing.assert_allclose(rates[1:] / rates[:-1], (1e9) ** (1 / 99), rtol=1e-6)
    assert rates[0] == pytest.approx(1e-7)
    assert len(rates) < 100
    # SGD on this loss diverges above lr = 1; fastai's default pick, the
    # valley, sits well inside the range where the loss falls.
    assert 1e-3 <= result.suggestions["valley"] <= 0.5
    for variable, value in zip(model.variables, weights):
        np.testing.assert_array_equal(variable.numpy(), value)
    for variable, value in zip(model.optimizer.variables, state):
        np.testing.assert_array_equal(variable.numpy(), value)
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-4)
    assert (tmp_path / "lr.png").read_bytes()[:4] == b"\x89PNG"


def test_works_through_the_discriminative_optimizer():
    model, data = regression()
    groups = [[model.get_layer("linear")]]
    model.compile(optimizer=DiscriminativeOptimizer(keras.optimizers.SGD(0.01), groups), loss="mse")
    result = ulmfit_tf.lr_find(model, data, end_lr=100, num_steps=100, batch_size=64)
    assert 1e-3 <= result.suggestions["valley"] <= 0.5
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)


def test_refuses_a_scheduled_optimizer():
    model, data = regression()
    model.compile(optimizer=keras.optimizers.SGD(SlantedTriangularLR(0.1, total_steps=10)), loss="mse")
    with pytest.raises(ValueError, match="Compile with a constant rate for `lr_find`"):
        ulmfit_tf.lr_find(model, data)


def test_valley_matches_fastai_on_a_known_curve():
    rates = list(np.logspace(-7, 1, 100))
    # Flat, then a long descent from index 30 to 80, then a blow-up.
    losses = [2.0] * 30 + list(np.linspace(2.0, 0.5, 50)) + list(np.linspace(0.6, 5, 20))
    suggestions = suggest(rates, losses)
    # fastai trims the first 10 and last 5 points; the longest decreasing
    # run then ends at trimmed index 69 (0.5) with length 50, so start = 19
    # and the pick is 19 + int(50 / 3) + int(50 / 6) = 43, i.e. point 53.
    assert suggestions["valley"] == pytest.approx(rates[53])
    assert suggestions["minimum"] == pytest.approx(rates[79] / 10)


def test_steep_is_the_rate_where_the_loss_falls_fastest():
    rates = list(np.logspace(-7, 1, 100))
    # A gentle slope with one sharp drop, from point 59 to point 60.
    losses = np.linspace(2.0, 1.9, 100)
    losses[60:] -= 0.5
    # As fastai: slopes of the trimmed curve (points 10 to 94) per unit of
    # log rate; the steepest starts at point 59, whose rate is the pick.
    assert suggest(rates, list(losses))["steep"] == pytest.approx(rates[59])


def test_bad_arguments():
    with pytest.raises(ValueError, match="must satisfy 0 < start_lr < end_lr"):
        LRFinder(start_lr=1.0, end_lr=0.1)
    with pytest.raises(ValueError, match="Argument `num_steps` must be an integer >= 2. Received: num_steps=1"):
        LRFinder(num_steps=1)
    model, data = regression()
    with pytest.raises(ValueError, match="must be compiled"):
        ulmfit_tf.lr_find(model, data)
