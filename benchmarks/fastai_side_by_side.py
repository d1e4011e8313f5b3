"""fastai 2.8 and ulmfit-tf side by side: the same token ids, splits and recipes, one run.

Both frameworks train on the same integer ids: one SentencePiece model
(ulmfit-tf's `SentencePieceTokenizer.train`, `--vocabulary-size` pieces) is
trained on the news pretraining split, and every text is tokenized once with
it. fastai gets those ids directly (`LMDataLoader` over id tensors,
`SortedDL` + `pad_input_chunk` for the classifier, see `fastai_recipes.py`);
ulmfit-tf's stages read the texts through that same tokenizer, which yields
the same ids. Same model sizes (`get_language_model` /
`get_text_classifier(AWD_LSTM)` vs `AWDLSTMBackbone`), dropouts, AR/TAR,
epochs, batch sizes, bptt, peak rates and discriminative factor. The
optimizer settings are read from the ulmfit-tf stage that just ran (betas,
epsilon, weight decay, gradient clipping) and given to fastai's Adam
(`--fastai-defaults` keeps fastai's own instead); the output lists what still
differs. PyTorch runs with 1 thread, TensorFlow with its defaults.

- (a) LM pretraining on the news (the pipeline's split: the first
  `--pretrain-words` words, 5% of the articles held out, seed `--data-seed`):
  validation perplexity per token after each epoch, both measured on the
  same windows (the held-out stream in `--lm-batch-size` rows of `--bptt`
  tokens, state carried).
- (b) the classifier from scratch (random encoder): all layers, one schedule
  (fastai `fit_one_cycle`, ulmfit-tf slanted triangular), one rate.
- (c) ULMFiT end to end: (a)'s LM fine-tuned on the training reviews plus the
  plot summaries (all layers, rates / `--factor` per group; perplexity on the
  validation reviews before and after each epoch), then the classifier with
  (c1) all layers at one rate (the `small` recipe) and (c2) gradual
  unfreezing (fastai `freeze_to(-1)`, `(-2)`, `(-3)`, then all, one epoch a
  step; discriminative rates / `--factor`).

Classifier numbers are accuracy on the 1,284 test reviews. Defaults are the
`small` recipe of `ulmfit_tf.recipe.RECIPES`; each seed in `--seeds` trains
everything again (the tokenizer and splits stay). On 2 CPU cores the default
run takes hours: run it niced when the machine is shared.

    nice -n 19 python benchmarks/fastai_side_by_side.py --write   # RESULTS.md section
    python benchmarks/fastai_side_by_side.py --limit 300 --pretrain-words 5000 --vocabulary-size 300 \\
        --embedding-dim 16 --hidden-dim 24 --pretrain-epochs 1 --finetune-epochs 1 --classifier-epochs 1   # smoke

Needs fastai: `pip install -e .[bench]`, then `pip install --no-deps fastai==2.8.12`.
"""

import argparse
import math
import os
import sys
import time
from contextlib import contextmanager

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from report import cpu_name  # noqa: E402
from report import fastai_available  # noqa: E402
from report import write_section  # noqa: E402

from ulmfit_tf import datasets  # noqa: E402
from ulmfit_tf import stages  # noqa: E402
from ulmfit_tf.models import AWDLSTMBackbone  # noqa: E402
from ulmfit_tf.models import ULMFiTLanguageModel  # noqa: E402
from ulmfit_tf.pipeline.data import split_corpus  # noqa: E402  (the pipeline's own pretraining split)
from ulmfit_tf.recipe import RECIPES  # noqa: E402
from ulmfit_tf.text import SentencePieceTokenizer  # noqa: E402
from ulmfit_tf.text.classification_dataset import tokenize_all  # noqa: E402

SIDES = ("fastai", "ulmfit-tf")
CLASSIFIER_BPTT, CLASSIFIER_MAX_LEN = 72, 1440  # fit_classifier's and get_text_classifier's defaults
HEADING = "fastai side by side (same token ids)"
# AutoGraph's "could not transform <lambda>" and retracing warnings of the
# stages' tf.data pipelines would bury the per-epoch lines.
tf.get_logger().setLevel("ERROR")


