"""The settings of the three ULMFiT stages, and the named recipes, in one place.

Each stage's settings are a frozen dataclass: `PretrainSettings`,
`FinetuneSettings` and `ClassifierSettings`. Their defaults are the paper's
(and fastai's); the stages take them as `settings=` plus keyword overrides,
the command line generates its training options from their fields (the help
text is each field's `metadata["help"]`), and a stage's fingerprint records
them. A `Recipe` holds one of each and the language model it starts from;
`RECIPES` names the three the pipeline offers. Importing this module loads
neither Keras nor TensorFlow.

Example:

```python
import dataclasses
from ulmfit_tf.recipe import RECIPES

recipe = RECIPES["small"]
longer = dataclasses.replace(recipe.classifier, epochs=10)
classifier = stages.fit_classifier(tuned, texts, labels, settings=longer)
```
"""

from __future__ import annotations  # field types as strings: `field_kind` reads them

import dataclasses
import numbers

from ulmfit_tf.errors import UserInputError

# The bundled preset (`ulmfit_tf.presets.list_presets()`) the `small` recipe starts from.
BUNDLED_LANGUAGE_MODEL = "awd_lstm_small_en_uncased"


def setting(default, help, zero=False):
    """A settings field: its default, the help line of its option, whether 0 is allowed.

    Integer fields hold counts (at least 1); float fields hold rates, sizes
    and factors (finite, above 0, or at least 0 with `zero=True`); a field
    typed `... | None` also takes `None` ("unset": its help says what then).

    Args:
        default: The default value.
        help: String, the command line's help for the option.
        zero: Boolean, a float field may be 0 (weight decay, dropout).

    Returns:
        A `dataclasses.field`.

    Example:

    ```python
    epochs: int = setting(5, "passes over the data")
    ```
    """
    return dataclasses.field(default=default, metadata={"help": help, "zero": zero})


class _Settings:
    """Checks every field of a settings dataclass against its type when made."""

    def __post_init__(self):
        for field in dataclasses.fields(self):
            _check(field, getattr(self, field.name))

    def replace(self, **overrides):
        """A copy with some settings changed; an unknown name is refused with the known ones.

        Example:

        ```python
        ClassifierSettings().replace(epochs=3).epochs  # 3
        ```
        """
        known = [field.name for field in dataclasses.fields(self)]
        unknown = sorted(set(overrides) - set(known))
        if unknown:
            raise TypeError(
                f"Argument `{unknown[0]}` is not a setting of `{type(self).__name__}` (its settings: "
                f"{', '.join(known)}). Received: {unknown[0]}={overrides[unknown[0]]!r}"
            )
        return dataclasses.replace(self, **overrides)


def field_kind(field):
    """`"bool"`, `"int"`, `"float"` or `"ClassWeight"`: the type of a settings field, without `| None`.

    Example:

    ```python
    [field_kind(f) for f in dataclasses.fields(FinetuneSettings)][:2]  # ["int", "int"]
    ```
    """
    return str(field.type).split("|")[0].strip()


def is_optional(field):
    """Whether a settings field also takes `None`."""
    return "None" in str(field.type)


def _check(field, value):
    name, kind = field.name, field_kind(field)
    if value is None and is_optional(field):
        return
    if kind == "ClassWeight":
        valid, what = _class_weight_ok(value), '"balanced" or a dict of class name -> weight > 0'
    elif kind == "bool":
        valid, what = isinstance(value, bool), "True or False"
    elif kind == "int":
        valid, what = isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 1, (
            "a positive integer"
        )
    else:
        lowest_ok = field.metadata["zero"]
        valid = (
            isinstance(value, numbers.Real) and not isinstance(value, bool) and value < float("inf")
            and (value >= 0 if lowest_ok else value > 0)
        )
        what = "a finite number >= 0" if lowest_ok else "a finite number > 0"
    if not valid:
        what += " or None" if is_optional(field) else ""
        raise UserInputError(f"Argument `{name}` must be {what}. Received: {name}={value!r}")


def _class_weight_ok(value):
    if value == "balanced":
        return True
    return isinstance(value, dict) and bool(value) and all(
        isinstance(weight, numbers.Real) and not isinstance(weight, bool) and 0 < weight < float("inf")
        for weight in value.values()
    )


ClassWeight = "str | dict"  # the type of `ClassifierSettings.class_weight`: "balanced" or {class name: weight}


