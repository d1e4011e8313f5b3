import keras
import numpy as np
import pytest

from ulmfit_tf.layers import LastChunksMask


@pytest.mark.parametrize(
    "length, expected",
    # bptt 3, max_len 6: chunks start at 0, 3, 6, ...; pooled from the first start >= length - 6.
    [(1, 0), (6, 0), (7, 3), (8, 3), (9, 3), (10, 6), (12, 6), (13, 9), (100, 96)],
)
def test_first_pooled_position_is_the_first_chunk_start_within_max_len(length, expected):
    mask = LastChunksMask(bptt=3, max_len=6, padding_id=1)
    assert int(mask.first_pooled_position(np.array(length, "int32"))) == expected


def test_mask_keeps_real_tokens_of_the_last_chunks():
    mask = LastChunksMask(bptt=3, max_len=6, padding_id=1)
    ids = np.array([[2] * 8 + [1] * 2, [2] * 4 + [1] * 6, [1] * 10])
    # Length 8: chunks start at 0, 3, 6; kept where 8 - start <= 6 -> 3 and 6.
    assert mask(ids).numpy().astype(int).tolist() == [
        [0, 0, 0, 1, 1, 1, 1, 1, 0, 0],
        [1, 1, 1, 1, 0, 0, 0, 0, 0, 0],
        [0] * 10,
    ]


def test_no_max_len_pools_every_real_token_of_any_padding_id():
    mask = LastChunksMask(bptt=3, max_len=None, padding_id=0)
    ids = np.array([[5] * 20 + [0] * 3])
    assert mask(ids).numpy().tolist() == [[True] * 20 + [False] * 3]
    assert int(mask.first_pooled_position(np.array(20, "int32"))) == 0


def test_config_round_trip():
    mask = LastChunksMask(bptt=4, max_len=8, padding_id=3, name="pooling_mask")
    config = keras.saving.serialize_keras_object(mask)
    assert config["registered_name"] == "ulmfit_tf>LastChunksMask"
    restored = keras.saving.deserialize_keras_object(config)
    assert (restored.bptt, restored.max_len, restored.padding_id, restored.name) == (4, 8, 3, "pooling_mask")
