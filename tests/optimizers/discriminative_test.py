import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import save_and_reload
from ulmfit_tf.models import AWDLSTMBackbone
from ulmfit_tf.models import ULMFiTLanguageModel
from ulmfit_tf.optimizers import DiscriminativeOptimizer
from ulmfit_tf.schedules import SlantedTriangularLR


def stack(n=4):
    """n Dense layers, `dense_0` at the input; every layer is one group."""
    x = inputs = keras.Input((3,))
    for i in range(n):
        x = keras.layers.Dense(3, name=f"dense_{i}")(x)
    model = keras.Model(inputs, x)
    return model, [[layer] for layer in model.layers[1:]]


def one_step(optimizer, variables, grads):
    before = [v.numpy().copy() for v in variables]
    optimizer.apply(grads, variables)
    return [b - v.numpy() for b, v in zip(before, variables)]


def test_sgd_moves_each_group_by_its_rate_times_its_gradient():
    model, groups = stack(4)
    optimizer = DiscriminativeOptimizer(keras.optimizers.SGD(0.1), groups, factor=2.6)
    variables = model.trainable_variables
    grads = [tf.random.normal(v.shape) for v in variables]
    moves = one_step(optimizer, variables, grads)
    for variable, grad, move in zip(variables, grads, moves):
        k = int(variable.path.split("/")[0].split("_")[1])
        np.testing.assert_allclose(move, 0.1 / 2.6 ** (3 - k) * grad.numpy(), rtol=1e-5, atol=1e-7)


def test_explicit_multipliers_and_regex_groups():
    model, _ = stack(2)
    optimizer = DiscriminativeOptimizer(
        keras.optimizers.SGD(1.0), [["dense_0/.*"], ["dense_1/.*"]], learning_rate_multipliers=[0.25, 1.0]
    )
    variables = model.trainable_variables
    grads = [tf.ones(v.shape) for v in variables]
    moves = one_step(optimizer, variables, grads)
    assert [float(m.flat[0]) for m in moves] == pytest.approx([0.25, 0.25, 1.0, 1.0])


def test_every_group_follows_one_global_schedule():
    model, groups = stack(2)
    schedule = SlantedTriangularLR(max_lr=1.0, total_steps=10, cut_frac=0.3, ratio=4)
    optimizer = DiscriminativeOptimizer(keras.optimizers.SGD(schedule), groups, factor=2.0)
    bottom = model.layers[1].trainable_variables
    top = model.layers[2].trainable_variables
    optimizer.build(top)
    # Three steps with the bottom group frozen (no gradients for it)...
    frozen = [v.numpy().copy() for v in bottom]
    for _ in range(3):
        optimizer.apply([tf.ones(v.shape) for v in top], top)
    for value, variable in zip(frozen, bottom):
        np.testing.assert_array_equal(variable.numpy(), value)
    # ...then it joins at the global step 3, where the triangle stands.
    moves = one_step(optimizer, bottom + top, [tf.ones(v.shape) for v in bottom + top])
    rate = float(schedule(3))
    assert rate == pytest.approx(1.0)  # the peak: cut = 3
    assert float(moves[0].flat[0]) == pytest.approx(rate / 2)
    assert float(moves[2].flat[0]) == pytest.approx(rate)
    assert int(optimizer.iterations) == 4


def test_weight_decay_uses_the_group_rate():
    model, groups = stack(2)
    optimizer = DiscriminativeOptimizer(keras.optimizers.SGD(0.1, weight_decay=0.5), groups, factor=4.0)
    variables = model.trainable_variables
    before = [v.numpy().copy() for v in variables]
    optimizer.apply([tf.zeros(v.shape) for v in variables], variables)
    np.testing.assert_allclose(variables[0].numpy(), before[0] * (1 - 0.5 * 0.1 / 4), rtol=1e-6)
    np.testing.assert_allclose(variables[2].numpy(), before[2] * (1 - 0.5 * 0.1), rtol=1e-6)


