import dataclasses
import inspect

import keras
import pytest
import tensorflow as tf

from ulmfit_tf import stages
from ulmfit_tf.recipe import ClassifierSettings
from ulmfit_tf.recipe import FinetuneSettings
from ulmfit_tf.stages import RunOptions

RUN_OPTIONS = ["checkpoint_dir", "seed", "strategy", "dtype_policy", "callbacks", "verbose"]


def test_split_separates_run_options_from_settings_overrides():
    callback = keras.callbacks.History()
    settings, run = RunOptions.split(
        ClassifierSettings, ClassifierSettings(batch_size=16), {"epochs": 3, "seed": 7, "callbacks": [callback]}
    )
    assert settings == ClassifierSettings(batch_size=16, epochs=3)
    assert run.seed == 7 and run.callbacks == (callback,) and run.verbose == "auto" and run.checkpoint_dir is None
    assert run.strategy is tf.distribute.get_strategy()  # the one in force, resolved once
    untouched, default = RunOptions.split(FinetuneSettings, None, {})
    assert untouched == FinetuneSettings() and default.seed == 0 and default.dtype_policy is None


def test_the_strategy_in_force_is_the_default():
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    with strategy.scope():
        _, run = RunOptions.split(ClassifierSettings, None, {})
    assert run.strategy is strategy
    given = tf.distribute.OneDeviceStrategy("/cpu:0")
    assert RunOptions.split(ClassifierSettings, None, {"strategy": given})[1].strategy is given


def test_an_unknown_name_is_refused_with_both_lists():
    with pytest.raises(TypeError) as error:
        RunOptions.split(ClassifierSettings, None, {"epoch": 3})
    settings = ", ".join(field.name for field in dataclasses.fields(ClassifierSettings))
    assert str(error.value) == (
        f"Argument `epoch` is not a setting of `ClassifierSettings` (its settings: {settings}) nor a run option "
        f"({', '.join(RUN_OPTIONS)}). Received: epoch=3"
    )


def test_scope_builds_under_the_dtype_policy_and_restores_it():
    before = keras.config.dtype_policy().name
    _, run = RunOptions.split(ClassifierSettings, None, {"dtype_policy": "mixed_bfloat16"})
    with run.scope():
        assert keras.layers.Dense(2).dtype_policy.name == "mixed_bfloat16"
        assert tf.distribute.get_strategy() is run.strategy
    assert keras.config.dtype_policy().name == before


@pytest.mark.parametrize("stage", [stages.pretrain_language_model, stages.finetune_language_model, stages.fit_classifier])
def test_every_stage_takes_the_run_options_as_keywords(stage):
    parameters = inspect.signature(stage).parameters
    assert [field.name for field in dataclasses.fields(RunOptions)] == RUN_OPTIONS
    assert parameters["options"].kind is inspect.Parameter.VAR_KEYWORD
    assert not set(RUN_OPTIONS) & set(parameters)  # one definition: RunOptions'
    assert "RunOptions" in inspect.getdoc(stage)