def parse_args():
    small = RECIPES["small"]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    option = parser.add_argument
    option("--pretrain-words", type=int, default=small.pretrain_words)
    option("--vocabulary-size", type=int, default=small.pretrain.vocabulary_size)
    option("--embedding-dim", type=int, default=small.pretrain.embedding_dim)
    option("--hidden-dim", type=int, default=small.pretrain.hidden_dim)
    option("--num-layers", type=int, default=small.pretrain.num_layers)
    option("--dropout-multiplier", type=float, default=small.pretrain.dropout_multiplier, help="of the LMs")
    option("--lm-batch-size", type=int, default=small.pretrain.batch_size)
    option("--bptt", type=int, default=small.pretrain.bptt, help="LM window length")
    option("--pretrain-epochs", type=int, default=small.pretrain.epochs)
    option("--pretrain-learning-rate", type=float, default=small.pretrain.learning_rate)
    option("--finetune-epochs", type=int, default=small.finetune.epochs)
    option("--finetune-learning-rate", type=float, default=small.finetune.learning_rate)
    option("--classifier-epochs", type=int, default=small.classifier.epochs)
    option("--classifier-batch-size", type=int, default=small.classifier.batch_size)
    option("--classifier-learning-rate", type=float, default=small.classifier.learning_rate)
    option("--classifier-dropout-multiplier", type=float, default=small.classifier.dropout_multiplier)
    option("--factor", type=float, default=2.6, help="discriminative factor of LM fine-tuning and (c2)")
    option("--seeds", type=int, nargs="+", default=[42])
    option("--data-seed", type=int, default=42, help="seeds the news split and the SentencePiece training")
    option("--limit", type=int, default=None, help="keep the first N texts of each split (smoke runs)")
    option("--only", nargs="+", choices=["a", "b", "c"], default=["a", "b", "c"], help="(c) trains (a)'s LMs too")
    option("--fastai-schedule", choices=["one-cycle", "stlr"], default="one-cycle",
           help="fastai's fit_one_cycle, or ulmfit-tf's slanted triangular rates in fastai")
    option("--fastai-defaults", action="store_true",
           help="fastai's own optimizer defaults instead of ulmfit-tf's settings")
    option("--write", action="store_true", help="put the table into RESULTS.md")
    return parser.parse_args()


def main():
    args = parse_args()
    if not fastai_available():
        sys.exit("This benchmark needs fastai: pip install -e .[bench] && pip install --no-deps fastai==2.8.12")
    import fastai_recipes

    clock = Clock()
    with clock("data", "tokenizer"):
        data = load_data(args)
    results = Results()
    settings = {}
    for seed in args.seeds:
        run_seed(seed, data, args, fastai_recipes, results, settings, clock)
    table = results.table(args.seeds)
    notes = [
        f"Minutes: {clock.summary('fastai')}; {clock.summary('ulmfit-tf')}; data and tokenizer "
        f"{clock.minutes('data'):.1f}.",
        "",
        "Same on both sides: " + same_on_both_sides(args, data) + ".",
        "",
        "Differences:",
        *[f"- {line}" for line in differences(args, settings)],
    ]
    print("\n" + "\n".join(table))
    print(f"\nCPU: {cpu_name()}, {os.cpu_count()} cores")
    print("\n".join(["", *notes]))
    print("\nCommand: " + " ".join(["python", os.path.relpath(sys.argv[0])] + sys.argv[1:]))
    if args.write:
        write_section(HEADING, details(args, data), table + [""] + notes, path="RESULTS.md")
        print("wrote RESULTS.md")