def test_global_clipnorm_spans_all_groups():
    model, groups = stack(2)
    optimizer = DiscriminativeOptimizer(keras.optimizers.SGD(1.0, global_clipnorm=1.0), groups, factor=2.0)
    variables = model.trainable_variables
    grads = [tf.fill(v.shape, 10.0) for v in variables]
    norm = np.sqrt(sum(100.0 * np.prod(v.shape) for v in variables))
    moves = one_step(optimizer, variables, grads)
    assert float(moves[0].flat[0]) == pytest.approx(0.5 * 10 / norm, rel=1e-5)
    assert float(moves[2].flat[0]) == pytest.approx(10 / norm, rel=1e-5)


def test_learning_rate_is_the_top_groups_and_settable():
    model, groups = stack(2)
    optimizer = DiscriminativeOptimizer(keras.optimizers.SGD(0.1), groups, factor=2.0)
    assert float(optimizer.learning_rate) == pytest.approx(0.1)
    optimizer.learning_rate = 0.4
    variables = model.trainable_variables
    moves = one_step(optimizer, variables, [tf.ones(v.shape) for v in variables])
    assert [float(m.flat[0]) for m in moves] == pytest.approx([0.2, 0.2, 0.4, 0.4])


def test_variable_outside_the_groups_is_named():
    model, groups = stack(3)
    optimizer = DiscriminativeOptimizer(keras.optimizers.SGD(0.1), groups[:2])
    with pytest.raises(ValueError, match=r"Variable 'dense_2/kernel' belongs to no layer group"):
        optimizer.build(model.trainable_variables)
    optimizer = DiscriminativeOptimizer(keras.optimizers.SGD(0.1), [["dense_.*"], ["dense_0/.*"]])
    with pytest.raises(ValueError, match=r"Variable 'dense_0/kernel' belongs to layer groups \[0, 1\]"):
        optimizer.build(model.trainable_variables)


def test_bad_arguments():
    _, groups = stack(2)
    with pytest.raises(ValueError, match="Argument `factor` must be > 0. Received: factor=0"):
        DiscriminativeOptimizer(keras.optimizers.SGD(), groups, factor=0)
    with pytest.raises(ValueError, match="must hold one value per layer group"):
        DiscriminativeOptimizer(keras.optimizers.SGD(), groups, learning_rate_multipliers=[1.0])
    with pytest.raises(ValueError, match="Argument `inner_optimizer` must be a Keras optimizer"):
        DiscriminativeOptimizer("adam", groups)
    with pytest.raises(ValueError, match="Argument `layer_groups` must not be empty"):
        DiscriminativeOptimizer(keras.optimizers.SGD())


def test_refuses_base_optimizer_arguments_it_would_ignore():
    # They used to be accepted, left unused and dropped from the config.
    _, groups = stack(2)
    message = (
        r"Argument\(s\) `weight_decay`, `use_ema` must be set on `inner_optimizer`, whose copies train the layer "
        r"groups: `DiscriminativeOptimizer` would ignore them. Received: weight_decay=0.1, use_ema=True"
    )
    with pytest.raises(ValueError, match=message):
        DiscriminativeOptimizer(keras.optimizers.SGD(0.1), groups, weight_decay=0.1, use_ema=True)


def test_the_inner_optimizer_round_trips_through_the_config():
    model, groups = stack(2)
    inner = keras.optimizers.SGD(0.1)
    optimizer = DiscriminativeOptimizer(inner_optimizer=inner, layer_groups=groups)
    assert optimizer.inner_optimizer is inner
    config = optimizer.get_config()
    assert config["inner_optimizer"]["class_name"] == "SGD"
    assert DiscriminativeOptimizer.from_config(config).get_config() == config


def decayed_by_one_step(optimizer, variables):
    """Each variable's value after one step of zero gradients from all ones."""
    for variable in variables:
        variable.assign(np.ones(variable.shape))
    optimizer.apply([tf.zeros(v.shape) for v in variables], variables)
    return [float(v.numpy().flat[0]) for v in variables]


