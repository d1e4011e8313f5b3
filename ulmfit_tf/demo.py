"""The main job on the bundled data: `python -m ulmfit_tf.demo`.

What exists today is ULMFiT's first stage: pretraining an AWD-LSTM language
model (weight-dropped LSTMs, embedding/locked dropout, tied decoder, AR/TAR)
on the bundled news corpus. LM fine-tuning, the classifier, the fastai-style
tokenizer and export arrive with later releases; until then words come from
Keras' `TextVectorization` (lower-cased, punctuation stripped) as a stand-in.

The run holds out a seeded 5% of the articles, trains on a budget of
tokens with Adam under slanted triangular learning rates, and reports
validation perplexity next to that of a unigram model (word frequencies
only), which a language model must beat.
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
    parser.add_argument("--train-tokens", type=int, default=400_000, help="training budget in tokens")
    parser.add_argument("--vocabulary-size", type=int, default=8000)
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

    from ulmfit_tf import datasets
    from ulmfit_tf.models import AWDLSTMBackbone
    from ulmfit_tf.models import ULMFiTLanguageModel
    from ulmfit_tf.schedules import SlantedTriangularLR

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
    train_texts = [texts[i] for i in order[n_valid:]]
    print(f"news corpus: {len(train_texts)} training / {len(valid_texts)} validation articles")

    vectorizer = keras.layers.TextVectorization(max_tokens=args.vocabulary_size, ragged=True)
    vectorizer.adapt(train_texts, batch_size=256)
    vocabulary = vectorizer.get_vocabulary()
    train_ids = _stream(vectorizer, train_texts)[: args.train_tokens + 1]
    valid_ids = _stream(vectorizer, valid_texts)
    print(f"{len(vocabulary)} word types; {len(train_ids) - 1:,} training tokens used, {len(valid_ids) - 1:,} validation tokens")

    backbone = AWDLSTMBackbone(
        vocabulary_size=len(vocabulary),
        embedding_dim=args.embedding_dim,
        hidden_dim=args.hidden_dim,
        num_layers=args.num_layers,
        seed=args.seed,
    )
    model = ULMFiTLanguageModel(backbone, vocabulary=vocabulary, seed=args.seed)
    x_train, y_train = _windows(train_ids, args.bptt)
    x_valid, y_valid = _windows(valid_ids, args.bptt)
    steps = -(-len(x_train) // args.batch_size)
    schedule = SlantedTriangularLR(args.learning_rate, total_steps=steps)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule, beta_1=0.8, beta_2=0.99, clipnorm=0.4),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(
        x_train,
        y_train,
        batch_size=args.batch_size,
        epochs=1,
        shuffle=True,
        verbose="auto",
    )
    valid_loss, valid_accuracy = model.evaluate(x_valid, y_valid, batch_size=args.batch_size, verbose=0)

    counts = np.bincount(train_ids, minlength=len(vocabulary)) + 1
    unigram_log_prob = np.log(counts / counts.sum())
    unigram_loss = -float(np.mean(unigram_log_prob[y_valid]))

    os.makedirs(args.output, exist_ok=True)
    path = os.path.join(args.output, "language_model.keras")
    model.save(path)
    rows = [
        ("validation perplexity, AWD-LSTM LM", f"{math.exp(valid_loss):.1f}"),
        ("validation perplexity, unigram baseline", f"{math.exp(unigram_loss):.1f}"),
        ("validation next-word accuracy", f"{valid_accuracy:.3f}"),
        ("model", path),
        ("minutes", f"{(time.time() - start) / 60:.1f}"),
    ]
    width = max(len(name) for name, _ in rows)
    print("\n" + "\n".join(f"{name:<{width}}  {value}" for name, value in rows))
    return {"valid_loss": valid_loss, "unigram_loss": unigram_loss, "model_path": path}


def _stream(vectorizer, texts):
    """All texts' ids, one after the other."""
    return vectorizer(texts).flat_values.numpy().astype("int32")


def _windows(ids, bptt):
    count = (len(ids) - 1) // bptt
    x = ids[: count * bptt].reshape(count, bptt)
    y = ids[1 : count * bptt + 1].reshape(count, bptt)
    return x, y


if __name__ == "__main__":
    main()
