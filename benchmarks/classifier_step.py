"""Microseconds per token of one training step: the classifier against the language model.

At the main job's size (vocabulary 8,000, embedding 128, hidden 320, 3
layers), in one process, the steps interleaved round by round:

- the language model's step (`train_on_batch`, as `finetune_language_model`
  compiles it: AdamW, betas 0.8/0.99, gradient clipping, AR/TAR), batch 32 x
  bptt 70, per token;
- the classifier's step (as `fit_classifier` compiles it: AdamW, betas
  0.7/0.99) on 64 review-sized texts (36 to 44 pieces, padded after the text
  to the longest, as a length bucket is), per real token, twice: with
  `WeightDropLSTM`'s hand-written time loop (today's path) and with Keras'
  generic masked loop (`HAND_WRITTEN_BACKWARD = False`, which the classifier
  ran before the hand-written loop took masks).

Run: `python benchmarks/classifier_step.py` (add `--write` to update
BENCHMARKS.md).
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from report import measure  # noqa: E402
from report import write_section  # noqa: E402

from ulmfit_tf.layers import weight_drop_lstm  # noqa: E402
from ulmfit_tf.losses import SparseSoftmaxCrossEntropy  # noqa: E402
from ulmfit_tf.models import AWDLSTMBackbone  # noqa: E402
from ulmfit_tf.models import ULMFiTLanguageModel  # noqa: E402
from ulmfit_tf.models import ULMFiTTextClassifier  # noqa: E402
from ulmfit_tf.stages.fingerprints import GRADIENT_CLIP_NORM  # noqa: E402

SIZE = dict(vocabulary_size=8000, embedding_dim=128, hidden_dim=320, num_layers=3)
LM_BATCH, BPTT = 32, 70
CLASSIFIER_BATCH, LENGTHS = 64, (36, 44)


def language_model_step():
    """One compiled LM training step and the tokens it reads."""
    model = ULMFiTLanguageModel(AWDLSTMBackbone(**SIZE, seed=0))
    model.compile(
        optimizer=keras.optimizers.AdamW(1e-3, beta_1=0.8, beta_2=0.99, global_clipnorm=GRADIENT_CLIP_NORM),
        loss=SparseSoftmaxCrossEntropy(),
    )
    ids = np.random.default_rng(0).integers(2, SIZE["vocabulary_size"], size=(LM_BATCH, BPTT + 1)).astype("int32")
    return _traced(lambda: model.train_on_batch(ids[:, :-1], ids[:, 1:]), hand_written=True), LM_BATCH * BPTT


def classifier_step(hand_written):
    """One compiled classifier training step and the real (unpadded) tokens it reads."""
    language_model = ULMFiTLanguageModel(AWDLSTMBackbone(**SIZE, seed=0))
    model = ULMFiTTextClassifier.from_language_model(language_model, num_classes=2, seed=0)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3, beta_1=0.7, beta_2=0.99))
    rng = np.random.default_rng(0)
    lengths = rng.integers(LENGTHS[0], LENGTHS[1] + 1, size=CLASSIFIER_BATCH)
    ids = np.ones((CLASSIFIER_BATCH, lengths.max()), "int32")  # padding id 1 after each text
    for row, length in zip(ids, lengths):
        row[:length] = rng.integers(2, SIZE["vocabulary_size"], size=length)
    labels = rng.integers(0, 2, size=CLASSIFIER_BATCH).astype("int32")
    return _traced(lambda: model.train_on_batch(ids, labels), hand_written), int(lengths.sum())


def _traced(step, hand_written):
    def run():
        weight_drop_lstm.HAND_WRITTEN_BACKWARD = hand_written  # read when the step is traced
        return step()

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()

    steps = {
        f"language model, {LM_BATCH} x {BPTT}": language_model_step(),
        "classifier, hand-written loop": classifier_step(hand_written=True),
        "classifier, Keras' masked loop (before)": classifier_step(hand_written=False),
    }
    load = os.getloadavg()
    times = measure({name: step for name, (step, _) in steps.items()}, args.warmup, args.rounds)
    per_token = {name: np.asarray(times[name]) / tokens * 1e6 for name, (_, tokens) in steps.items()}
    lm = per_token[next(iter(steps))]
    table = [
        "| step | tokens a step | min µs/token | median µs/token | vs the LM's (min, median) |",
        "|---|---|---|---|---|",
    ]
    for name, (_, tokens) in steps.items():
        low, median = per_token[name].min(), np.median(per_token[name])
        ratios = f"{low / lm.min():.2f}x, {median / np.median(lm):.2f}x"
        table.append(f"| {name} | {tokens:,} | {low:.0f} | {median:.0f} | {ratios} |")
    print("\n".join(table))
    if args.write:
        write_section(
            "Classifier training step against the language model's, per token",
            f"{args.rounds} interleaved rounds after {args.warmup} warm-up steps; vocabulary 8,000, embedding 128, "
            f"hidden 320, 3 layers; the classifier's tokens are its real ones ({CLASSIFIER_BATCH} texts of "
            f"{LENGTHS[0]}-{LENGTHS[1]} pieces, padded to the longest), the LM's all {LM_BATCH} x {BPTT}; "
            f"1-minute load average {load[0]:.1f} before, {os.getloadavg()[0]:.1f} after",
            table,
        )


if __name__ == "__main__":
    main()
