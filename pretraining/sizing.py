"""Validation perplexity per CPU-minute of candidate bundled language models.

Each candidate (sizes, SentencePiece vocabulary) is pretrained with the
project's own stage on the first `--train-words` words of the English corpus
(`ulmfit_tf.datasets.load_english_corpus()`: news, health tweets, House of
Commons speeches; the seeded 5% validation split), one epoch, then scored on
the validation split. Perplexity is reported per word (the same unit for
every vocabulary) and per piece. Results are appended to `sizing.jsonl`
beside this file, one line per candidate, with the CPU.

Run: `python pretraining/sizing.py --candidates small medium --train-words 600000`
"""

import argparse
import math
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))

from report import append_row  # noqa: E402

from ulmfit_tf import datasets  # noqa: E402
from ulmfit_tf import stages  # noqa: E402
from ulmfit_tf.stages import perplexity  # noqa: E402
from ulmfit_tf.text import SentencePieceTokenizer  # noqa: E402
from ulmfit_tf.text.classification_dataset import tokenize_all  # noqa: E402

CANDIDATES = {
    "small": dict(embedding_dim=128, hidden_dim=320, vocabulary_size=4000),
    "small-8k": dict(embedding_dim=128, hidden_dim=320, vocabulary_size=8000),
    "medium": dict(embedding_dim=256, hidden_dim=640, vocabulary_size=8000),
    "large": dict(embedding_dim=400, hidden_dim=1152, vocabulary_size=15000),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--candidates", nargs="+", default=["small", "medium"], choices=list(CANDIDATES))
    parser.add_argument("--train-words", type=int, default=600_000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--bptt", type=int, default=70)
    parser.add_argument("--learning-rate", type=float, default=5e-3)
    parser.add_argument("--dropout-multiplier", type=float, default=0.5)
    parser.add_argument("--dtype-policy", default=None)
    args = parser.parse_args()
    corpus = datasets.load_english_corpus()
    train, words = [], 0
    for text in corpus["train"]:
        train.append(text)
        words += len(text.split())
        if words >= args.train_words:
            break
    validation = corpus["validation"]
    validation_words = sum(len(t.split()) for t in validation)
    for name in args.candidates:
        sizes = dict(CANDIDATES[name])
        start = time.time()
        tokenizer = SentencePieceTokenizer.train(train, vocabulary_size=sizes.pop("vocabulary_size"), seed=0)
        model = stages.pretrain_language_model(
            train, None, tokenizer=tokenizer, num_layers=3, batch_size=args.batch_size, bptt=args.bptt, epochs=1,
            learning_rate=args.learning_rate, dropout_multiplier=args.dropout_multiplier, seed=0,
            dtype_policy=args.dtype_policy, verbose=2, **sizes,
        )
        minutes = (time.time() - start) / 60
        per_piece = perplexity(model, validation, args.bptt)
        pieces = int(tokenize_all(validation, tokenizer).row_lengths().numpy().sum())
        per_word = math.exp(math.log(per_piece) * pieces / validation_words)
        row = dict(
            candidate=name, **CANDIDATES[name], train_words=words, minutes=round(minutes, 2),
            validation_perplexity_per_piece=round(per_piece, 1), validation_perplexity_per_word=round(per_word, 1),
            pieces_per_word=round(pieces / validation_words, 3), batch_size=args.batch_size, bptt=args.bptt,
            learning_rate=args.learning_rate, dropout_multiplier=args.dropout_multiplier,
            dtype_policy=args.dtype_policy,
        )
        append_row(os.path.join(os.path.dirname(__file__), "sizing.jsonl"), row)


if __name__ == "__main__":
    main()
