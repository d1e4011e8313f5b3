"""What made each stage's model: the fingerprints its checkpoints and model folder record.

One function per stage builds the fingerprint from the stage's settings
(every field of its settings dataclass), the seed, the dtype policy and
digests of its inputs: the data, the tokenizer and the weights it starts
from. The stage records it in each epoch checkpoint and resumes only from
a checkpoint with the same one (`EpochCheckpoint`); the pipeline computes
it before running a stage and reuses the stage's folder only when the
folder's manifest records the same one. Both compare with
`ulmfit_tf.fingerprint.fingerprint_changes`.
"""

import dataclasses
import json
import os

import numpy as np

from ulmfit_tf.fingerprint import digest
from ulmfit_tf.stages.checks import policy_name
from ulmfit_tf.text.language_model_source import text_files

# The language-model stages clip the norm of all gradients together. Chosen
# on validation perplexity (pretraining of the main job, 300k news words):
# 193.5 per piece clipping each variable's norm at 0.4 at rate 1e-2, 167.1
# clipping the global norm, 202.0 not clipping (pretraining/README.md).
GRADIENT_CLIP_NORM = 0.4


def pretrain_fingerprint(settings, texts, validation_texts, *, tokenizer, embeddings, backwards, seed, dtype_policy):
    """The fingerprint of `pretrain_language_model` called with these arguments.

    A tokenizer the stage trains (`tokenizer=None`) is fixed by the texts
    and the settings (`vocabulary_size`, `case_fold`) with the seed.

    Example:

    ```python
    fingerprint = pretrain_fingerprint(
        PretrainSettings(), texts, None, tokenizer=None, embeddings=None, backwards=False, seed=0,
        dtype_policy=None)
    ```
    """
    return _fingerprint(
        "pretrain", settings, seed, dtype_policy, texts=corpus_digest(texts), validation=corpus_digest(validation_texts),
        tokenizer=None if tokenizer is None else tokenizer_digest(tokenizer), backwards=bool(backwards),
        embeddings=None if embeddings is None else digest([np.asarray(embeddings, np.float32)]),
        gradient_clipping=f"global norm {GRADIENT_CLIP_NORM}",
    )


def finetune_fingerprint(settings, language_model, texts, validation_texts, *, seed, dtype_policy):
    """The fingerprint of `finetune_language_model` called with these arguments.

    Example:

    ```python
    fingerprint = finetune_fingerprint(FinetuneSettings(), lm, texts, None, seed=0, dtype_policy=None)
    ```
    """
    return _fingerprint(
        "finetune", settings, seed, dtype_policy, language_model=weights_digest(language_model),
        tokenizer=tokenizer_digest(language_model.preprocessor.tokenizer), texts=corpus_digest(texts),
        validation=corpus_digest(validation_texts), gradient_clipping=f"global norm {GRADIENT_CLIP_NORM}",
    )


def classifier_fingerprint(
    settings, language_model, texts, labels, validation, *, label_names, problem_type, seed, dtype_policy
):
    """The fingerprint of `fit_classifier` called with these arguments.

    Example:

    ```python
    fingerprint = classifier_fingerprint(
        ClassifierSettings(), lm, texts, labels, None, label_names=None, problem_type="single_label",
        seed=0, dtype_policy=None)
    ```
    """
    return _fingerprint(
        "classifier", settings, seed, dtype_policy, language_model=weights_digest(language_model),
        tokenizer=tokenizer_digest(language_model.preprocessor.tokenizer), texts=digest(texts), labels=digest(labels),
        validation=digest(validation), label_names=label_names, problem_type=problem_type,
    )


def _fingerprint(stage, settings, seed, dtype_policy, **inputs):
    return dict(
        dataclasses.asdict(settings), stage=stage, seed=seed, dtype_policy=policy_name(dtype_policy), **inputs
    )


def weights_digest(model):
    """A digest of a model's weights (what a later stage starts from).

    Example:

    ```python
    weights_digest(language_model) == weights_digest(load_model_directory(folder))  # True for its folder
    ```
    """
    return digest([np.asarray(w) for w in model.get_weights()])


def tokenizer_digest(tokenizer):
    """A digest of a tokenizer's settings and, for SentencePiece, its model."""
    config = json.dumps(tokenizer.get_config(), sort_keys=True, default=str)
    return digest([config, getattr(tokenizer, "proto", None) or b""])


def corpus_digest(texts):
    """A digest of a list of texts, or of the files a glob pattern names (names, sizes, times)."""
    if isinstance(texts, str):
        return digest([(path, os.path.getsize(path), os.path.getmtime(path)) for path in text_files(texts)])
    return digest(None if texts is None else list(texts))
