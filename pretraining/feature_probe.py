"""What a language model's features know about the task: a linear probe at several label counts.

For each layer of the encoder (the embedding, then each LSTM's output), the
max and the mean over a review's real pieces (the classifier's concat
pooling without the last state), standardized, feed a logistic regression
(C chosen on the validation reviews from 0.001, 0.01, 0.1, 1) trained on
the first n of `results.py`'s seeded shuffle of the training reviews;
"all" concatenates the four. Nothing in the encoder is trained: the probe
says how much of the task the language model's features already hold,
which a few-label classifier cannot build itself. One JSON row per model
goes to `feature_probe.jsonl` beside this file.

    python pretraining/feature_probe.py --language-model runs/demo/forward_finetuned_language_model
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benchmarks"))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from baselines import label_subset  # noqa: E402
from baselines import rotten_tomatoes  # noqa: E402
from report import append_row  # noqa: E402

from ulmfit_tf import presets  # noqa: E402
from ulmfit_tf.text.vocabulary import PADDING_ID  # noqa: E402

LABELS = (200, 1000, None)
GRID = (0.001, 0.01, 0.1, 1.0)


def max_and_mean(x, real):
    """`(texts, 2 * width)`: the max, then the mean, of `x` `(texts, pieces, width)` over the real pieces."""
    mean = (x * real).sum(axis=1) / np.maximum(real.sum(axis=1), 1)
    return np.concatenate([np.where(real, x, -np.inf).max(axis=1), mean], axis=1)


def pooled_features(language_model, texts, batch_size=128):
    """{layer name: (texts, 2 * width)} max and mean over the real pieces of each text."""
    backbone, tokenizer = language_model.backbone, language_model.preprocessor.tokenizer
    embedding = backbone.token_embedding.embeddings.numpy()
    layers = {}
    for start in range(0, len(texts), batch_size):
        ids = tokenizer(tf.constant(texts[start : start + batch_size])).to_tensor(default_value=PADDING_ID).numpy()
        real = (ids != PADDING_ID)[..., None]
        outputs = [embedding[ids]] + [x.numpy() for x in backbone(ids)["raw_outputs"]]
        for i, x in enumerate(outputs):
            layers.setdefault("embedding" if i == 0 else f"lstm_{i - 1}", []).append(max_and_mean(x, real))
    layers = {name: np.concatenate(parts) for name, parts in layers.items()}
    layers["all"] = np.concatenate(list(layers.values()), axis=1)
    return layers


def probe(train, validation, test):
    """(validation, test) accuracy of the best-on-validation logistic regression on standardized features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train[0])
    best = None
    for C in GRID:
        model = LogisticRegression(C=C, max_iter=3000).fit(scaler.transform(train[0]), train[1])
        scores = tuple(model.score(scaler.transform(x), y) for x, y in (validation, test))
        best = scores if best is None or scores[0] > best[0] else best
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--language-model", required=True, help="a language-model folder or preset")
    args = parser.parse_args()
    model = presets.load_language_model(args.language_model, stateful=False)
    train, validation, test = rotten_tomatoes()
    features = [pooled_features(model, split[0]) for split in (train, validation, test)]
    order = np.arange(len(train[0]))
    result = {}
    for name in features[0]:
        for n in LABELS:
            keep = order if n is None else np.asarray(label_subset((list(order), list(order)), n)[0])
            scores = probe(
                (features[0][name][keep], np.asarray(train[1])[keep]), (features[1][name], validation[1]),
                (features[2][name], test[1]),
            )
            result[f"{name}, {n or 'all'} labels"] = [round(float(s), 4) for s in scores]
            print(name, n or "all", "validation %.4f test %.4f" % scores, flush=True)
    append_row(
        os.path.join(os.path.dirname(os.path.abspath(__file__)), "feature_probe.jsonl"),
        dict(language_model=args.language_model, validation_and_test=result),
    )


if __name__ == "__main__":
    main()
