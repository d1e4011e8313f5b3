"""Where a classifier fails and why: its worst errors and token attributions.

`top_losses` ranks texts by the classifier's loss on them (fastai's
`ClassificationInterpretation.top_losses`). `token_attributions` says how
much each word of one text moved the predicted probability, by integrated
gradients (Sundararajan et al., 2017) over the embedding output by default,
or by fastai's intrinsic attention (`method="gradient"`).

Why integrated gradients by default: fastai's intrinsic attention is the
absolute gradient of the class probability at the text itself, which says
which words the output is sensitive to but not in which direction, and it
saturates where the probability is already near 0 or 1 (the confident
predictions a user most wants explained). Integrated gradients integrates
the gradient along the straight path from a baseline (every real token's
embedding set to zero, the padding mask unchanged) to the text, keeps the
sign (a word for or against the class) and is complete: the attributions
add up to the probability of the text minus that of the baseline, which
the tests check. The sum reaches that difference as `steps` grows: the
classifier's max pooling puts kinks on the path, so the gap falls about as
1 / `steps` (a few tenths of a percent of the difference at 200). It costs
`steps` forward and backward passes, run as one batch, so one text takes
about as long as one training step.
"""

import numpy as np
import tensorflow as tf
from keras import ops

from ulmfit_tf.calibration import cross_entropies

METHODS = ("integrated_gradients", "gradient")
WORD_START = "\u2581"  # SentencePiece's mark of a piece that begins a word
CASE_MARKERS = {"xxmaj": str.capitalize, "xxup": str.upper}  # fastai's word rules (`WordTokenizer`)
UNKNOWN_PIECES = ("xxunk", "<unk>")
UNKNOWN_SHOWN = "\u2047"  # what SentencePiece decodes an unknown piece to


def top_losses(classifier, texts, labels, k=10, batch_size=64):
    """The `k` texts the classifier gets most wrong, by their loss.

    The loss of a text is the classifier's own per-text loss: cross-entropy
    of the true class (single-label), mean binary cross-entropy over the
    labels (multi-label) or squared error (regression).

    Args:
        classifier: A `ULMFiTTextClassifier` with a preprocessor.
        texts: List of strings.
        labels: Their labels: class names or ids (single-label), lists of
            names or a 0/1 matrix (multi-label), numbers (regression).
        k: Integer, how many texts to return. Defaults to `10`.
        batch_size: Integer, texts per prediction batch. Defaults to `64`.

    Returns:
        A list of at most `k` dicts, highest loss first, with keys `index`
        (position in `texts`), `text`, `label`, `predicted`, `probability`
        (of the predicted class; `None` for regression) and `loss`.

    Example:

    ```python
    for row in top_losses(classifier, test_texts, test_labels, k=5):
        print(f"{row['loss']:.2f} {row['label']} -> {row['predicted']}: {row['text'][:60]}")
    ```
    """
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"Argument `k` must be a positive integer. Received: k={k!r}")
    texts = list(texts)
    if len(texts) != len(labels):
        raise ValueError(
            f"Argument `labels` must hold one label a text ({len(texts)}). Received: {len(labels)} labels"
        )
    targets = classifier.encode_targets(labels)
    outputs = np.asarray(classifier.predict(texts, batch_size=batch_size, verbose=0), "float64")
    losses = _losses(classifier.problem_type, outputs, targets)
    order = np.argsort(-losses, kind="stable")[:k]
    names = classifier.label_names
    rows = []
    for index in order:
        row = {"index": int(index), "text": texts[index], "loss": float(losses[index])}
        row.update(_described(classifier, outputs[index], targets[index], names))
        rows.append(row)
    return rows


def token_attributions(classifier, text, class_id=None, method="integrated_gradients", steps=32):
    """How much each word of `text` moved the classifier's probability of a class.

    Args:
        classifier: A `ULMFiTTextClassifier` with a preprocessor.
        text: String, one text.
        class_id: Optional integer, the class explained. Defaults to the
            predicted class (the first output for regression).
        method: `"integrated_gradients"` (default: signed, and the piece
            scores add up to the probability of the text minus that of the
            baseline) or `"gradient"` (fastai's intrinsic attention: the
            absolute gradient of the probability with respect to the
            embedding output, summed over its dimensions, divided by its
            largest value).
        steps: Integer, points on the integration path (trapezoidal rule).
            Defaults to `32`.

    Returns:
        A dict: `words` and `word_scores` (the pieces of each readable word
        added up; the begin-of-text token left out), `pieces` and
        `piece_scores` (every token the model read), `class_id`, `label`
        and `probability` (of that class for the text), `method`.

    Example:

    ```python
    explained = token_attributions(classifier, "A gripping, tender film.")
    for word, score in zip(explained["words"], explained["word_scores"]):
        print(f"{score:+.3f} {word}")
    ```
    """
    if method not in METHODS:
        raise ValueError(f"Argument `method` must be one of {METHODS}. Received: method={method!r}")
    if not isinstance(steps, int) or steps < 2:
        raise ValueError(f"Argument `steps` must be an integer >= 2. Received: steps={steps!r}")
    if not isinstance(text, str):
        raise TypeError(f"Argument `text` must be a string. Received: text={text!r}")
    if classifier.preprocessor is None:
        raise ValueError("Argument `classifier` must have a preprocessor (strings to ids). Received: preprocessor=None")
    token_ids = ops.convert_to_tensor(classifier.preprocessor([text]))
    embedded = classifier.backbone.token_embedding(token_ids)
    probability = score_from_embeddings(classifier, embedded, token_ids)[0]
    if class_id is None:
        class_id = int(ops.argmax(probability)) if classifier.problem_type == "single_label" else 0
    if not 0 <= class_id < classifier.num_classes:
        raise ValueError(
            f"Argument `class_id` must be in [0, {classifier.num_classes}). Received: class_id={class_id}"
        )
    if method == "gradient":
        gradients = _gradients(classifier, embedded, token_ids, class_id)[0]
        scores = np.abs(gradients).sum(-1)
        scores = scores / max(scores.max(), np.finfo("float32").tiny)
    else:
        scores = _integrated_gradients(classifier, embedded, token_ids, class_id, steps)
    ids = ops.convert_to_numpy(token_ids)[0]
    real = ids != classifier.backbone.padding_id
    pieces = [str(piece) for piece in np.asarray(classifier.preprocessor.tokenizer.get_vocabulary())[ids[real]]]
    words, word_scores = readable_words(pieces, scores[real])
    return {
        "words": words,
        "word_scores": word_scores,
        "pieces": pieces,
        "piece_scores": [float(s) for s in scores[real]],
        "class_id": class_id,
        "label": _name(classifier.label_names, class_id),
        "probability": float(probability[class_id]),
        "method": method,
    }


