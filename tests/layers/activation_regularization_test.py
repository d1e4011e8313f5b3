import numpy as np
import pytest

from ulmfit_tf.layers import ActivationRegularization
from ulmfit_tf.models.ulmfit_language_model import ActivationRegularization as OldPath


def test_ar_on_the_dropped_output_and_tar_on_the_raw_one():
    raw = np.array([[[0.0, 1.0], [1.0, 1.0], [3.0, -1.0]]])
    dropped = np.array([[[0.0, 2.0], [0.0, 0.0], [6.0, 0.0]]])
    layer = ActivationRegularization(alpha=2.0, beta=0.5)
    np.testing.assert_array_equal(layer([raw, dropped], training=True), dropped)
    ar, tar = (float(loss) for loss in layer.losses)
    assert ar == pytest.approx(2.0 * (4 + 36) / 6)  # alpha * mean(dropped ** 2)
    assert tar == pytest.approx(0.5 * (1 + 0 + 4 + 4) / 4)  # beta * mean((raw_t - raw_t-1) ** 2)
    layer([raw, dropped], training=False)
    assert layer.losses == []


def test_a_zero_weight_adds_no_loss_and_the_mask_stops_here():
    raw = np.ones((1, 3, 2))
    layer = ActivationRegularization(alpha=0.0, beta=1.0)
    layer([raw, raw], training=True)
    assert [float(loss) for loss in layer.losses] == [0.0]  # TAR of a constant sequence
    assert layer.compute_mask([raw, raw], [None, None]) is None


def test_old_import_path_and_bad_arguments():
    assert OldPath is ActivationRegularization
    with pytest.raises(ValueError, match="Argument `beta` must be >= 0. Received: beta=-1"):
        ActivationRegularization(beta=-1)