def test_weight_decay_exclusions_reach_every_group():
    # The groups' copies of the inner optimizer used to lose them.
    model, groups = stack(2)
    variables = model.trainable_variables  # dense_0 kernel, bias; dense_1 kernel, bias
    inner = keras.optimizers.SGD(0.1, weight_decay=0.5)
    inner.exclude_from_weight_decay(var_names=["bias"])
    optimizer = DiscriminativeOptimizer(inner, groups, factor=4.0)
    assert decayed_by_one_step(optimizer, variables) == pytest.approx([1 - 0.5 * 0.1 / 4, 1.0, 1 - 0.5 * 0.1, 1.0])
    # Set on the wrapper, they reach every group too.
    optimizer = DiscriminativeOptimizer(keras.optimizers.SGD(0.1, weight_decay=0.5), groups, factor=4.0)
    optimizer.exclude_from_weight_decay(var_list=[model.get_layer("dense_1").kernel])
    assert decayed_by_one_step(optimizer, variables) == pytest.approx([1 - 0.5 * 0.1 / 4] * 2 + [1.0, 1 - 0.5 * 0.1])


def tiny_language_model():
    backbone = AWDLSTMBackbone(vocabulary_size=40, embedding_dim=8, hidden_dim=16, num_layers=3, seed=0)
    return ULMFiTLanguageModel(backbone, seed=0)


def test_language_model_groups_match_fastai():
    model = tiny_language_model()
    groups = model.layer_groups()
    assert [[layer.name for layer in group] for group in groups] == [
        ["lstm_0"], ["lstm_1"], ["lstm_2"], ["embedding_dropout", "decoder_bias"]
    ]
    optimizer = DiscriminativeOptimizer(keras.optimizers.Adam(0.01), groups)
    optimizer.build(model.trainable_variables)
    owner = {v.path: optimizer.group_of(v) for v in model.trainable_variables}
    assert owner["embedding_dropout/token_embedding/embeddings"] == 3
    assert owner["decoder_bias/bias"] == 3
    assert owner["lstm_1/lstm_cell/recurrent_kernel"] == 1


def test_fine_tunes_a_language_model_with_stlr_and_saves(tmp_path):
    """Small end to end: one epoch of STLR + discriminative Adam lowers the loss."""
    model = tiny_language_model()
    stream = np.tile(np.arange(2, 14), 300)[:3001]
    x, y = stream[:-1].reshape(-1, 20), stream[1:].reshape(-1, 20)
    steps = len(x) // 10
    schedule = SlantedTriangularLR(max_lr=0.05, total_steps=steps)
    optimizer = DiscriminativeOptimizer(
        keras.optimizers.Adam(schedule, beta_1=0.7, beta_2=0.99, clipnorm=1.0), model.layer_groups()
    )
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=optimizer, loss=loss)
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, batch_size=10, epochs=1, verbose=0)
    after = model.evaluate(x, y, verbose=0)
    assert after < 0.85 * before
    assert int(optimizer.iterations) == steps
    reloaded = save_and_reload(model, tmp_path)
    assert isinstance(reloaded.optimizer, DiscriminativeOptimizer)
    assert reloaded.optimizer.get_config() == optimizer.get_config()
    assert reloaded.optimizer.learning_rate_multipliers == pytest.approx([2.6**-3, 2.6**-2, 2.6**-1, 1.0])
    np.testing.assert_allclose(reloaded.predict(x[:2], verbose=0), model.predict(x[:2], verbose=0), atol=1e-6)
    reloaded.fit(x, y, batch_size=10, epochs=1, verbose=0)


def test_mixed_precision_with_loss_scaling():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model, groups = stack(2)
        model.compile(optimizer=DiscriminativeOptimizer(keras.optimizers.Adam(0.01), groups), loss="mse")
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        x = np.random.normal(size=(32, 3)).astype("float32")
        history = model.fit(x, x, epochs=3, verbose=0)
        assert np.isfinite(history.history["loss"]).all()
    finally:
        keras.mixed_precision.set_global_policy("float32")