@dataclasses.dataclass(frozen=True)
class PretrainSettings(_Settings):
    """Stage 1's settings: `stages.pretrain_language_model`.

    The defaults are the paper's model (an AWD-LSTM of 3 layers, 1152
    hidden units, 400-d embeddings) with fastai's rates.

    Example:

    ```python
    PretrainSettings(embedding_dim=128, hidden_dim=320, epochs=2)
    ```
    """

    vocabulary_size: int = setting(15000, "SentencePiece pieces of the tokenizer trained (when none is given)")
    case_fold: bool = setting(False, "the SentencePiece model trained folds case")
    embedding_dim: int = setting(400, "embedding size")
    hidden_dim: int = setting(1152, "LSTM hidden units")
    num_layers: int = setting(3, "LSTM layers")
    dropout_multiplier: float = setting(1.0, "scales every dropout (fastai's drop_mult)", zero=True)
    batch_size: int = setting(64, "rows of the text stream (the global batch)")
    bptt: int = setting(72, "tokens per window")
    epochs: int = setting(1, "passes over the texts")
    learning_rate: float = setting(5e-3, "peak rate of the slanted triangular schedule")
    weight_decay: float = setting(0.01, "AdamW's decoupled weight decay", zero=True)
    checkpoint_every: int | None = setting(
        None, "cut each pass into parts of at least this many updates, each checkpointed and validated"
    )


@dataclasses.dataclass(frozen=True)
class FinetuneSettings(_Settings):
    """Stage 2's settings: `stages.finetune_language_model`.

    The paper's discriminative fine-tuning (factor 2.6) under slanted
    triangular rates peaking at 0.004.

    Example:

    ```python
    FinetuneSettings(batch_size=16, bptt=48, epochs=2, learning_rate=1e-2)
    ```
    """

    batch_size: int = setting(64, "rows of the text stream (the global batch)")
    bptt: int = setting(72, "tokens per window")
    epochs: int = setting(1, "passes over the texts")
    learning_rate: float = setting(4e-3, "peak rate of the top layer group")
    factor: float = setting(
        2.6, "discriminative factor: each layer group's rate is the one above it / factor (1: one rate for all)"
    )
    weight_decay: float = setting(0.01, "AdamW's decoupled weight decay", zero=True)
    dropout_multiplier: float | None = setting(None, "scales every dropout (default: the language model's)", zero=True)
    checkpoint_every: int | None = setting(
        None, "cut each pass into parts of at least this many updates, each checkpointed and validated"
    )