def run_seed(seed, data, args, fastai_recipes, results, settings, clock):
    """Runs the requested recipes with one seed; each ulmfit-tf stage runs first, and fastai takes its settings."""
    log = lambda text: print(f"[seed {seed}] {text}", flush=True)  # noqa: E731
    sizes = dict(embedding_dim=args.embedding_dim, hidden_dim=args.hidden_dim, num_layers=args.num_layers)
    vocabulary_size = data.tokenizer.vocabulary_size()
    lm_options = dict(batch_size=args.lm_batch_size, bptt=args.bptt, seed=seed)
    classifier_options = dict(
        batch_size=args.classifier_batch_size, epochs=args.classifier_epochs,
        learning_rate=args.classifier_learning_rate, dropout_multiplier=args.classifier_dropout_multiplier, seed=seed,
    )

    def fastai_classifier(encoder, factor, gradual_unfreezing):
        model = fastai_recipes.fit_classifier(
            encoder, data.ids["train"], data.labels["train"], data.num_classes, vocabulary_size, sizes,
            bptt=CLASSIFIER_BPTT, max_len=CLASSIFIER_MAX_LEN, factor=factor, gradual_unfreezing=gradual_unfreezing,
            settings=settings["fastai classifier"], **classifier_options,
        )
        return fastai_recipes.accuracy(model, data.ids["test"], data.labels["test"], args.classifier_batch_size,
                                       CLASSIFIER_BPTT)

    def classifiers(row, tf_language_model, fastai_encoder, factor, gradual_unfreezing, part):
        with clock("ulmfit-tf", part):
            classifier = stages.fit_classifier(
                tf_language_model, data.texts["train"], data.labels["train"], factor=factor,
                gradual_unfreezing=gradual_unfreezing, verbose=2, **classifier_options,
            )
            accuracy = stages.evaluate(classifier, data.texts["test"], data.labels["test"])["accuracy"]
        settings["ulmfit-tf classifier"] = optimizer_settings(classifier)
        settings["fastai classifier"] = fastai_settings(settings["ulmfit-tf classifier"], args, ar_tar=(0.0, 0.0))
        results.add(row, "accuracy", "ulmfit-tf", accuracy)
        log(f"{row}: ulmfit-tf {accuracy:.4f}")
        with clock("fastai", part):
            accuracy = fastai_classifier(fastai_encoder, factor, gradual_unfreezing)
        results.add(row, "accuracy", "fastai", accuracy)
        log(f"{row}: fastai {accuracy:.4f}")

    schedule = "fit_one_cycle / STLR" if args.fastai_schedule == "one-cycle" else "STLR on both"
    if "a" in args.only or "c" in args.only:
        log("(a) pretraining the language models on the news")
        tf_perplexities = []
        with clock("ulmfit-tf", "a"):
            tf_lm = stages.pretrain_language_model(
                data.texts["news_train"], tokenizer=data.tokenizer, dropout_multiplier=args.dropout_multiplier,
                epochs=args.pretrain_epochs, learning_rate=args.pretrain_learning_rate, verbose=2,
                callbacks=[PerplexityEachEpoch(data.windows["news_valid"], tf_perplexities)], **sizes, **lm_options,
            )
        settings["ulmfit-tf LM pretraining"] = optimizer_settings(tf_lm)
        settings["fastai LM pretraining"] = fastai_settings(
            settings["ulmfit-tf LM pretraining"], args, ar_tar=(tf_lm.ar_alpha, tf_lm.tar_beta)
        )
        with clock("fastai", "a"):
            fastai_lm, fastai_perplexities = fastai_recipes.pretrain_language_model(
                data.ids["news_train"], data.windows["news_valid"], vocabulary_size, sizes, args.dropout_multiplier,
                epochs=args.pretrain_epochs, learning_rate=args.pretrain_learning_rate,
                settings=settings["fastai LM pretraining"], **lm_options,
            )
        for epoch, values in enumerate(zip(fastai_perplexities, tf_perplexities), start=1):
            row = f"(a) news LM: validation perplexity per token, epoch {epoch}"
            for side, value in zip(SIDES, values):
                results.add(row, "perplexity", side, value)
            log(f"{row}: fastai {values[0]:.1f}, ulmfit-tf {values[1]:.1f}")
    if "b" in args.only:
        log(f"(b) classifiers from scratch, all layers, {schedule}")
        with clock("ulmfit-tf", "b"):
            backbone = AWDLSTMBackbone(vocabulary_size, **sizes, seed=seed)
            tf_scratch = ULMFiTLanguageModel(backbone, preprocessor=data.tokenizer, seed=seed)
        classifiers("(b) classifier from scratch, all layers, one rate: test accuracy", tf_scratch, None,
                    factor=1, gradual_unfreezing=False, part="b")
    if "c" in args.only:
        log("(c) fine-tuning the language models on the reviews and plot summaries")
        before = [fastai_recipes.perplexity(fastai_lm, data.windows["validation"]),
                  keras_perplexity(tf_lm, data.windows["validation"])]
        row = "(c) review LM: validation perplexity per token, before fine-tuning"
        for side, value in zip(SIDES, before):
            results.add(row, "perplexity", side, value)
        tf_perplexities = []
        with clock("ulmfit-tf", "c"):
            tf_tuned = stages.finetune_language_model(
                tf_lm, data.texts["finetune"], epochs=args.finetune_epochs, learning_rate=args.finetune_learning_rate,
                factor=args.factor, verbose=2,
                callbacks=[PerplexityEachEpoch(data.windows["validation"], tf_perplexities)], **lm_options,
            )
        settings["ulmfit-tf LM fine-tuning"] = optimizer_settings(tf_tuned)
        with clock("fastai", "c"):
            fastai_tuned, fastai_perplexities = fastai_recipes.finetune_language_model(
                fastai_lm, data.ids["finetune"], data.windows["validation"], vocabulary_size, sizes,
                args.dropout_multiplier, epochs=args.finetune_epochs, learning_rate=args.finetune_learning_rate,
                factor=args.factor,
                settings=fastai_settings(settings["ulmfit-tf LM fine-tuning"], args,
                                         ar_tar=(tf_tuned.ar_alpha, tf_tuned.tar_beta)),
                **lm_options,
            )
        for epoch, values in enumerate(zip(fastai_perplexities, tf_perplexities), start=1):
            row = f"(c) review LM: validation perplexity per token, after fine-tuning epoch {epoch}"
            for side, value in zip(SIDES, values):
                results.add(row, "perplexity", side, value)
            log(f"{row}: fastai {values[0]:.1f}, ulmfit-tf {values[1]:.1f}")
        classifiers("(c1) ULMFiT, all layers, one rate: test accuracy", tf_tuned, fastai_tuned,
                    factor=1, gradual_unfreezing=False, part="c")
        classifiers(f"(c2) ULMFiT, gradual unfreezing, rates / {args.factor:g} per group: test accuracy", tf_tuned,
                    fastai_tuned, factor=args.factor, gradual_unfreezing=True, part="c")