def score_from_embeddings(classifier, embedded, token_ids):
    """The classifier's probabilities (outputs for regression) from its embedding output, in inference mode.

    The classifier's own forward pass after the embedding lookup: the LSTMs
    on the padding mask, concat pooling over the pooled positions, the head.

    Args:
        classifier: A `ULMFiTTextClassifier`.
        embedded: Float tensor `(batch, timesteps, embedding_dim)`.
        token_ids: Integer tensor `(batch, timesteps)`, the ids `embedded`
            stands for (for the padding and pooling masks).

    Returns:
        A float tensor `(batch, num_classes)`.
    """
    backbone = classifier.backbone
    mask = ops.not_equal(token_ids, backbone.padding_id)
    x = embedded
    for lstm in backbone.lstm_layers:
        x = lstm(x, mask=mask, training=False)
    pooled = classifier.pooling(x, mask=classifier.pooling_mask(token_ids))
    outputs = classifier.head(pooled, training=False)
    if classifier.output_range is not None:
        outputs = classifier.output_range(outputs)
    return classifier.probabilities(ops.cast(outputs, "float32"))


def readable_words(pieces, scores):
    """Groups token scores into readable words.

    SentencePiece pieces join until the next piece marked as a word start
    (`▁`); fastai's case markers (`xxmaj`, `xxup`) are applied to the word
    that follows and add their score to it. The begin-of-text token
    (`xxbos`, or the first token when it is a control token like `<s>`)
    is left out; an unknown token reads `⁇`.

    Args:
        pieces: List of token strings, in reading order.
        scores: Their scores.

    Returns:
        A tuple `(words, word_scores)` of two lists.

    Example:

    >>> readable_words(["xxbos", "▁the", "▁gri", "pping", "▁film"], [0.1, 0.2, 0.3, 0.1, 0.5])[0]
    ['the', 'gripping', 'film']
    """
    words, word_scores, pending, case = [], [], 0.0, None
    spaced = any(WORD_START in piece for piece in pieces)  # SentencePiece; word tokens are words as they are
    for index, (piece, score) in enumerate(zip(pieces, scores)):
        if index == 0 and (piece == "xxbos" or piece.startswith("<")):
            continue
        if piece in CASE_MARKERS:
            case, pending = CASE_MARKERS[piece], pending + float(score)
            continue
        starts = not spaced or not words or piece.startswith(WORD_START)
        word = UNKNOWN_SHOWN if piece in UNKNOWN_PIECES else piece.lstrip(WORD_START)
        if case is not None:
            word, case = case(word), None
        if starts:
            words.append(word)
            word_scores.append(float(score) + pending)
        else:
            words[-1] += word
            word_scores[-1] += float(score) + pending
        pending = 0.0
    return words, word_scores


def _gradients(classifier, embedded, token_ids, class_id):
    with tf.GradientTape() as tape:
        tape.watch(embedded)
        probability = score_from_embeddings(classifier, embedded, token_ids)[:, class_id]
    return ops.convert_to_numpy(tape.gradient(probability, embedded))


def _integrated_gradients(classifier, embedded, token_ids, class_id, steps):
    alphas = ops.reshape(ops.linspace(0.0, 1.0, steps), (steps, 1, 1))
    path = alphas * embedded  # the baseline is zero embeddings, same tokens and mask
    gradients = _gradients(classifier, path, ops.repeat(token_ids, steps, axis=0), class_id)
    average = (gradients[:-1] + gradients[1:]).sum(0) / (2 * (steps - 1))  # trapezoidal rule
    return (average * ops.convert_to_numpy(embedded)[0]).sum(-1)


def _losses(problem_type, outputs, targets):
    if problem_type != "regression":
        return cross_entropies(outputs, targets, problem_type)
    return np.sum((outputs - np.asarray(targets, "float64").reshape(outputs.shape)) ** 2, axis=-1)


def _described(classifier, output, target, names):
    if classifier.problem_type == "single_label":
        probabilities = np.exp(output - output.max())
        probabilities /= probabilities.sum()
        predicted = int(probabilities.argmax())
        return {
            "label": _name(names, int(target)),
            "predicted": _name(names, predicted),
            "probability": float(probabilities[predicted]),
        }
    if classifier.problem_type == "multi_label":
        chosen = [i for i in range(len(output)) if output[i] > 0]
        return {
            "label": [_name(names, i) for i in np.flatnonzero(np.asarray(target) > 0.5)],
            "predicted": [_name(names, i) for i in chosen],
            "probability": None,
        }
    return {"label": np.asarray(target).tolist(), "predicted": output.tolist(), "probability": None}


def _name(names, class_id):
    return class_id if names is None else names[class_id]
