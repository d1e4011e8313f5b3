"""The command line's training options are the settings dataclasses' fields (`ulmfit_tf.recipe`)."""

import dataclasses

import pytest

from ulmfit_tf.recipe import field_kind

from ulmfit_tf.cli import build_parser
from ulmfit_tf.cli.parser import settings_from_options
from ulmfit_tf.cli.pipeline_command import recipe_from_options
from ulmfit_tf.recipe import RECIPES
from ulmfit_tf.recipe import STAGE_SETTINGS
from ulmfit_tf.recipe import ClassifierSettings
from ulmfit_tf.recipe import FinetuneSettings
from ulmfit_tf.recipe import PretrainSettings

REQUIRED = {
    "pretrain": ["--texts", "a.txt", "--output", "lm"],
    "finetune-lm": ["--language-model", "lm", "--texts", "a.txt", "--output", "tuned"],
    "fit-classifier": ["--language-model", "lm", "--train", "t.csv", "--output", "clf"],
}
SETTINGS = {"pretrain": PretrainSettings, "finetune-lm": FinetuneSettings, "fit-classifier": ClassifierSettings}


def options_of(command):
    parser = build_parser()
    subparser = parser._subparsers._group_actions[0].choices[command]
    return {action.dest: action for action in subparser._actions}


def changed_value(field, value):
    """Another valid value of a settings field, as its option is written."""
    if isinstance(value, bool):
        return [f"--no-{field.name.replace('_', '-')}"] if value else [f"--{field.name.replace('_', '-')}"], not value
    if field_kind(field) == "ClassWeight":
        return [f"--{field.name.replace('_', '-')}", "neg=1,pos=2.5"], {"neg": 1.0, "pos": 2.5}
    new = 7 if "int" in str(field.type) else 0.125
    return [f"--{field.name.replace('_', '-')}", str(new)], new


@pytest.mark.parametrize("command", sorted(SETTINGS))
def test_every_setting_has_an_option_with_its_default_and_help(command):
    settings_class = SETTINGS[command]
    options = options_of(command)
    args = build_parser().parse_args([command] + REQUIRED[command])
    inherited = {"batch_size", "bptt"} if command == "finetune-lm" else set()
    for field in dataclasses.fields(settings_class):
        action = options[field.name]
        assert action.option_strings[0] == "--" + field.name.replace("_", "-")
        assert action.help.startswith(field.metadata["help"])
        assert action.default == (None if field.name in inherited else field.default), field.name
    assert settings_from_options(args, settings_class) == settings_class()
    for field in dataclasses.fields(settings_class):
        argv, value = changed_value(field, field.default)
        args = build_parser().parse_args([command] + REQUIRED[command] + argv)
        assert settings_from_options(args, settings_class) == settings_class().replace(**{field.name: value})


def test_finetune_reads_the_stream_as_the_language_model_did_unless_told():
    args = build_parser().parse_args(["finetune-lm"] + REQUIRED["finetune-lm"] + ["--bptt", "30"])
    base = FinetuneSettings(batch_size=16, bptt=48)
    assert settings_from_options(args, FinetuneSettings, base=base) == FinetuneSettings(batch_size=16, bptt=30)


def test_the_pipeline_has_an_option_per_setting_of_each_stage():
    options = options_of("pipeline")
    for stage, settings_class in STAGE_SETTINGS.items():
        for field in dataclasses.fields(settings_class):
            action = options[f"{stage}_{field.name}"]
            assert action.option_strings[0] == f"--{stage}-{field.name.replace('_', '-')}"
            assert action.default is None and action.help.startswith(field.metadata["help"])
    for name, recipe in RECIPES.items():
        assert recipe_from_options(build_parser().parse_args(["pipeline", "--recipe", name])) == recipe
    args = build_parser().parse_args(
        ["pipeline", "--recipe", "tiny", "--classifier-epochs", "3", "--no-classifier-gradual-unfreezing",
         "--finetune-learning-rate", "0.02"]
    )
    recipe = recipe_from_options(args)
    assert recipe.classifier == RECIPES["tiny"].classifier.replace(epochs=3, gradual_unfreezing=False)
    assert recipe.finetune == RECIPES["tiny"].finetune.replace(learning_rate=0.02)
    assert recipe.pretrain == RECIPES["tiny"].pretrain


def test_bad_values_are_refused_by_the_parser(capsys):
    for argv in (["--epochs", "0"], ["--learning-rate", "-1"], ["--weight-decay", "nan"]):
        with pytest.raises(SystemExit) as exit_:
            build_parser().parse_args(["fit-classifier"] + REQUIRED["fit-classifier"] + argv)
        assert exit_.value.code == 2
    with pytest.raises(SystemExit):
        build_parser().parse_args(["fit-classifier"] + REQUIRED["fit-classifier"] + ["--class-weight", "pos=-1"])
    err = capsys.readouterr().err
    assert "argument --class-weight: must be 'balanced' or NAME=WEIGHT,... with weights > 0 (e.g. neg=1,pos=3), " \
        "not 'pos=-1'" in err
    assert build_parser().parse_args(
        ["fit-classifier"] + REQUIRED["fit-classifier"] + ["--class-weight", "balanced"]).class_weight == "balanced"
    assert "argument --epochs: must be a positive integer (got '0')" in err
    assert "argument --weight-decay: must be a number >= 0 (got 'nan')" in err
