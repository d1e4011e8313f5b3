"""What every export of a classifier checks and reads: shared by the SavedModel and the TFLite file."""

import warnings

from ulmfit_tf.models import ULMFiTTextClassifier


def check_exportable(classifier):
    """Refuses what cannot be exported: anything but a `ULMFiTTextClassifier` with a `preprocessor`.

    Warns when the classifier was never trained (no optimizer step: a
    classifier made from a language model and exported as it is has a
    random head, and its answers are noise).

    Args:
        classifier: The object to export.

    Raises:
        ValueError: `classifier` is not a `ULMFiTTextClassifier`, or takes
            token ids only (an exported model takes raw strings).
    """
    if not isinstance(classifier, ULMFiTTextClassifier):
        raise ValueError(
            f"Argument `classifier` must be a `ULMFiTTextClassifier`. Received: classifier={type(classifier).__name__}"
        )
    if classifier.preprocessor is None:
        raise ValueError(
            "The classifier has no `preprocessor`, so an exported model could not take raw strings. "
            "Set `classifier.preprocessor` to its tokenizer (a `SentencePieceTokenizer`, or a "
            "`WordTokenizer` with the vocabulary) before exporting."
        )
    optimizer = getattr(classifier, "optimizer", None)
    if optimizer is None or int(optimizer.iterations) == 0:
        warnings.warn(
            "The classifier was never trained (its optimizer has taken no step): its head is random, so the "
            "exported model's answers are noise. Fit it first (`ulmfit-tf fit-classifier`, "
            "`stages.fit_classifier`); a classifier loaded from a preset has no optimizer and warns too.",
            stacklevel=3,
        )


def exported_label_names(classifier):
    """The class names an exported model answers with: `label_names`, or the ids as strings.

    Example:

    >>> exported_label_names(classifier)  # a classifier built without `label_names`, 3 classes
    ['0', '1', '2']
    """
    return list(classifier.label_names or [str(i) for i in range(classifier.num_classes)])
