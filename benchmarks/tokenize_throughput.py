"""Texts/second and tokens/second of the tokenizers on the news corpus.

ulmfit-tf's `WordTokenizer` (fastai's rules in TF ops) and
`SentencePieceTokenizer` (tensorflow-text's FastSentencepieceTokenizer) run
inside a `tf.data` pipeline (batches of 64 texts, parallel map), as in
training; fastai 2.8's default `Tokenizer(WordTokenizer())` (spaCy) runs in
the same process on the same texts, one text at a time as `Tokenizer` does
when called. Each is timed over `--repeats` full passes after a warm-up
pass; the best pass is reported.

Run: `python benchmarks/tokenize_throughput.py --write`. fastai is measured
when installed (`pip install -e .[bench]`, then
`pip install --no-deps fastai==2.8.12`).
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from report import write_section  # noqa: E402

from ulmfit_tf import datasets  # noqa: E402
from ulmfit_tf.text import SentencePieceTokenizer  # noqa: E402
from ulmfit_tf.text import WordTokenizer  # noqa: E402


def in_graph(tokenizer, texts):
    dataset = tf.data.Dataset.from_tensor_slices(texts).batch(64)
    dataset = dataset.map(tokenizer, num_parallel_calls=tf.data.AUTOTUNE).prefetch(4)
    return lambda: sum(int(batch.flat_values.shape[0]) for batch in dataset)


def fastai_word(texts):
    from fastai.text.all import Tokenizer
    from fastai.text.all import WordTokenizer as FastaiWordTokenizer

    tokenizer = Tokenizer(FastaiWordTokenizer())
    return lambda: sum(len(tokenizer(text)) for text in texts)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()

    texts = [a["text"] for a in datasets.load_news_articles()[: args.articles]]
    runs = {
        "ulmfit-tf WordTokenizer (tf.data)": in_graph(WordTokenizer(), texts),
        "ulmfit-tf SentencePieceTokenizer, 15k unigram (tf.data)": in_graph(
            SentencePieceTokenizer.train(texts, vocabulary_size=15000), texts
        ),
    }
    try:
        runs["fastai 2.8 Tokenizer(WordTokenizer()) (spaCy)"] = fastai_word(texts)
    except ImportError:
        print("fastai not installed: measuring ulmfit-tf alone.", file=sys.stderr)
    results = {}
    for name, run in runs.items():
        run()  # warm-up: graph tracing, spaCy loading
        best = None
        for _ in range(args.repeats):
            start = time.perf_counter()
            count = run()
            elapsed = time.perf_counter() - start
            best = elapsed if best is None else min(best, elapsed)
        results[name] = (len(texts) / best, count / best)
    reference = results.get("fastai 2.8 Tokenizer(WordTokenizer()) (spaCy)")
    table = [
        "| tokenizer | texts/s | tokens/s | speed vs fastai |",
        "|---|---|---|---|",
    ] + [
        f"| {name} | {texts_s:,.0f} | {tokens_s:,.0f} | "
        f"{'' if reference is None else f'{texts_s / reference[0]:.1f}x'} |"
        for name, (texts_s, tokens_s) in results.items()
    ]
    print("\n".join(table))
    if args.write:
        write_section("Tokenization", f"{args.articles} news articles, best of {args.repeats} passes", table)


if __name__ == "__main__":
    main()
