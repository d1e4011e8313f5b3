"""One fingerprint per stage: what its checkpoints and the pipeline's stage folders are matched on."""

import dataclasses

import numpy as np
import pytest

from ulmfit_tf.recipe import RECIPES
from ulmfit_tf.stages.fingerprints import classifier_fingerprint
from ulmfit_tf.stages.fingerprints import finetune_fingerprint
from ulmfit_tf.stages.fingerprints import pretrain_fingerprint


class Tokenizer:
    def __init__(self, reverse=False):
        self.reverse = reverse

    def get_config(self):
        return {"reverse": self.reverse}


class Preprocessor:
    def __init__(self, tokenizer):
        self.tokenizer = tokenizer


class LanguageModel:
    """What the fingerprints read of a language model: its weights and its preprocessor's tokenizer."""

    def __init__(self, weights, reverse=False):
        self.weights, self.preprocessor = weights, Preprocessor(Tokenizer(reverse))

    def get_weights(self):
        return self.weights


LM = LanguageModel([np.ones((3, 2), "float32")])
TEXTS, LABELS = ["A fine film.", "Dull.", "A triumph."], ["fresh", "rotten", "fresh"]


def fingerprints(recipe, lm=LM, texts=TEXTS, labels=LABELS, seed=0):
    return {
        "pretrain": pretrain_fingerprint(
            recipe.pretrain, texts, texts[:1], tokenizer=None, embeddings=None, backwards=False, seed=seed,
            dtype_policy=None,
        ),
        "finetune": finetune_fingerprint(recipe.finetune, lm, texts, None, seed=seed, dtype_policy=None),
        "classifier": classifier_fingerprint(
            recipe.classifier, lm, texts, labels, None, label_names=None, problem_type="single_label", seed=seed,
            dtype_policy=None,
        ),
    }


def another(value, name=None):
    if isinstance(value, bool):
        return not value
    if name == "class_weight":
        return "balanced" if value is None else None
    return 3 if value is None or isinstance(value, int) else value * 2


@pytest.mark.parametrize("stage", ["pretrain", "finetune", "classifier"])
def test_each_setting_of_a_stage_changes_its_fingerprint_and_no_other(stage):
    recipe = RECIPES["tiny"]
    before = fingerprints(recipe)
    settings = getattr(recipe, stage)
    for field in dataclasses.fields(settings):
        changed = dataclasses.replace(recipe, **{stage: settings.replace(**{field.name: another(getattr(settings, field.name), field.name)})})
        after = fingerprints(changed)
        assert after[stage] != before[stage], field.name
        assert after[stage][field.name] == getattr(getattr(changed, stage), field.name)
        for other in set(before) - {stage}:
            assert after[other] == before[other], (field.name, other)


def test_the_data_the_seed_and_the_starting_weights_change_fingerprints():
    recipe = RECIPES["tiny"]
    before = fingerprints(recipe)
    assert fingerprints(recipe) == before  # the same arguments, the same fingerprints
    assert all(a != b for a, b in zip(fingerprints(recipe, seed=1).values(), before.values()))
    assert all(a != b for a, b in zip(fingerprints(recipe, texts=TEXTS[::-1]).values(), before.values()))
    relabelled = fingerprints(recipe, labels=["rotten", "rotten", "fresh"])
    assert relabelled["classifier"] != before["classifier"] and relabelled["finetune"] == before["finetune"]
    moved = fingerprints(recipe, lm=LanguageModel([np.zeros((3, 2), "float32")]))
    assert moved["pretrain"] == before["pretrain"]
    assert moved["finetune"]["language_model"] != before["finetune"]["language_model"]
    assert moved["classifier"]["language_model"] != before["classifier"]["language_model"]
    backward = fingerprints(recipe, lm=LanguageModel(LM.weights, reverse=True))
    assert backward["finetune"]["tokenizer"] != before["finetune"]["tokenizer"]
