import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from ulmfit_tf.schedules import SlantedTriangularLR
from ulmfit_tf.schedules import total_steps


def paper_formula(t, T, cut_frac=0.1, ratio=32, max_lr=0.01):
    cut = math.floor(T * cut_frac)
    p = t / cut if t < cut else 1 - (t - cut) / (cut * (1 / cut_frac - 1))
    return max_lr * (1 + p * (ratio - 1)) / ratio


@pytest.mark.parametrize("T", [1000, 1234])
def test_values_follow_the_paper(T):
    schedule = SlantedTriangularLR(max_lr=0.01, total_steps=T)
    cut = math.floor(T * 0.1)
    end = cut + cut * 9  # where p reaches 0: T itself when T / 10 is whole
    steps = [0, 1, cut // 2, cut - 1, cut, cut + 1, T // 2, min(T, end) - 1]
    for t in steps:
        assert float(schedule(t)) == pytest.approx(paper_formula(t, T), rel=1e-5), t
    assert float(schedule(0)) == pytest.approx(0.01 / 32)
    assert float(schedule(cut)) == pytest.approx(0.01)


def test_rate_holds_at_the_minimum_after_the_end():
    schedule = SlantedTriangularLR(max_lr=0.01, total_steps=1000)
    for t in (1000, 1001, 5000):
        assert float(schedule(t)) == pytest.approx(0.01 / 32)
    # With T * cut_frac not whole, p reaches 0 before T; it is not allowed
    # to go below.
    schedule = SlantedTriangularLR(max_lr=0.01, total_steps=1234)
    assert paper_formula(1233, 1234) < 0.01 / 32
    assert float(schedule(1233)) == pytest.approx(0.01 / 32)


def test_tiny_runs_keep_a_cut_of_one():
    schedule = SlantedTriangularLR(max_lr=1.0, total_steps=5, cut_frac=0.1, ratio=10)
    assert schedule.cut == 1
    assert float(schedule(0)) == pytest.approx(0.1)
    assert float(schedule(1)) == pytest.approx(1.0)


def test_drives_an_optimizer():
    schedule = SlantedTriangularLR(max_lr=0.5, total_steps=20, cut_frac=0.25, ratio=10)
    variable = keras.Variable(np.zeros(1, "float32"))
    optimizer = keras.optimizers.SGD(learning_rate=schedule)
    seen = []
    for _ in range(20):
        seen.append(float(optimizer.learning_rate))
        optimizer.apply([tf.ones(1)], [variable])
    expected = [paper_formula(t, 20, 0.25, 10, 0.5) for t in range(20)]
    np.testing.assert_allclose(seen, expected, rtol=1e-5)
    np.testing.assert_allclose(variable.numpy(), [-sum(expected)], rtol=1e-5)


def test_config_round_trip():
    schedule = SlantedTriangularLR(max_lr=0.004, total_steps=777, cut_frac=0.2, ratio=16)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert isinstance(restored, SlantedTriangularLR)
    assert restored.get_config() == schedule.get_config()
    assert float(restored(300)) == pytest.approx(float(schedule(300)))


def test_bad_arguments():
    with pytest.raises(ValueError, match="Argument `total_steps` must be a positive integer. Received: total_steps=0"):
        SlantedTriangularLR(0.01, total_steps=0)
    with pytest.raises(ValueError, match=r"Argument `cut_frac` must be in \(0, 1\). Received: cut_frac=1.0"):
        SlantedTriangularLR(0.01, total_steps=10, cut_frac=1.0)
    with pytest.raises(ValueError, match="Argument `ratio` must be >= 1. Received: ratio=0.5"):
        SlantedTriangularLR(0.01, total_steps=10, ratio=0.5)
    with pytest.raises(ValueError, match="Argument `max_lr` must be > 0. Received: max_lr=-1"):
        SlantedTriangularLR(-1, total_steps=10)


def test_total_steps():
    assert total_steps(epochs=3, steps_per_epoch=40) == 120
    dataset = tf.data.Dataset.range(100).batch(32)
    assert total_steps(epochs=2, dataset=dataset) == 8
    with pytest.raises(ValueError, match="known, finite number of batches"):
        total_steps(epochs=1, dataset=dataset.repeat())
    with pytest.raises(ValueError, match="Pass exactly one of `steps_per_epoch` and `dataset`"):
        total_steps(epochs=1)
    with pytest.raises(ValueError, match="Argument `epochs` must be a positive integer. Received: epochs=0"):
        total_steps(epochs=0, steps_per_epoch=3)
