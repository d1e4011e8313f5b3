"""The classifier's `temperature` and `thresholds`: checked, kept in its config, applied by `probabilities` and `decide`."""

import numpy as np
import pytest
from keras import ops

from tests.models.ulmfit_text_classifier_test import classifier


def test_temperature_divides_the_logits_and_thresholds_decide():
    model = classifier(num_classes=3, problem_type="multi_label", temperature=2.0, thresholds=[0.5, 0.3, 0.9])
    logits = np.array([[2.0, -1.0, 3.0], [0.0, 0.0, 0.0]], "float32")
    probabilities = ops.convert_to_numpy(model.probabilities(logits))
    np.testing.assert_allclose(probabilities, 1 / (1 + np.exp(-logits / 2)), rtol=1e-6)
    # 0.731 >= 0.5, 0.378 >= 0.3, 0.818 < 0.9; then 0.5 each: only the 0.3 threshold is reached.
    assert model.decide(probabilities).tolist() == [[True, True, False], [True, True, False]]
    assert model.decide(probabilities, top_k=1).tolist() == [[True, False, False], [True, False, False]]
    config = model.get_config()
    assert (config["temperature"], config["thresholds"]) == (2.0, [0.5, 0.3, 0.9])
    single = classifier(num_classes=2, temperature=0.5)
    np.testing.assert_allclose(
        ops.convert_to_numpy(single.probabilities(np.array([[1.0, 0.0]], "float32"))),
        [[1 / (1 + np.exp(-2.0)), 1 - 1 / (1 + np.exp(-2.0))]], rtol=1e-6,
    )
    assert single.decide([[0.2, 0.8], [0.6, 0.4]]).tolist() == [[False, True], [True, False]]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(temperature=0.0), r"^Argument `temperature` must be a number > 0. Received: temperature=0.0$"),
        (dict(temperature="2"), r"^Argument `temperature` must be a number > 0. Received: temperature='2'$"),
        (dict(thresholds=[0.5, 0.5]), r"of a multi-label classifier. Received: thresholds=\[0.5, 0.5\], problem_type='single_label'$"),
        (dict(problem_type="multi_label", thresholds=[0.5]), r"^Argument `thresholds` must be one number in \[0, 1\] for each of the 2"),
        (dict(problem_type="multi_label", thresholds=[0.5, 1.5]), r"Received: thresholds=\[0.5, 1.5\]"),
    ],
)
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        classifier(num_classes=2, **kwargs)
