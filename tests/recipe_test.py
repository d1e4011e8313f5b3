import dataclasses
import subprocess
import sys

import pytest

from ulmfit_tf.errors import UserInputError
from ulmfit_tf.recipe import BUNDLED_LANGUAGE_MODEL
from ulmfit_tf.recipe import RECIPES
from ulmfit_tf.recipe import STAGE_SETTINGS
from ulmfit_tf.recipe import ClassifierSettings
from ulmfit_tf.recipe import FinetuneSettings
from ulmfit_tf.recipe import PretrainSettings
from ulmfit_tf.recipe import Recipe
from ulmfit_tf.recipe import get_recipe
from ulmfit_tf.recipe import settings_with

# `ulmfit_tf.pipeline.RECIPES` as it was before the recipe became dataclasses (0.1): the reference.
OLD_RECIPES = {
    "small": dict(
        language_model="awd_lstm_small_en_uncased",
        pretrain_words=300_000, vocabulary_size=4000, embedding_dim=128, hidden_dim=320, num_layers=3,
        dropout_multiplier=0.3, lm_batch_size=16, bptt=48, pretrain_epochs=2, pretrain_learning_rate=2e-2,
        finetune_epochs=2, finetune_learning_rate=1e-2,
        classifier_batch_size=64, classifier_epochs=6, classifier_learning_rate=1e-2,
        classifier_gradual_unfreezing=False, classifier_factor=1.0, classifier_dropout_multiplier=0.3,
        classifier_min_steps=240, classifier_restore_best_weights=False,
    ),
    "paper": dict(
        language_model=None,
        pretrain_words=None, vocabulary_size=15000, embedding_dim=400, hidden_dim=1152, num_layers=3,
        dropout_multiplier=1.0, lm_batch_size=64, bptt=72, pretrain_epochs=4, pretrain_learning_rate=5e-3,
        finetune_epochs=4, finetune_learning_rate=4e-3, classifier_batch_size=64, classifier_epochs=5,
        classifier_learning_rate=1e-2, classifier_gradual_unfreezing=True, classifier_factor=2.6,
        classifier_dropout_multiplier=None, classifier_min_steps=None, classifier_restore_best_weights=False,
    ),
    "tiny": dict(
        language_model=None,
        pretrain_words=8_000, vocabulary_size=300, embedding_dim=16, hidden_dim=24, num_layers=2,
        dropout_multiplier=1.0, lm_batch_size=8, bptt=20, pretrain_epochs=1, pretrain_learning_rate=5e-3,
        finetune_epochs=1, finetune_learning_rate=4e-3, classifier_batch_size=32, classifier_epochs=2,
        classifier_learning_rate=1e-2, classifier_gradual_unfreezing=True, classifier_factor=2.6,
        classifier_dropout_multiplier=None, classifier_min_steps=None, classifier_restore_best_weights=False,
    ),
}
# What the old pipeline passed each stage besides its recipe entries: the stages' own defaults then.
OLD_STAGE_DEFAULTS = dict(
    pretrain=dict(case_fold=False, weight_decay=0.01, checkpoint_every=None),
    finetune=dict(factor=2.6, weight_decay=0.01, dropout_multiplier=None),
    classifier=dict(slanted_triangular=True, weight_decay=0.01, bptt=72, max_len=1440),
)
# Settings added after the old dict: no class weights, calibration on validation texts, fine-tuning in one part.
NEW_CLASSIFIER_DEFAULTS = dict(class_weight=None, calibrate=True)
NEW_FINETUNE_DEFAULTS = dict(checkpoint_every=None)


def as_old_recipe(recipe):
    """A `Recipe` in the old flat form (and the settings the old dict left to the stages' defaults)."""
    pretrain, finetune = dataclasses.asdict(recipe.pretrain), dataclasses.asdict(recipe.finetune)
    assert (finetune.pop("batch_size"), finetune.pop("bptt")) == (pretrain["batch_size"], pretrain["bptt"])
    flat = dict(language_model=recipe.language_model, pretrain_words=recipe.pretrain_words)
    flat.update(lm_batch_size=pretrain.pop("batch_size"), bptt=pretrain.pop("bptt"))
    flat.update(pretrain_epochs=pretrain.pop("epochs"), pretrain_learning_rate=pretrain.pop("learning_rate"))
    flat.update(finetune_epochs=finetune.pop("epochs"), finetune_learning_rate=finetune.pop("learning_rate"))
    classifier = dataclasses.asdict(recipe.classifier)
    assert {k: finetune.pop(k) for k in NEW_FINETUNE_DEFAULTS} == NEW_FINETUNE_DEFAULTS
    rest = dict(
        pretrain={k: pretrain.pop(k) for k in OLD_STAGE_DEFAULTS["pretrain"]},
        finetune=finetune,
        classifier={k: classifier.pop(k) for k in OLD_STAGE_DEFAULTS["classifier"]},
    )
    assert {k: classifier.pop(k) for k in NEW_CLASSIFIER_DEFAULTS} == NEW_CLASSIFIER_DEFAULTS
    flat.update(pretrain)
    flat.update({f"classifier_{key}": value for key, value in classifier.items()})
    return flat, rest


