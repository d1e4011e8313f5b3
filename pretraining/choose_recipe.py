"""The classifier recipe from a language model, chosen on the validation split.

Fine-tunes the language model (a preset or model folder) on the Rotten
Tomatoes training reviews plus the plot summaries once (or loads the
fine-tuned folder given with `--tuned`), then fits each classifier variant
and appends one line per variant to `recipes.jsonl` beside this file:
validation accuracy (what the choice is made on) and, for reference, test
accuracy.

    python pretraining/choose_recipe.py --language-model awd_lstm_small_en_uncased --tuned runs/tuned \\
        --variants all-layers gradual-unfreezing
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benchmarks"))

import keras  # noqa: E402
from report import append_row  # noqa: E402
from results import label_subset  # noqa: E402
from results import random_copy  # noqa: E402

from ulmfit_tf import stages  # noqa: E402
from ulmfit_tf.model_directory import load_model_directory  # noqa: E402
from ulmfit_tf.model_directory import save_model_directory  # noqa: E402
from ulmfit_tf.pipeline.data import bundled_task  # noqa: E402
from ulmfit_tf.presets import load_language_model  # noqa: E402
from ulmfit_tf.recipe import RECIPES  # noqa: E402

VARIANTS = {
    "all-layers": dict(gradual_unfreezing=False, factor=1.0, dropout_multiplier=0.5),
    "all-layers-discriminative": dict(gradual_unfreezing=False, factor=2.6, dropout_multiplier=0.5),
    "gradual-unfreezing": dict(gradual_unfreezing=True, factor=2.6, dropout_multiplier=0.5),
    "all-layers-dropout-1": dict(gradual_unfreezing=False, factor=1.0, dropout_multiplier=1.0),
    "all-layers-dropout-0.3": dict(gradual_unfreezing=False, factor=1.0, dropout_multiplier=0.3),
    "all-layers-dropout-0.2": dict(gradual_unfreezing=False, factor=1.0, dropout_multiplier=0.2),
    "all-layers-dropout-0.1": dict(gradual_unfreezing=False, factor=1.0, dropout_multiplier=0.1),
}


class TestByEpoch(keras.callbacks.Callback):
    """Test accuracy after every epoch, for reference only: nothing is chosen on it."""

    def __init__(self, test):
        super().__init__()
        self.test, self.accuracies = test, []

    def on_epoch_end(self, epoch, logs=None):
        self.accuracies.append(round(stages.evaluate(self.model, *self.test)["accuracy"], 4))


def finetuned(language_model, folder, epochs, task, recipe="small"):
    """The language model fine-tuned on the training reviews + plot summaries as the main job does.

    Made once and saved in `folder`; a later call loads it from there (minutes `None`). `task` is
    `bundled_task()`'s `(train, validation, test, unlabelled)`.

    Returns:
        `(language model, minutes the fine-tuning took)`.
    """
    if os.path.isdir(folder):
        return load_model_directory(folder, "language_model"), None
    recipe = RECIPES[recipe]
    train, validation, _, unlabelled = task
    start = time.time()
    tuned = stages.finetune_language_model(
        load_language_model(language_model), list(train[0]) + list(unlabelled),
        list(validation[0]), settings=recipe.finetune, epochs=epochs, seed=42, verbose=2,
    )
    save_model_directory(tuned, folder, "language_model", fingerprint=getattr(tuned, "fingerprint", None))
    return tuned, round((time.time() - start) / 60, 2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--language-model", required=True, help="preset name or folder")
    parser.add_argument("--tuned", required=True, help="folder of the fine-tuned LM (made here when missing)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--recipe", default="small")
    parser.add_argument("--finetune-epochs", type=int, default=None)
    parser.add_argument("--epochs", type=int, nargs="+", default=[None], help="classifier epochs to try")
    parser.add_argument("--learning-rates", type=float, nargs="+", default=[None], help="classifier peak rates")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42])
    parser.add_argument("--min-steps", type=int, default=None, help="fit_classifier's min_steps (default: none)")
    parser.add_argument(
        "--from-scratch", action="store_true",
        help="fit each variant on a randomly initialised copy of the model instead (results.py's baseline)",
    )
    parser.add_argument(
        "--labels", type=int, default=None,
        help="train on the first n of benchmarks/results.py's seeded shuffle (default: all)",
    )
    args = parser.parse_args()
    recipe = RECIPES[args.recipe]
    task = train, validation, test, _ = bundled_task()
    labelled = label_subset(train, args.labels) if args.labels else train  # RESULTS.md's sample-efficiency rows
    finetune_epochs = args.finetune_epochs or recipe.finetune.epochs
    tuned, finetune_minutes = finetuned(args.language_model, args.tuned, finetune_epochs, task, args.recipe)
    if args.from_scratch:
        tuned = random_copy(tuned, seed=0)
    runs = [(name, epochs, rate, seed) for name in args.variants for epochs in args.epochs
            for rate in args.learning_rates for seed in args.seeds]
    for name, epochs, rate, seed in runs:
        start = time.time()
        test_by_epoch = TestByEpoch(test)
        classifier = stages.fit_classifier(
            tuned, *labelled, validation=validation, batch_size=recipe.classifier.batch_size,
            epochs=epochs or recipe.classifier.epochs, min_steps=args.min_steps,
            learning_rate=rate or recipe.classifier.learning_rate, seed=seed, verbose=0,
            callbacks=[test_by_epoch], **VARIANTS[name],
        )
        validation_by_epoch = [round(v, 4) for v in classifier.history.history["val_accuracy"]]
        best = max(range(len(validation_by_epoch)), key=validation_by_epoch.__getitem__)  # first best
        row = dict(
            language_model=args.language_model, finetune_epochs=finetune_epochs,
            finetune_minutes=finetune_minutes, labels=len(labelled[0]), from_scratch=args.from_scratch,
            variant=name, **VARIANTS[name], learning_rate=rate or recipe.classifier.learning_rate,
            epochs=len(classifier.history.epoch), min_steps=args.min_steps, seed=seed,
            validation=round(stages.evaluate(classifier, *validation)["accuracy"], 4),
            test=round(stages.evaluate(classifier, *test)["accuracy"], 4),
            validation_by_epoch=validation_by_epoch, test_by_epoch=test_by_epoch.accuracies,
            best_validation_epoch=best + 1, test_at_best_validation_epoch=test_by_epoch.accuracies[best],
            minutes=round((time.time() - start) / 60, 2),
        )
        append_row(os.path.join(os.path.dirname(os.path.abspath(__file__)), "recipes.jsonl"), row)


if __name__ == "__main__":
    main()
