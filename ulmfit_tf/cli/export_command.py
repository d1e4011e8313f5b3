"""`ulmfit-tf export`: a classifier folder as a TF Serving SavedModel and/or a .tflite file."""

import contextlib
import os
import sys
import warnings

from ulmfit_tf import export
from ulmfit_tf.cli.inputs import load_model
from ulmfit_tf.cli.inputs import read_texts
from ulmfit_tf.cli.outputs import one_line
from ulmfit_tf.cli.outputs import print_table
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.folders import check_new_file
from ulmfit_tf.folders import check_output
from ulmfit_tf.folders import file_size
from ulmfit_tf.folders import remove_folder
from ulmfit_tf.storage import new_folders_removed_on_failure
from ulmfit_tf.thresholds import DEFAULT_THRESHOLD


def run(args):
    """`ulmfit-tf export`: checks every output first, then writes the exports; all or nothing."""
    representative = _check(args)
    classifier = load_model(args.model, "classifier")
    rows = []
    with _all_or_nothing(args), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        if args.saved_model:
            path = export.export_saved_model(classifier, args.saved_model, version=args.version, overwrite=args.overwrite)
            rows.append(("SavedModel", f"{path} ({_size_mb(path)})"))
        if args.tflite:
            export.export_tflite(
                classifier, args.tflite, args.quantization, representative_texts=representative,
                overwrite=args.overwrite, target=args.tflite_target, sequence_length=args.sequence_length,
            )
            kind = args.quantization if args.tflite_target == "litert" else f"{args.quantization}, {args.tflite_target}"
            rows.append((f"TFLite ({kind})", f"{args.tflite} ({_size_mb(args.tflite)})"))
    for message in dict.fromkeys(str(warning.message) for warning in caught if warning.category is UserWarning):
        print(f"ulmfit-tf export: warning: {one_line(message)}", file=sys.stderr)
    if classifier.problem_type == "multi_label":  # what an app applies where a client keeps one threshold (MediaPipe)
        thresholds = classifier.thresholds or [DEFAULT_THRESHOLD] * classifier.num_classes
        shown = ", ".join(f"{name} {value:.4f}" for name, value in zip(classifier.label_names, thresholds))
        rows.append(("thresholds", shown))
    print_table(rows)
    return 0


def _check(args):
    """Refuses a wrong combination of options or a taken output before any work; the texts calibrating int8."""
    if not args.saved_model and not args.tflite:
        raise UserInputError("Nothing to export: pass `--saved-model DIR` and/or `--tflite FILE`.")
    if args.saved_model:
        check_output(os.path.join(args.saved_model, str(args.version)), "saved_model", args.overwrite)
    if not args.tflite:
        return None
    check_new_file(args.tflite, args.overwrite)
    if args.tflite_target == "mediapipe" and args.quantization == "int8":
        raise UserInputError(
            "`--tflite-target mediapipe` takes `--quantization` none, float16 or dynamic_int8: an int8 file's "
            "fused LSTMs keep their state between texts in MediaPipe."
        )
    if args.quantization != "int8":
        return None
    if not args.representative_data:
        raise UserInputError("`--quantization int8` needs `--representative-data FILE` (typical texts).")
    return read_texts([args.representative_data], args.text_column)


@contextlib.contextmanager
def _all_or_nothing(args):
    """Removes what a failed or interrupted export made: a new SavedModel version and the folders made for it."""
    version = os.path.join(args.saved_model, str(args.version)) if args.saved_model else None
    new_version = version if version and not os.path.exists(version) else None
    with new_folders_removed_on_failure(version) if version else contextlib.nullcontext():
        try:
            yield
        except BaseException:
            if new_version:
                remove_folder(new_version, "saved_model")
            raise


def _size_mb(path):
    return f"{file_size(path) / 1e6:.1f} MB"