@pytest.mark.parametrize("name", ["small", "paper", "tiny"])
def test_the_recipes_hold_the_old_values(name):
    flat, rest = as_old_recipe(RECIPES[name])
    assert flat == OLD_RECIPES[name]
    assert rest == OLD_STAGE_DEFAULTS
    assert list(RECIPES) == ["small", "paper", "tiny"]
    assert RECIPES["small"].language_model == BUNDLED_LANGUAGE_MODEL


def test_the_defaults_are_the_papers():
    assert (PretrainSettings().embedding_dim, PretrainSettings().hidden_dim, PretrainSettings().num_layers) == (
        400, 1152, 3)
    assert (FinetuneSettings().learning_rate, FinetuneSettings().factor) == (4e-3, 2.6)
    assert ClassifierSettings() == RECIPES["paper"].classifier
    assert Recipe().classifier == ClassifierSettings()
    assert set(STAGE_SETTINGS) == {field.name for field in dataclasses.fields(Recipe)} - {"language_model", "pretrain_words"}


def test_settings_are_checked_in_keras_style():
    with pytest.raises(UserInputError, match=r"^Argument `min_steps` must be a positive integer or None\. "
                       r"Received: min_steps=0$"):
        ClassifierSettings(min_steps=0)
    for bad in (2.5, True, "3"):
        with pytest.raises(UserInputError, match=f"Received: epochs={bad!r}"):
            ClassifierSettings(epochs=bad)
    with pytest.raises(UserInputError, match=r"^Argument `learning_rate` must be a finite number > 0\. "
                       r"Received: learning_rate=0$"):
        FinetuneSettings(learning_rate=0)
    with pytest.raises(UserInputError, match=r"Argument `gradual_unfreezing` must be True or False"):
        ClassifierSettings(gradual_unfreezing=1)
    assert PretrainSettings(weight_decay=0, dropout_multiplier=0).weight_decay == 0
    with pytest.raises(UserInputError, match=r"`weight_decay` must be a finite number >= 0"):
        PretrainSettings(weight_decay=float("inf"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        ClassifierSettings().epochs = 3
    assert ClassifierSettings(class_weight={"neg": 1, "pos": 3.5}).class_weight == {"neg": 1, "pos": 3.5}
    for bad in ("equal", {}, {"pos": 0}, {"pos": True}, ["balanced"]):
        with pytest.raises(UserInputError, match=r'^Argument `class_weight` must be "balanced" or a dict of class '
                           r"name -> weight > 0 or None\. Received: class_weight="):
            ClassifierSettings(class_weight=bad)


def test_replace_and_overrides():
    assert ClassifierSettings().replace(epochs=3) == ClassifierSettings(epochs=3)
    assert settings_with(None, FinetuneSettings, {}) == FinetuneSettings()
    assert settings_with(RECIPES["small"].classifier, ClassifierSettings, {"epochs": 9}).min_steps == 240
    with pytest.raises(TypeError, match=r"^Argument `epoch` is not a setting of `ClassifierSettings` \(its settings: "
                       r"batch_size, epochs, .*restore_best_weights, class_weight, calibrate\)\. Received: epoch=3$"):
        ClassifierSettings().replace(epoch=3)
    with pytest.raises(TypeError, match=r"Argument `settings` must be a `PretrainSettings`\. Received: "):
        settings_with(FinetuneSettings(), PretrainSettings, {})
    assert get_recipe("tiny") is RECIPES["tiny"] and get_recipe(RECIPES["paper"]) is RECIPES["paper"]
    with pytest.raises(UserInputError, match=r"Argument `recipe` must be one of \('small', 'paper', 'tiny'\) or a "
                       r"`Recipe`\. Received: recipe='big'"):
        get_recipe("big")


def test_importing_the_recipe_loads_no_keras():
    probe = subprocess.run(
        [sys.executable, "-c", "import sys, ulmfit_tf.recipe; print('keras' in sys.modules, 'tensorflow' in sys.modules)"],
        capture_output=True, text=True, timeout=120,
    )
    assert probe.stdout.split() == ["False", "False"], probe.stderr
