"""Checks and small helpers the stages share: the language model given, texts, label names, XLA."""

import numpy as np

from ulmfit_tf.errors import UserInputError
from ulmfit_tf.models.ulmfit_language_model import ULMFiTLanguageModel
from ulmfit_tf.text.classification_dataset import encode_labels
from ulmfit_tf.text.inputs import check_texts


def checked_language_model(model):
    """`model`, refused unless it is a `ULMFiTLanguageModel` carrying its tokenizer (`model.preprocessor.tokenizer`).

    Example:

    ```python
    source = checked_language_model(language_model)
    ```
    """
    if not isinstance(model, ULMFiTLanguageModel):
        raise ValueError(f"Argument `language_model` must be a `ULMFiTLanguageModel`. Received: {type(model).__name__}")
    if getattr(model.preprocessor, "tokenizer", None) is None:
        raise UserInputError(
            "Argument `language_model` must carry its tokenizer: set `language_model.preprocessor` to the "
            "tokenizer it was trained with."
        )
    return model


def nonempty(texts, what, argument="texts"):
    """The checked texts (`check_texts`), refused when there are none.

    Example:

    ```python
    texts = nonempty(texts, "validation texts", "validation[0]")
    ```
    """
    texts = check_texts(texts, argument)
    if not texts:
        raise UserInputError(f"The {what} are empty: give at least one text.")
    return texts


def label_names_of(labels, problem_type):
    """The class names in id order: `"0"`, `"1"`, ... for integer labels, else the sorted names seen.

    Example:

    ```python
    label_names_of(["rotten", "fresh"], "single_label")  # ["fresh", "rotten"]
    ```
    """
    values = np.asarray(labels, dtype=object)
    if problem_type == "single_label" and all(isinstance(v, (int, np.integer)) for v in values.ravel()):
        return [str(i) for i in range(int(max(values.ravel())) + 1)]
    return encode_labels(list(labels), multi_label=problem_type == "multi_label")[1]


def policy_name(policy):
    """The name of a Keras dtype policy (or of a policy's name), `None` for none."""
    return None if policy is None else getattr(policy, "name", str(policy))


def jit_compile(strategy):
    """`compile`'s `jit_compile` under a strategy."""
    # XLA fails under MirroredStrategy; Keras' "auto" already skips it on CPU.
    return "auto" if strategy.num_replicas_in_sync == 1 else False
