"""Tokenization for the next language model, measured from scratch on the reviews.

The issue's hint: from scratch, fastai's word tokens gave 0.747 where
SentencePiece gave 0.724; MultiFiT applies fastai's text rules (lower case
+ `xxmaj` / `xxup` / `xxrep` marks) before SentencePiece. Before spending
hours on a language model with another tokenization, this fits the same
classifier from a random encoder (the bundled preset's sizes; the `small`
recipe's classifier entries, all layers, one rate; validation chosen on,
test for reference) with each tokenization of the pretraining corpus:

- `sentencepiece`: the bundled preset's own 8,000 pieces (trained on the
  English corpus's training documents, case kept);
- `rules+sentencepiece`: fastai's rules (`WordTokenizer.apply_rules`), then
  8,000 pieces trained on the same documents after the rules;
- `words`: fastai's word tokens (`WordTokenizer`) with fastai's vocabulary
  of the same documents (`Vocabulary.from_corpus`: at most 60,000 tokens
  seen 3 times).

One line per fit goes to `text_rules.jsonl` beside this file.

    python pretraining/text_rules.py --seeds 42 1
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benchmarks"))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from report import append_row  # noqa: E402

from ulmfit_tf import datasets  # noqa: E402
from ulmfit_tf import stages  # noqa: E402
from ulmfit_tf.models import AWDLSTMBackbone  # noqa: E402
from ulmfit_tf.models import ULMFiTLanguageModel  # noqa: E402
from ulmfit_tf.pipeline.data import bundled_task  # noqa: E402
from ulmfit_tf.recipe import RECIPES  # noqa: E402
from ulmfit_tf.text import SentencePieceTokenizer  # noqa: E402
from ulmfit_tf.text import Vocabulary  # noqa: E402
from ulmfit_tf.text import WordTokenizer  # noqa: E402

RULES = WordTokenizer(add_bos=False)


class RulesSentencePieceTokenizer(SentencePieceTokenizer):
    """fastai's text rules, then SentencePiece (MultiFiT's tokenization); for this measurement only."""

    def tokenize(self, inputs):
        inputs = tf.convert_to_tensor(inputs, tf.string)
        return super().tokenize(RULES.apply_rules(inputs[tf.newaxis] if inputs.shape.rank == 0 else inputs))


def with_rules(texts, batch=1024):
    return [t.decode("utf-8") for i in range(0, len(texts), batch)
            for t in RULES.apply_rules(tf.constant(texts[i : i + batch])).numpy()]


def tokenizers(preset):
    """Each tokenization's tokenizer (ids out), built from the English corpus's training documents."""
    documents = datasets.load_english_corpus()["train"]
    yield "sentencepiece", preset.preprocessor
    rules = RulesSentencePieceTokenizer.train(
        with_rules(documents), vocabulary_size=preset.preprocessor.vocabulary_size(), seed=42
    )
    pieces = set(rules.get_vocabulary())
    print("marks that are one piece:", [m for m in ("▁xxmaj", "▁xxup", "▁xxrep", "▁xxwrep") if m in pieces], flush=True)
    yield "rules+sentencepiece", rules
    words = WordTokenizer()
    counts = Vocabulary.from_corpus(
        (tokens for i in range(0, len(documents), 1024) for tokens in words(documents[i : i + 1024]).to_list())
    )
    yield "words", WordTokenizer(vocabulary=counts)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1])
    parser.add_argument("--tokenizations", nargs="+", default=["sentencepiece", "rules+sentencepiece", "words"])
    args = parser.parse_args()
    train, validation, test, _ = bundled_task()
    preset = ULMFiTLanguageModel.from_preset("awd_lstm_small_en_uncased")
    sizes = preset.backbone
    words_per_review = np.mean([len(t.split()) for t in train[0]])
    for name, tokenizer in tokenizers(preset):
        if name not in args.tokenizations:
            continue
        tokens = tokenizer(list(train[0]))
        tokens_per_word = float(tf.reduce_mean(tf.cast(tokens.row_lengths(), tf.float32))) / words_per_review
        for seed in args.seeds:
            backbone = AWDLSTMBackbone(
                tokenizer.vocabulary_size(), sizes.embedding_dim, sizes.hidden_dim, sizes.num_layers,
                dropout_multiplier=sizes.dropout_multiplier, seed=seed,
            )
            start = time.time()
            classifier = stages.fit_classifier(
                ULMFiTLanguageModel(backbone, preprocessor=tokenizer), *train, validation=validation, seed=seed,
                verbose=0, settings=RECIPES["small"].classifier, gradual_unfreezing=False, factor=1.0,
            )
            row = dict(
                tokenization=name, vocabulary_size=tokenizer.vocabulary_size(),
                tokens_per_word=round(tokens_per_word, 3), seed=seed,
                validation=round(stages.evaluate(classifier, *validation)["accuracy"], 4),
                test=round(stages.evaluate(classifier, *test)["accuracy"], 4),
                validation_by_epoch=[round(v, 4) for v in classifier.history.history["val_accuracy"]],
                minutes=round((time.time() - start) / 60, 2),
            )
            append_row(os.path.join(os.path.dirname(os.path.abspath(__file__)), "text_rules.jsonl"), row)


if __name__ == "__main__":
    main()