def load_data(args):
    """The texts of every split, the tokenizer, and each split's ids (tokenized once), with summary lines printed."""
    news = [article["text"] for article in datasets.load_news_articles()]
    news_train, news_valid = split_corpus(news, args.pretrain_words, args.data_seed)
    reviews = datasets.load_rotten_tomatoes()
    first = (lambda items: list(items)[: args.limit]) if args.limit else list
    texts = {
        "news_train": news_train,
        "news_valid": first(news_valid),
        "train": first(reviews["train"]["texts"]),
        "validation": first(reviews["validation"]["texts"]),
        "test": first(reviews["test"]["texts"]),
    }
    texts["finetune"] = texts["train"] + first(reviews["plot_summaries"])
    labels = {name: first(reviews[name]["labels"]) for name in ("train", "test")}
    tokenizer = SentencePieceTokenizer.train(news_train, vocabulary_size=args.vocabulary_size, seed=args.data_seed)
    ids = {}
    for name, split in texts.items():
        ragged = tokenize_all(split, tokenizer)
        ids[name] = np.split(ragged.flat_values.numpy().astype("int64"), ragged.row_limits().numpy()[:-1])
        words = sum(len(text.split()) for text in split)
        tokens = int(ragged.row_lengths().numpy().sum())
        print(f"{name}: {len(split):,} texts, {words:,} words, {tokens:,} tokens ({tokens / words:.2f} a word)")
    windows = {name: lm_windows(ids[name], args.lm_batch_size, args.bptt) for name in ("news_valid", "validation")}
    return Data(texts, labels, ids, windows, tokenizer, len(reviews["label_names"]))


class Data:
    def __init__(self, texts, labels, ids, windows, tokenizer, num_classes):
        self.texts, self.labels, self.ids, self.windows = texts, labels, ids, windows
        self.tokenizer, self.num_classes = tokenizer, num_classes


def lm_windows(documents, batch_size, bptt):
    """`(x, y)` windows of the documents' stream as `language_model_dataset(shuffle=False)` lays it out:
    `batch_size` rows, `bptt` tokens each, the last incomplete window dropped."""
    stream = np.concatenate(documents).astype("int32")
    row_length = len(stream) // batch_size
    rows = stream[: row_length * batch_size].reshape(batch_size, row_length)
    starts = range(0, (row_length - 1) // bptt * bptt, bptt)
    return [(rows[:, s : s + bptt], rows[:, s + 1 : s + bptt + 1]) for s in starts]


def keras_perplexity(language_model, windows):
    """Per-token perplexity of a stateful ulmfit-tf LM over `(x, y)` windows read in order."""
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="sum")
    step = tf.function(lambda x, y: loss(y, language_model(x, training=False)))
    language_model.reset_state()
    total = sum(float(step(x, y)) for x, y in windows)
    language_model.reset_state()
    return math.exp(total / sum(y.size for _, y in windows))


