"""Short pretraining runs that choose the starting embedding, the vocabulary and the mix of sources.

Each variant pretrains the bundled model's size (emb 128 / hidden 320 / 3
layers, or the hidden size the variant names; batch 32 x bptt 70, peak 2e-2,
dropout multiplier 0.2, seed 42)
for one epoch on the same seeded sample of `--train-words` words of the
training sources (`corpus.py`'s files), then scores validation
perplexity per word on each held-out source (at most `--validation-words`
words each) and on the Rotten Tomatoes validation reviews (text only: the
task's domain). A variant names its SentencePiece model (`vocab/NAME.model`
in `--work`), its starting embedding (`random`, or a `.npy` from
`word_vectors.py` in `vocab/`) and the sources it reads. One JSON line per
variant goes to `vectors_and_vocabulary.jsonl` beside this file; with
`--save DIR` each model is also kept as a model folder `DIR/VARIANT-WORDS`
(for `choose_recipe.py --language-model`).

Run: `python pretraining/vectors_and_vocabulary.py --work /work/knowledge --variants random-8k glove-8k`
"""

import argparse
import math
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benchmarks"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402
from report import append_row  # noqa: E402

from ulmfit_tf import datasets  # noqa: E402
from ulmfit_tf import stages  # noqa: E402
from ulmfit_tf.model_directory import save_model_directory  # noqa: E402
from ulmfit_tf.text import SentencePieceTokenizer  # noqa: E402
from ulmfit_tf.text.classification_dataset import tokenize_all  # noqa: E402

MODERN = ["news", "tweets", "commons", "wiki", "bbc", "politics", "headlines"]
OLD = ["austen", "bible"]
DEFINITIONS = ["wordnet"]
# name: (SentencePiece model, starting embedding, sources, the LSTMs' hidden size; the last LSTM's
# output is tied to the 128-wide embedding)
VARIANTS = {
    "random-8k": ("cf8k", None, MODERN, 320),
    "glove-8k": ("cf8k", "cf8k.glove_projection.npy", MODERN, 320),
    "glove-random-fill-8k": ("cf8k", "cf8k.glove_random.npy", MODERN, 320),
    "glove-16k": ("cf16k", "cf16k.glove_projection.npy", MODERN, 320),
    "spacy-8k": ("cf8k", "cf8k.spacy_pca.npy", MODERN, 320),
    "glove-32k": ("cf32k", "cf32k.glove_projection.npy", MODERN, 320),
    "glove-8k-old": ("cf8k", "cf8k.glove_projection.npy", MODERN + OLD, 320),
    "glove-8k-all": ("cf8k", "cf8k.glove_projection.npy", MODERN + OLD + DEFINITIONS, 320),
    "glove-16k-h256": ("cf16k", "cf16k.glove_projection.npy", MODERN, 256),
    "glove-16k-h384": ("cf16k", "cf16k.glove_projection.npy", MODERN, 384),
}


def read(work, source, part):
    with open(os.path.join(work, "corpus", f"{source}.{part}.txt"), encoding="utf-8") as f:
        return f.read().splitlines()


def sample(work, sources, words, seed=0):
    """A seeded sample of whole training documents of `sources`, about `words` words, in a seeded order."""
    documents = [text for source in sources for text in read(work, source, "train")]
    order = np.random.default_rng(seed).permutation(len(documents))
    chosen, total = [], 0
    for i in order:
        chosen.append(documents[i])
        total += len(documents[i].split())
        if total >= words:
            break
    return chosen, total


def per_word(model, texts, bptt=70):
    pieces = int(tokenize_all(texts, model.preprocessor.tokenizer).row_lengths().numpy().sum())
    per_piece = stages.perplexity(model, texts, bptt)
    return round(math.exp(math.log(per_piece) * pieces / sum(len(t.split()) for t in texts)), 1)


def capped(texts, words):
    kept, total = [], 0
    for text in texts:
        if total >= words:
            break
        kept.append(text)
        total += len(text.split())
    return kept


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", required=True, help="folder with corpus/ (corpus.py) and vocab/")
    parser.add_argument("--variants", nargs="+", required=True, choices=list(VARIANTS))
    parser.add_argument("--train-words", type=int, default=1_000_000)
    parser.add_argument("--validation-words", type=int, default=20_000)
    parser.add_argument("--save", help="folder to keep each model in, as VARIANT-WORDS (a model folder)")
    args = parser.parse_args()
    reviews = datasets.load_rotten_tomatoes()["validation"]["texts"]
    validation = {s: capped(read(args.work, s, "validation"), args.validation_words) for s in MODERN + OLD + DEFINITIONS}
    validation["reviews"] = capped(reviews, args.validation_words)
    for name in args.variants:
        vocabulary, vectors, sources, hidden_dim = VARIANTS[name]
        texts, words = sample(args.work, sources, args.train_words)
        tokenizer = SentencePieceTokenizer(os.path.join(args.work, "vocab", vocabulary + ".model"))
        embeddings = None if vectors is None else np.load(os.path.join(args.work, "vocab", vectors))
        start = time.time()
        model = stages.pretrain_language_model(
            texts, None, tokenizer=tokenizer, embeddings=embeddings, embedding_dim=128, hidden_dim=hidden_dim,
            num_layers=3, batch_size=32, bptt=70, epochs=1, learning_rate=2e-2, dropout_multiplier=0.2, seed=42,
            verbose=2,
        )
        minutes = (time.time() - start) / 60
        scores = {source: per_word(model, texts) for source, texts in validation.items()}
        modern = [scores[s] for s in MODERN]
        row = dict(
            variant=name, vocabulary=vocabulary, vectors=vectors, sources=sources, hidden_dim=hidden_dim,
            train_words=words, steps=int(model.optimizer.iterations), minutes=round(minutes, 2),
            validation_perplexity_per_word=scores, modern_geometric_mean=round(float(np.exp(np.mean(np.log(modern)))), 1),
        )
        append_row(os.path.join(os.path.dirname(os.path.abspath(__file__)), "vectors_and_vocabulary.jsonl"), row)
        if args.save:
            save_model_directory(model, os.path.join(args.save, f"{name}-{args.train_words}"), "language_model")


if __name__ == "__main__":
    main()
