import warnings

import keras
import numpy as np
import pytest

from ulmfit_tf.callbacks import GradualUnfreezing
from ulmfit_tf.callbacks import freeze_to
from ulmfit_tf.optimizers import DiscriminativeOptimizer
from ulmfit_tf.schedules import SlantedTriangularLR


def model_and_groups(n=4):
    x = inputs = keras.Input((4,))
    for i in range(n):
        x = keras.layers.Dense(4, activation="tanh", name=f"dense_{i}")(x)
    model = keras.Model(inputs, x)
    return model, [[layer] for layer in model.layers[1:]]


DATA = (np.random.RandomState(0).normal(size=(64, 4)).astype("float32"),
        np.random.RandomState(1).normal(size=(64, 4)).astype("float32"))


class Snapshots(keras.callbacks.Callback):
    """Each group's weights at the end of every epoch."""

    def __init__(self, groups):
        super().__init__()
        self.groups, self.epochs = groups, []

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append([[w.numpy().copy() for layer in g for w in layer.weights] for g in self.groups])


def changed(before, after):
    return [not all(np.array_equal(a, b) for a, b in zip(x, y)) for x, y in zip(before, after)]


@pytest.mark.parametrize("optimizer", ["adam_with_weight_decay", "discriminative_stlr"])
def test_frozen_groups_stay_bit_identical_and_unfreeze_from_the_top(optimizer):
    model, groups = model_and_groups(4)
    if optimizer == "adam_with_weight_decay":
        opt = keras.optimizers.AdamW(0.01, weight_decay=0.1)
    else:
        opt = DiscriminativeOptimizer(keras.optimizers.Adam(SlantedTriangularLR(0.01, total_steps=16)), groups)
    model.compile(optimizer=opt, loss="mse")
    initial = [[w.numpy().copy() for layer in g for w in layer.weights] for g in groups]
    snapshots = Snapshots(groups)
    unfreezing = GradualUnfreezing(groups, verbose=1)
    history = model.fit(*DATA, batch_size=16, epochs=4, verbose=0, callbacks=[unfreezing, snapshots])
    states = [initial] + snapshots.epochs
    # Epoch e trains the top e + 1 groups; the others do not move at all.
    for epoch in range(4):
        expected = [index >= 3 - epoch for index in range(4)]
        assert changed(states[epoch], states[epoch + 1]) == expected, epoch
    assert history.history["trainable_groups"] == [1, 2, 3, 4]


def test_explicit_schedule_and_resuming_mid_way():
    model, groups = model_and_groups(4)
    unfreezing = GradualUnfreezing(groups, schedule=[1, 3, 4])
    assert [unfreezing.groups_trainable_at(e) for e in range(5)] == [1, 3, 4, 4, 4]
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    snapshots = Snapshots(groups)
    history = model.fit(*DATA, epochs=2, initial_epoch=1, verbose=0, callbacks=[unfreezing, snapshots])
    assert history.history["trainable_groups"] == [3]
    assert [layer.trainable for g in groups for layer in g] == [False, True, True, True]
    every_two = GradualUnfreezing(groups, every=2)
    assert [every_two.groups_trainable_at(e) for e in range(8)] == [1, 1, 2, 2, 3, 3, 4, 4]


def test_one_fit_per_stage_with_freeze_to():
    model, groups = model_and_groups(3)
    optimizer = DiscriminativeOptimizer(keras.optimizers.Adam(0.01), groups)
    model.compile(optimizer=optimizer, loss="mse")
    moved = []
    for n in (-1, -2, 0):
        freeze_to(model, groups, n)
        before = [[w.numpy().copy() for w in layer.weights] for g in groups for layer in g]
        model.fit(*DATA, epochs=1, verbose=0)
        after = [[w.numpy().copy() for w in layer.weights] for g in groups for layer in g]
        moved.append(changed(before, after))
    assert moved == [[False, False, True], [False, True, True], [True, True, True]]


def test_bad_arguments():
    _, groups = model_and_groups(3)
    with pytest.raises(ValueError, match="Argument `every` must be a positive integer. Received: every=0"):
        GradualUnfreezing(groups, every=0)
    with pytest.raises(ValueError, match=r"Argument `schedule` must be a non-empty list .* Received: schedule=\[1, 7\]"):
        GradualUnfreezing(groups, schedule=[1, 7])
    model, groups = model_and_groups(2)
    with pytest.raises(ValueError, match=r"Argument `n` must be an integer between -2 and 2, the number of layer groups. Received: n=3"):
        freeze_to(model, groups, 3)
    with pytest.raises(ValueError, match=r"Received: n=-3"):
        freeze_to(model, groups, -3)


def trainable_after_freeze_to(n, total=4):
    model, groups = model_and_groups(total)
    freeze_to(model, groups, n)
    return [layer.trainable for group in groups for layer in group]


def test_freeze_to_freezes_the_first_n_groups_as_fastai():
    # fastai: `freeze_to(n)` freezes groups [:n]; negative n counts from the end.
    assert trainable_after_freeze_to(1) == [False, True, True, True]
    assert trainable_after_freeze_to(3) == [False, False, False, True]
    assert trainable_after_freeze_to(4) == [False] * 4
    assert trainable_after_freeze_to(0) == [True] * 4  # fastai's `unfreeze()`
    assert trainable_after_freeze_to(-1) == [False, False, False, True]  # fastai's `freeze()`
    assert trainable_after_freeze_to(-3) == [False, True, True, True]
    assert trainable_after_freeze_to(-4) == [True] * 4


def test_freeze_to_matches_fastais_own_optimizer():
    torch = pytest.importorskip("torch")
    fastai_optimizer = pytest.importorskip("fastai.optimizer")
    for n in range(-4, 5):
        groups = [[torch.nn.Parameter(torch.zeros(1))] for _ in range(4)]
        optimizer = fastai_optimizer.SGD(groups, lr=0.1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # fastai warns when every group is frozen
            optimizer.freeze_to(n)
        assert trainable_after_freeze_to(n) == [group[0].requires_grad for group in groups], n
