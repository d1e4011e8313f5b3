"""The main job on the bundled data: `python -m ulmfit_tf.demo`.

What exists today is ULMFiT's first stage: pretraining an AWD-LSTM language
model (weight-dropped LSTMs, embedding/locked dropout, tied decoder, AR/TAR)
on the bundled news corpus. LM fine-tuning, the classifier and export arrive
with later releases.

The run holds out a seeded 5% of the articles, trains a SentencePiece
vocabulary and a stateful language model on a budget of words (fastai's
layout: contiguous rows carried from batch to batch) with Adam under slanted
triangular learning rates, and reports validation perplexity per subword
next to that of a unigram model (piece frequencies only), which a language
model must beat.
"""

import argparse
import math
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m ulmfit_tf.demo",
        description="Pretrain an AWD-LSTM language model on the bundled news corpus.",
    )
    parser.add_argument("--output", default="runs/demo", help="where the model is saved")
    parser.add_argument("--train-words", type=int, default=320_000, help="training budget in words")
    parser.add_argument("--vocabulary-size", type=int, default=8000, help="SentencePiece pieces")
    parser.add_argument("--embedding-dim", type=int, default=200)
    parser.add_argument("--hidden-dim", type=int, default=512)
    parser.add_argument("--num-layers", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--bptt", type=int, default=70)
    parser.add_argument("--learning-rate", type=float, default=5e-3, help="peak of the slanted triangular schedule")
    parser.add_argument("--seed", type=int, default=42)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import keras
    import numpy as np
    import tensorflow as tf

    from ulmfit_tf import datasets
    from ulmfit_tf.models import AWDLSTMBackbone
    from ulmfit_tf.models import ULMFiTLanguageModel
    from ulmfit_tf.schedules import SlantedTriangularLR
    from ulmfit_tf.text import SentencePieceTokenizer
    from ulmfit_tf.text import language_model_dataset

    print("ulmfit-tf demo: ULMFiT stage 1 (language model pretraining) only;")
    print("fine-tuning, classifier and export stages are not built yet.\n")
    keras.utils.set_random_seed(args.seed)
    start = time.time()

    try:
        articles = datasets.load_news_articles()
    except FileNotFoundError as error:
        sys.exit(f"error: {error}")
    texts = [a["text"] for a in articles if a["text"].strip()]
    order = np.random.default_rng(args.seed).permutation(len(texts))
    n_valid = max(1, len(texts) // 20)
    valid_texts = [texts[i] for i in order[:n_valid]]
    words = np.cumsum([len(texts[i].split()) for i in order[n_valid:]])
    n_train = max(1, int(np.searchsorted(words, args.train_words)))
    train_texts = [texts[i] for i in order[n_valid : n_valid + n_train]]
    print(f"news corpus: {len(train_texts)} training articles ({words[n_train - 1]:,} words), {len(valid_texts)} validation articles")

    tokenizer = SentencePieceTokenizer.train(train_texts, vocabulary_size=args.vocabulary_size, seed=args.seed)
    print(f"SentencePiece vocabulary: {tokenizer.vocabulary_size} pieces")
    train_data = language_model_dataset(train_texts, tokenizer, args.batch_size, args.bptt, seed=args.seed)
    valid_data = language_model_dataset(valid_texts, tokenizer, args.batch_size, args.bptt, shuffle=False)
    # A stream's length depends only on the corpus, not on the shuffle:
    # telling Keras avoids an "input ran out of data" warning at the end.
    steps = sum(1 for _ in train_data)
    train_data = train_data.apply(tf.data.experimental.assert_cardinality(steps))
    valid_data = valid_data.apply(tf.data.experimental.assert_cardinality(sum(1 for _ in valid_data)))

    backbone = AWDLSTMBackbone(
        vocabulary_size=tokenizer.vocabulary_size,
        embedding_dim=args.embedding_dim,
        hidden_dim=args.hidden_dim,
        num_layers=args.num_layers,
        stateful=True,
        batch_size=args.batch_size,
        seed=args.seed,
    )
    model = ULMFiTLanguageModel(backbone, vocabulary=tokenizer.get_vocabulary(), seed=args.seed)
    model.compile(
        optimizer=keras.optimizers.Adam(
            SlantedTriangularLR(args.learning_rate, total_steps=steps), beta_1=0.8, beta_2=0.99, clipnorm=0.4
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(train_data, epochs=1, shuffle=False, verbose="auto")
    model.reset_state()
    valid_loss, valid_accuracy = model.evaluate(valid_data, verbose=0)

    train_ids = tokenizer(train_texts).flat_values.numpy()
    counts = np.bincount(train_ids, minlength=tokenizer.vocabulary_size) + 1
    unigram_log_prob = np.log(counts / counts.sum())
    valid_targets = np.concatenate([y.numpy().ravel() for _, y in valid_data])
    unigram_loss = -float(np.mean(unigram_log_prob[valid_targets]))

    os.makedirs(args.output, exist_ok=True)
    path = os.path.join(args.output, "language_model.keras")
    model.save(path)
    rows = [
        ("validation perplexity per piece, AWD-LSTM LM", f"{math.exp(valid_loss):.1f}"),
        ("validation perplexity per piece, unigram baseline", f"{math.exp(unigram_loss):.1f}"),
        ("validation next-piece accuracy", f"{valid_accuracy:.3f}"),
        ("model", path),
        ("minutes", f"{(time.time() - start) / 60:.1f}"),
    ]
    width = max(len(name) for name, _ in rows)
    print("\n" + "\n".join(f"{name:<{width}}  {value}" for name, value in rows))
    return {"valid_loss": valid_loss, "unigram_loss": unigram_loss, "model_path": path}


if __name__ == "__main__":
    main()
