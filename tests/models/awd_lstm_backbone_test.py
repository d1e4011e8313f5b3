import numpy as np
import pytest

from tests.conftest import save_and_reload
from ulmfit_tf.models import CLASSIFIER_DROPOUTS
from ulmfit_tf.models import AWDLSTMBackbone
from ulmfit_tf.models.dropouts import backbone_dropouts


def tiny_backbone(**kwargs):
    config = dict(vocabulary_size=40, embedding_dim=6, hidden_dim=10, num_layers=3, seed=1)
    config.update(kwargs)
    return AWDLSTMBackbone(**config)


def test_layers_and_outputs():
    backbone = tiny_backbone()
    assert [lstm.name for lstm in backbone.lstm_layers] == ["lstm_0", "lstm_1", "lstm_2"]
    assert [lstm.units for lstm in backbone.lstm_layers] == [10, 10, 6]
    outputs = backbone(np.random.randint(2, 40, size=(2, 7)), training=True)
    assert outputs["sequence_output"].shape == (2, 7, 6)
    assert [o.shape[-1] for o in outputs["raw_outputs"]] == [10, 10, 6]
    assert len(outputs["dropped_outputs"]) == 3
    np.testing.assert_array_equal(outputs["sequence_output"], outputs["raw_outputs"][-1])
    # Hidden dropout sits between layers only: the last layer's dropped
    # output is its raw output; the others are (locked-)dropped copies.
    np.testing.assert_array_equal(outputs["dropped_outputs"][-1], outputs["raw_outputs"][-1])
    first_raw, first_dropped = (np.asarray(o[0]) for o in (outputs["raw_outputs"], outputs["dropped_outputs"]))
    kept = first_dropped != 0
    np.testing.assert_allclose(first_dropped[kept], first_raw[kept] / 0.85, rtol=1e-5)


def test_deterministic_at_inference_random_in_training():
    backbone = tiny_backbone()
    ids = np.random.randint(2, 40, size=(2, 7))
    np.testing.assert_array_equal(backbone(ids)["sequence_output"], backbone(ids)["sequence_output"])
    assert not np.allclose(
        backbone(ids, training=True)["sequence_output"],
        backbone(ids, training=True)["sequence_output"],
    )


def test_dropout_multiplier_scales_every_rate():
    backbone = tiny_backbone(dropout_multiplier=0.5, **backbone_dropouts(CLASSIFIER_DROPOUTS))
    assert backbone.embedding_dropout_layer.rate == pytest.approx(0.025)
    assert backbone.input_dropout_layer.rate == pytest.approx(0.2)
    assert [d.rate for d in backbone.hidden_dropout_layers] == pytest.approx([0.15, 0.15])
    assert [lstm.weight_dropout for lstm in backbone.lstm_layers] == pytest.approx([0.25] * 3)
    # The config keeps the unscaled rates and the multiplier.
    assert backbone.get_config()["input_dropout"] == 0.4
    assert backbone.get_config()["dropout_multiplier"] == 0.5


@pytest.mark.parametrize("side", ["after", "before"])
def test_padding_gives_the_same_outputs_as_the_text_alone(side):
    backbone = tiny_backbone(padding_id=1)
    text = np.array([[5, 9, 3, 7]])
    pads = np.ones((1, 3), int)
    padded = np.concatenate([text, pads] if side == "after" else [pads, text], axis=1)
    real = slice(0, 4) if side == "after" else slice(3, 7)
    alone = backbone(text)["sequence_output"]
    np.testing.assert_allclose(backbone(padded)["sequence_output"][:, real], alone, atol=1e-6)


def test_without_padding_id_nothing_is_masked():
    backbone = tiny_backbone()
    ids = np.array([[5, 1, 1, 7]])
    outputs = np.asarray(backbone(ids)["sequence_output"])
    assert not np.allclose(outputs[0, 1], outputs[0, 0])


def test_stateful_calls_continue_the_sequence():
    stateless = tiny_backbone()
    stateful = tiny_backbone(stateful=True, batch_size=2)
    stateful.set_weights(stateless.get_weights())
    ids = np.random.randint(2, 40, size=(2, 10))
    whole = stateless(ids)["sequence_output"]
    first = stateful(ids[:, :6])["sequence_output"]
    second = stateful(ids[:, 6:])["sequence_output"]
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole, atol=1e-6)
    stateful.reset_state()
    for lstm in stateful.lstm_layers:
        assert all(np.all(np.asarray(state) == 0) for state in lstm.states)
    np.testing.assert_allclose(stateful(ids[:, 6:])["sequence_output"], stateless(ids[:, 6:])["sequence_output"], atol=1e-6)


def test_config_and_keras_round_trip(tmp_path):
    backbone = tiny_backbone(padding_id=1, dropout_multiplier=0.7)
    ids = np.random.randint(1, 40, size=(3, 8))
    restored = AWDLSTMBackbone.from_config(backbone.get_config())
    assert restored.get_config() == backbone.get_config()
    reloaded = save_and_reload(backbone, tmp_path)
    assert isinstance(reloaded, AWDLSTMBackbone)
    assert reloaded.get_config() == backbone.get_config()
    for key in ("sequence_output",):
        np.testing.assert_array_equal(reloaded(ids)[key], backbone(ids)[key])


def test_bad_arguments():
    with pytest.raises(ValueError, match="Argument `hidden_dim` must be a positive integer. Received: hidden_dim=0"):
        tiny_backbone(hidden_dim=0)
    with pytest.raises(ValueError, match="Argument `batch_size` must be set when `stateful=True`. Received: batch_size=None"):
        tiny_backbone(stateful=True)
    with pytest.raises(ValueError, match="Argument `dropout_multiplier` must be >= 0"):
        tiny_backbone(dropout_multiplier=-1)
