"""Stage 2: fine-tune a language model on the target task's texts."""

import keras
import tensorflow as tf

from ulmfit_tf.distribute import dtype_policy_scope
from ulmfit_tf.distribute import per_replica_batch_size
from ulmfit_tf.recipe import FinetuneSettings
from ulmfit_tf.recipe import settings_with
from ulmfit_tf.stages.checks import checked_language_model
from ulmfit_tf.stages.fingerprints import finetune_fingerprint
from ulmfit_tf.stages.language_model_training import fit_language_model


def finetune_language_model(
    language_model,
    texts,
    validation_texts=None,
    *,
    settings=None,
    checkpoint_dir=None,
    seed=0,
    strategy=None,
    dtype_policy=None,
    callbacks=(),
    verbose="auto",
    **overrides,
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
            keeps the source's). Defaults to the paper's.
        checkpoint_dir, seed, strategy, dtype_policy, callbacks, verbose:
            As in `pretrain_language_model`.
        **overrides: Settings to change in `settings`, e.g. `epochs=2`.

    Returns:
        The fine-tuned `ULMFiTLanguageModel` (its `history` and
        `fingerprint` set).

    Example:

    ```python
    tuned = finetune_language_model(lm, reviews + plot_summaries, batch_size=16, bptt=48, epochs=2)
    ```
    """
    settings = settings_with(settings, FinetuneSettings, overrides)
    keras.utils.set_random_seed(seed)
    source = checked_language_model(language_model)
    fingerprint = finetune_fingerprint(settings, source, texts, validation_texts, seed=seed, dtype_policy=dtype_policy)
    backbone = source.backbone
    strategy = strategy or tf.distribute.get_strategy()
    dropout_multiplier = settings.dropout_multiplier
    with strategy.scope(), dtype_policy_scope(dtype_policy):
        model = source.rebuilt(
            seed=seed,
            stateful=True,
            batch_size=per_replica_batch_size(settings.batch_size, strategy),
            dropout_multiplier=backbone.dropout_multiplier if dropout_multiplier is None else dropout_multiplier,
        )
    return fit_language_model(
        model, texts, validation_texts, settings, factor=settings.factor, checkpoint_every=None,
        checkpoint_dir=checkpoint_dir, seed=seed, strategy=strategy, callbacks=callbacks, verbose=verbose,
        fingerprint=fingerprint,
    )