class PerplexityEachEpoch(keras.callbacks.Callback):
    """Appends the validation perplexity (`keras_perplexity`) to `record` after each epoch."""

    def __init__(self, windows, record):
        super().__init__()
        self.windows, self.record = windows, record

    def on_epoch_end(self, epoch, logs=None):
        self.record.append(keras_perplexity(self.model, self.windows))


def optimizer_settings(model):
    """The optimizer settings an ulmfit-tf stage compiled `model` with."""
    optimizer = model.optimizer
    inner = getattr(optimizer, "inner_optimizer", optimizer)  # under a DiscriminativeOptimizer
    return dict(
        beta_1=float(inner.beta_1), beta_2=float(inner.beta_2), epsilon=float(inner.epsilon),
        weight_decay=float(inner.weight_decay), clip_norm=optimizer.global_clipnorm,
    )


def fastai_settings(keras_settings, args, ar_tar):
    """fastai's settings for a stage: ulmfit-tf's, or (`--fastai-defaults`) fastai's own where they differ."""
    settings = dict(keras_settings, ar_alpha=ar_tar[0], tar_beta=ar_tar[1], decay_all=True, cyclic_momentum=False,
                    schedule=args.fastai_schedule)
    if args.fastai_defaults:
        # fastai's Adam eps, no clipping, no decay of biases/BatchNorm, TextLearner's AR/TAR and momentum cycle.
        settings.update(epsilon=1e-5, clip_norm=None, ar_alpha=2.0, tar_beta=1.0, decay_all=False,
                        cyclic_momentum=True)
    return settings


def same_on_both_sides(args, data):
    return (
        f"token ids (SentencePiece, {data.tokenizer.vocabulary_size():,} pieces, trained on the news split), splits, "
        f"AWD-LSTM emb {args.embedding_dim} / hidden {args.hidden_dim} / {args.num_layers} layers, fastai's dropouts "
        f"x {args.dropout_multiplier:g} (LMs) and x {args.classifier_dropout_multiplier:g} (classifiers), AR 2 / TAR 1 "
        f"on the LMs, LM batches {args.lm_batch_size} x bptt {args.bptt} with the state carried, pretraining "
        f"{_epochs(args.pretrain_epochs)} at {args.pretrain_learning_rate:g}, fine-tuning "
        f"{_epochs(args.finetune_epochs)} at {args.finetune_learning_rate:g} (all groups, / {args.factor:g} per "
        f"group), classifiers {_epochs(args.classifier_epochs)}, batch {args.classifier_batch_size}, peak "
        f"{args.classifier_learning_rate:g}, BPT3C {CLASSIFIER_BPTT} / max_len {CLASSIFIER_MAX_LEN}; perplexities "
        "on the same validation windows"
    )


def _epochs(count):
    return f"{count} epoch" + ("" if count == 1 else "s")


