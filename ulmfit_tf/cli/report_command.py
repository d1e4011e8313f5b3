"""`ulmfit-tf report`: a classifier's HTML report on a labelled file (see `ulmfit_tf.report`)."""

import os

from ulmfit_tf.cli.inputs import check_table
from ulmfit_tf.cli.inputs import load_model
from ulmfit_tf.cli.inputs import read_labelled
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.folders import check_new_file
from ulmfit_tf.folders import read_manifest
from ulmfit_tf.report import write_report

MODEL_CARD = "README.md"


def run(args):
    check_new_file(args.output, args.overwrite)  # before the model loads
    if args.lr_finder_plot is not None and not os.path.isfile(args.lr_finder_plot):
        raise UserInputError(f"--lr-finder-plot: no file {args.lr_finder_plot}.")
    check_table(args.data, args)
    classifier = load_model(args.model, "classifier")
    texts, labels = read_labelled(args.data, args, classifier.problem_type, label_names=classifier.label_names)
    history = (read_manifest(args.model) or {}).get("history")
    metrics = write_report(
        classifier, texts, labels, args.output, history={"classifier": history} if history else None,
        model_card=_model_card(args.model), lr_finder_plot=args.lr_finder_plot, top_k=args.top_k,
        overwrite=args.overwrite,
    )
    shown = {name: metrics[name] for name in ("accuracy", "macro_f1", "mae") if metrics.get(name) is not None}
    print(f"wrote {args.output}: " + ", ".join(f"{name} {value:.4f}" for name, value in shown.items()))
    return 0


def _model_card(folder):
    path = os.path.join(folder, MODEL_CARD)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read(256 * 1024)
