"""Forward + backward ensemble: does a backward language model pay for its size?

Fine-tunes each language model (a preset or model folder; `--backward` one
pretrained on reversed text, `english_lm.sh backward`) on the Rotten Tomatoes
training reviews plus the plot summaries as the main job does (once: the
folder `WORK/{forward,backward}_tuned` is reused), fits the `small` recipe's
classifier on it for each seed (saved in `WORK/{direction}_classifier_{seed}`
and reused), and appends to `ensemble.jsonl` beside this file the validation
and test accuracy of each classifier, of forward + backward for each seed
(probabilities averaged, as `stages.predict` does), and of the forward
classifiers of each two seeds together (the control, what averaging any two
models buys) and of all seeds together. `minutes` are those of each fit made in this run (`None` for
a reused folder). Without `--backward` only the forward classifiers are
fitted and scored (to fit them while the backward model still trains).

    python pretraining/ensemble.py --backward pretraining/lm_backward_preset --work runs/ensemble --seeds 42 1
"""

import argparse
import itertools
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benchmarks"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from choose_recipe import finetuned  # noqa: E402
from report import append_row  # noqa: E402

from ulmfit_tf import stages  # noqa: E402
from ulmfit_tf.model_directory import load_model_directory  # noqa: E402
from ulmfit_tf.model_directory import save_model_directory  # noqa: E402
from ulmfit_tf.pipeline.data import bundled_task  # noqa: E402
from ulmfit_tf.recipe import RECIPES  # noqa: E402


def classifier(tuned, folder, seed, recipe, train, validation):
    """The recipe's classifier on `tuned`, fitted once and saved in `folder`."""
    if os.path.isdir(folder):
        return load_model_directory(folder, "classifier"), None
    start = time.time()
    model = stages.fit_classifier(
        tuned, *train, validation=validation, seed=seed, verbose=0, settings=recipe.classifier
    )
    save_model_directory(model, folder, "classifier")
    return model, round((time.time() - start) / 60, 2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--forward", default="awd_lstm_small_en_uncased", help="forward preset name or folder")
    parser.add_argument("--backward", help="backward preset name or folder")
    parser.add_argument("--work", required=True, help="folder for the fine-tuned LMs and the classifiers")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1])
    parser.add_argument("--recipe", default="small")
    args = parser.parse_args()
    recipe = RECIPES[args.recipe]
    task = train, validation, test, _ = bundled_task()
    splits = {"validation": validation, "test": test}
    models, minutes = {}, {}
    directions = {"forward": args.forward, "backward": args.backward} if args.backward else {"forward": args.forward}
    for direction, language_model in directions.items():
        tuned, minutes[f"{direction}_finetune"] = finetuned(
            language_model, os.path.join(args.work, f"{direction}_tuned"), recipe.finetune.epochs, task,
            args.recipe,
        )
        for seed in args.seeds:
            models[direction, seed], minutes[f"{direction}_{seed}"] = classifier(
                tuned, os.path.join(args.work, f"{direction}_classifier_{seed}"), seed, recipe, train, validation
            )
    members = {f"{direction} {seed}": [models[direction, seed]] for direction, seed in models}
    if args.backward:
        members.update({f"forward + backward {seed}": [models["forward", seed], models["backward", seed]]
                        for seed in args.seeds})
    groups = list(itertools.combinations(args.seeds, 2)) + ([tuple(args.seeds)] if len(args.seeds) > 2 else [])
    for group in groups:
        for direction in directions:
            members[f"{direction} " + " + ".join(map(str, group))] = [models[direction, s] for s in group]
    if args.backward and len(args.seeds) > 1:
        members["all"] = list(models.values())
    for name, classifiers in members.items():
        row = dict(
            forward=args.forward, backward=args.backward, recipe=args.recipe, members=name,
            **{split: round(stages.evaluate(classifiers, *data)["accuracy"], 4) for split, data in splits.items()},
            minutes=minutes,
        )
        append_row(os.path.join(os.path.dirname(os.path.abspath(__file__)), "ensemble.jsonl"), row)


if __name__ == "__main__":
    main()