def differences(args, settings):
    """What is not the same on both sides, in words."""
    lines = []
    if args.fastai_schedule == "one-cycle":
        lines.append(
            "Schedule: fastai `fit_one_cycle` (warm-up 25% from peak/25, cosine down to peak/1e5) vs ulmfit-tf's "
            "slanted triangular rates (10% up from peak/32, linear down to peak/32); (c2) in fastai is one "
            "`fit_one_cycle` per unfreezing step (`freeze_to` clears Adam's state), in ulmfit-tf one schedule over "
            "all epochs with `GradualUnfreezing`."
        )
    else:
        lines.append("Schedule: ulmfit-tf's slanted triangular rates on both sides (fastai through a ParamScheduler, "
                     "over its own step count); (c2) one schedule over all epochs on both.")
    stages_by_settings = {}  # stages whose ulmfit-tf optimizer settings are the same share one line
    for stage in ("LM pretraining", "LM fine-tuning", "classifier"):
        if f"ulmfit-tf {stage}" in settings:
            key = tuple(sorted(settings[f"ulmfit-tf {stage}"].items(), key=str))
            stages_by_settings.setdefault(key, []).append(stage)
    for key, names in stages_by_settings.items():
        tf_side = dict(key)
        clip = f"global-norm clip {tf_side['clip_norm']:g}" if tf_side["clip_norm"] else "no clipping"
        text = (f"{' and '.join(names)} optimizer: ulmfit-tf Keras AdamW betas ({tf_side['beta_1']:g}, "
                f"{tf_side['beta_2']:g}), eps {tf_side['epsilon']:g}, weight decay {tf_side['weight_decay']:g} on "
                f"every variable, {clip}")
        if args.fastai_defaults:
            text += ("; fastai its defaults: momentum cycling (0.8, 0.7, 0.8), eps 1e-5, no weight decay on biases "
                     "and BatchNorm, no clipping" + (", AR/TAR on the classifier too" if "classifier" in names else ""))
        else:
            text += "; fastai Adam with the same values (constant momentum)"
        lines.append(text + ". Keras adds eps before the bias correction of the step, PyTorch after.")
    lines += [
        "Initialisation: each library's own (fastai: embedding U(+-0.1), PyTorch LSTM U(+-1/sqrt(hidden)); "
        "ulmfit-tf: embedding U(+-0.1), Keras LSTM Glorot / orthogonal / forget-gate bias 1), and its own random "
        "streams for data order and dropout masks under the same seed.",
        "LM stream: the same layout, but fastai's `LMDataLoader` keeps each epoch's last, shorter window (one batch "
        "more) and cuts rows of (n - 1) // batch tokens where ulmfit-tf cuts n // batch.",
        "Classifier batches: fastai `SortedDL` (chunks of 50 batches sorted by length, last batch dropped, padding "
        "before the text in whole chunks) vs ulmfit-tf's 8 length buckets (partial batches kept, padding after); "
        "both pool only real tokens. BPT3C: fastai detaches the LSTM state between 72-token chunks in training, "
        "ulmfit-tf backpropagates through the whole text (only texts over 72 tokens differ).",
    ]
    if settings.get("fastai classifier", {}).get("ar_alpha") == 0:
        lines.append("AR/TAR on the classifier: off on both (fastai's TextLearner adds it by default; ulmfit-tf's "
                     "classifier has none); `--fastai-defaults` turns it on in fastai.")
    return lines


def details(args, data):
    words = sum(len(text.split()) for text in data.texts["news_train"])
    import fastai
    import torch

    return (
        f"fastai {fastai.__version__} / torch {torch.__version__} with 1 thread, TensorFlow {tf.__version__} / "
        f"Keras {keras.__version__} with their defaults; news pretraining on {words:,} words"
        + (f"; first {args.limit} texts of each split" if args.limit else "")
    )


class Results:
    """Values by row and side, one per seed, in the order the rows first appear."""

    def __init__(self):
        self.rows = {}

    def add(self, row, kind, side, value):
        self.rows.setdefault(row, (kind, {s: [] for s in SIDES}))[1][side].append(value)

    def table(self, seeds):
        several = len(seeds) > 1
        spread = f" (mean ± sd over seeds {', '.join(map(str, seeds))}; each seed's in brackets)" if several else ""
        lines = [f"| recipe{spread} | fastai | ulmfit-tf | ulmfit-tf vs fastai |", "|---|---|---|---|"]
        for row, (kind, values) in self.rows.items():
            cells = [_cell(values[side], kind) for side in SIDES]
            means = [np.mean(values[side]) if values[side] else math.nan for side in SIDES]
            versus = f"{means[1] / means[0]:.2f}x" if kind == "perplexity" else f"{means[1] - means[0]:+.4f}"
            lines.append(f"| {row} | {cells[0]} | {cells[1]} | {versus} |")
        return lines


def _cell(values, kind):
    form = "{:.1f}" if kind == "perplexity" else "{:.4f}"
    if not values:
        return ""
    if len(values) == 1:
        return form.format(values[0])
    each = ", ".join(form.format(v) for v in values)
    return f"{form.format(np.mean(values))} ± {form.format(np.std(values))} ({each})"


class Clock:
    """Seconds spent by side and part."""

    def __init__(self):
        self.seconds = {}

    @contextmanager
    def __call__(self, side, part):
        start = time.time()
        try:
            yield
        finally:
            key = (side, part)
            self.seconds[key] = self.seconds.get(key, 0.0) + time.time() - start

    def minutes(self, side):
        return sum(s for (name, _), s in self.seconds.items() if name == side) / 60

    def summary(self, side):
        parts = ", ".join(f"{part} {s / 60:.1f}" for (name, part), s in self.seconds.items() if name == side)
        return f"{side} {self.minutes(side):.1f} ({parts})"


if __name__ == "__main__":
    main()
