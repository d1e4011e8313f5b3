"""The training both language-model stages share: a stateful stream, AdamW under STLR, per-part checkpoints."""

import keras

from ulmfit_tf.callbacks.reset_state_each_epoch import ResetStateEachEpoch
from ulmfit_tf.losses import SparseSoftmaxCrossEntropy
from ulmfit_tf.optimizers.discriminative import DiscriminativeOptimizer
from ulmfit_tf.schedules.slanted_triangular import SlantedTriangularLR
from ulmfit_tf.stages.checks import jit_compile
from ulmfit_tf.stages.checks import nonempty
from ulmfit_tf.stages.fingerprints import GRADIENT_CLIP_NORM
from ulmfit_tf.text.language_model_source import LanguageModelSource
from ulmfit_tf.training import fit_by_epoch


def fit_language_model(model, texts, validation_texts, settings, run, *, factor, fingerprint):
    """Trains a compiled-here stateful language model on a text stream; returns it.

    AdamW (betas 0.8, 0.99, the global norm of the gradients clipped at
    `GRADIENT_CLIP_NORM`) under slanted triangular rates peaking at
    `settings.learning_rate`, discriminative by `factor` when it is not
    `None`. With `settings.checkpoint_every`, each pass is cut into equal
    parts of at least that many batches, each a Keras epoch (see
    `pretrain_language_model`).

    Args:
        model: A `ULMFiTLanguageModel` with its preprocessor (holding the
            tokenizer), built stateful for `settings.batch_size` rows.
        texts: List of strings or a glob pattern of text files.
        validation_texts: Optional list of strings or glob pattern.
        settings: `PretrainSettings` or `FinetuneSettings`.
        run: The stage's `RunOptions` (its strategy resolved).
        factor: Float or `None`, the discriminative factor.
        fingerprint: Dict recorded in the checkpoints (`stages.fingerprints`).

    Returns:
        The trained model (its `history` and `fingerprint` set).

    Example:

    ```python
    settings, run = RunOptions.split(FinetuneSettings, None, {"verbose": 0})
    fit_language_model(model, texts, None, settings, run, factor=2.6, fingerprint=fingerprint)
    ```
    """
    tokenizer = model.preprocessor.tokenizer

    def source(texts, what):
        texts = texts if isinstance(texts, str) else nonempty(texts, what)
        return LanguageModelSource(
            texts, tokenizer, settings.batch_size, settings.bptt, run.strategy, what=what, progress=run.verbose != 0
        )

    train = source(texts, "texts")
    every = settings.checkpoint_every
    parts = 1 if every is None else max(1, train.steps // every)
    part_steps = train.steps // parts
    validation_data = validation_steps = None
    if validation_texts is not None:
        validation = source(validation_texts, "validation texts")
        validation_data, validation_steps = validation.dataset(shuffle=False), validation.steps
    _compile(model, settings, factor, part_steps * parts * settings.epochs, run.strategy)

    def part(epoch):  # the Keras epoch's part of a pass over the texts
        passed, index = divmod(epoch, parts)
        return train.dataset(seed=run.seed + passed, start=index * part_steps, steps=part_steps)

    fit_by_epoch(
        model, part, validation_data, epochs=settings.epochs * parts, checkpoint_dir=run.checkpoint_dir,
        callbacks=[ResetStateEachEpoch()] + list(run.callbacks), verbose=run.verbose, steps=part_steps,
        validation_steps=validation_steps, fingerprint=fingerprint,
    )
    return model


def _compile(model, settings, factor, total_steps, strategy):
    with strategy.scope():
        optimizer = keras.optimizers.AdamW(
            SlantedTriangularLR(settings.learning_rate, total_steps=total_steps),
            weight_decay=settings.weight_decay,
            beta_1=0.8,
            beta_2=0.99,
            global_clipnorm=GRADIENT_CLIP_NORM,
        )
        if factor is not None:
            optimizer = DiscriminativeOptimizer(optimizer, model.layer_groups(), factor=factor)
        model.compile(
            optimizer=optimizer,
            loss=SparseSoftmaxCrossEntropy(),
            metrics=["accuracy"],
            jit_compile=jit_compile(strategy),
        )