@dataclasses.dataclass(frozen=True)
class ClassifierSettings(_Settings):
    """Stage 3's settings: `stages.fit_classifier`.

    fastai's recipe: gradual unfreezing, discriminative rates (factor 2.6),
    one slanted triangular schedule peaking at 0.01, BPT3C over windows of
    72 tokens pooling the last 1440.

    Example:

    ```python
    ClassifierSettings(epochs=6, gradual_unfreezing=False, factor=1.0, min_steps=240)
    ```
    """

    batch_size: int = setting(64, "texts per batch (batched by length)")
    epochs: int = setting(5, "passes over the data")
    learning_rate: float = setting(1e-2, "peak rate of the top layer group")
    factor: float = setting(
        2.6, "discriminative factor: each layer group's rate is the one above it / factor (1: one rate for all)"
    )
    gradual_unfreezing: bool = setting(True, "unfreeze one layer group an epoch (off: train all layers from the start)")
    slanted_triangular: bool = setting(True, "slanted triangular rates (off: the peak rate throughout)")
    weight_decay: float = setting(0.01, "AdamW's decoupled weight decay", zero=True)
    bptt: int = setting(72, "tokens per window (the BPT3C chunk)")
    max_len: int = setting(1440, "pooled tokens at the end of each text (BPT3C)")
    dropout_multiplier: float | None = setting(None, "scales every dropout (default: the language model's)", zero=True)
    min_steps: int | None = setting(None, "more epochs for a small training set, up to this many updates")
    restore_best_weights: bool = setting(
        False, "end with the weights of the epoch of best validation accuracy (needs validation data)"
    )
    class_weight: ClassWeight | None = setting(
        None, "weights of the classes in the loss: 'balanced' (n / (classes x count)) or NAME=WEIGHT,... "
        "(single-label; default: all 1)"
    )
    calibrate: bool = setting(
        True, "fit a temperature on the validation split after training (multi-label: per-label thresholds too)"
    )


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A run of the three stages: each one's settings and where stage 1 starts.

    Args:
        language_model: The preset (a bundled name or a folder) the run
            fine-tunes, or `None` to pretrain one on a corpus.
        pretrain_words: Integer or `None`, words of the corpus pretrained
            on (all when `None`); the pipeline holds out 5% of the texts.
        pretrain: `PretrainSettings`.
        finetune: `FinetuneSettings`.
        classifier: `ClassifierSettings`.

    Example:

    ```python
    recipe = dataclasses.replace(RECIPES["tiny"], classifier=ClassifierSettings(epochs=1))
    run_pipeline(corpus, train, test, recipe=recipe)
    ```
    """

    language_model: str | None = None
    pretrain_words: int | None = None
    pretrain: PretrainSettings = PretrainSettings()
    finetune: FinetuneSettings = FinetuneSettings()
    classifier: ClassifierSettings = ClassifierSettings()



# A recipe's stages, by the name the pipeline's options and results give them.
STAGE_SETTINGS = {"pretrain": PretrainSettings, "finetune": FinetuneSettings, "classifier": ClassifierSettings}

# Training recipes: the sizes, epochs and rates of each stage. Pretraining and fine-tuning read the
# text stream alike (one batch size and window length for both).
RECIPES = {
    # About 8.5 minutes on 2 CPU cores from the bundled preset (see README).
    "small": Recipe(
        # Starts from the bundled English language model; `language_model=None` (`--pretrain`) pretrains
        # one of the sizes below on the news instead.
        language_model=BUNDLED_LANGUAGE_MODEL,
        pretrain_words=300_000,
        pretrain=PretrainSettings(
            vocabulary_size=4000, embedding_dim=128, hidden_dim=320, num_layers=3, dropout_multiplier=0.3,
            batch_size=16, bptt=48, epochs=2, learning_rate=2e-2,
        ),
        finetune=FinetuneSettings(batch_size=16, bptt=48, epochs=2, learning_rate=1e-2),
        # Chosen on the validation split (pretraining/README.md, recipes.jsonl). From the bundled
        # model: all layers at one rate, dropouts x 0.3: 0.7512 (two seeds) vs x 0.5: 0.7369,
        # x 1: 0.6291, gradual unfreezing: 0.6414. From the 10-minute LM: all layers at one rate
        # 0.750 vs gradual unfreezing 0.668 and all layers at discriminative rates 0.672.
        classifier=ClassifierSettings(
            batch_size=64, epochs=6, learning_rate=1e-2, gradual_unfreezing=False, factor=1.0, dropout_multiplier=0.3,
            # Few labels get at least 240 updates (more epochs). 200 labels, validation over two seeds:
            # 0.5800 at 30 epochs (240 steps), 0.5707 at 60, 0.5630 at 6 (48 steps). All labels: unchanged.
            min_steps=240, restore_best_weights=False,
        ),
    ),
    # The paper's model size (the settings' defaults), for a GPU or a long CPU run.
    "paper": Recipe(
        pretrain=PretrainSettings(epochs=4), finetune=FinetuneSettings(epochs=4), classifier=ClassifierSettings()
    ),
    # Seconds, for tests: fastai's classifier recipe on a tiny model.
    "tiny": Recipe(
        pretrain_words=8_000,
        pretrain=PretrainSettings(
            vocabulary_size=300, embedding_dim=16, hidden_dim=24, num_layers=2, batch_size=8, bptt=20
        ),
        finetune=FinetuneSettings(batch_size=8, bptt=20),
        classifier=ClassifierSettings(batch_size=32, epochs=2),
    ),
}


def get_recipe(recipe):
    """A `Recipe` from its name in `RECIPES`, or the `Recipe` given.

    Example:

    ```python
    get_recipe("tiny").classifier.epochs  # 2
    ```
    """
    if isinstance(recipe, Recipe):
        return recipe
    if recipe not in RECIPES:
        raise UserInputError(f"Argument `recipe` must be one of {tuple(RECIPES)} or a `Recipe`. Received: recipe={recipe!r}")
    return RECIPES[recipe]


def settings_with(settings, settings_class, overrides):
    """`settings` (default: `settings_class()`) with keyword overrides: what each stage does with its arguments.

    Example:

    ```python
    settings_with(None, ClassifierSettings, {"epochs": 3}).epochs  # 3
    ```
    """
    if settings is None:
        settings = settings_class()
    elif not isinstance(settings, settings_class):
        raise TypeError(
            f"Argument `settings` must be a `{settings_class.__name__}`. Received: settings={settings!r}"
        )
    return settings.replace(**overrides) if overrides else settings
