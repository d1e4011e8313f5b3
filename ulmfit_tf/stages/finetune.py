"""Stage 2: fine-tune a language model on the target task's texts."""

import keras

from ulmfit_tf.distribute import per_replica_batch_size
from ulmfit_tf.recipe import FinetuneSettings
from ulmfit_tf.stages.checks import checked_language_model
from ulmfit_tf.stages.fingerprints import finetune_fingerprint
from ulmfit_tf.stages.language_model_training import fit_language_model
from ulmfit_tf.stages.run_options import RunOptions


def finetune_language_model(
    language_model,
    texts,
    validation_texts=None,
    *,
    settings=None,
    **options,
):
    """Stage 2: fine-tunes a language model on the target task's texts.

    The paper's recipe: discriminative fine-tuning (each layer group below
    the top trains at the rate above it divided by `factor`) and slanted
    triangular rates peaking at `learning_rate` (0.004 in the paper). The
    model is rebuilt for this stage's batch size with the source's weights;
    the source is left unchanged.

    Args:
        language_model: A `ULMFiTLanguageModel` with a `preprocessor`
            (as `pretrain_language_model` returns, or loaded from a file).
        texts: List of strings, the target task's texts (labelled or not).
        validation_texts: Optional list of strings.
        settings: Optional `FinetuneSettings` (batch size, window, epochs,
            rate, `factor`, weight decay, `dropout_multiplier`: `None`
            keeps the source's; `checkpoint_every` cuts each pass into
            checkpointed parts, as in `pretrain_language_model`). Defaults
            to the paper's.
        **options: How the stage runs (`RunOptions`: `checkpoint_dir`,
            `seed`, `strategy`, `dtype_policy`, `callbacks`, `verbose`) and
            settings to change in `settings`, e.g. `epochs=2`.

    Returns:
        The fine-tuned `ULMFiTLanguageModel` (its `history` and
        `fingerprint` set).

    Example:

    ```python
    tuned = finetune_language_model(lm, reviews + plot_summaries, batch_size=16, bptt=48, epochs=2)
    ```
    """
    settings, run = RunOptions.split(FinetuneSettings, settings, options)
    keras.utils.set_random_seed(run.seed)
    source = checked_language_model(language_model)
    fingerprint = finetune_fingerprint(
        settings, source, texts, validation_texts, seed=run.seed, dtype_policy=run.dtype_policy
    )
    backbone = source.backbone
    dropout_multiplier = settings.dropout_multiplier
    with run.scope():
        model = source.rebuilt(
            seed=run.seed,
            stateful=True,
            batch_size=per_replica_batch_size(settings.batch_size, run.strategy),
            dropout_multiplier=backbone.dropout_multiplier if dropout_multiplier is None else dropout_multiplier,
        )
    return fit_language_model(
        model, texts, validation_texts, settings, run, factor=settings.factor, fingerprint=fingerprint,
    )
