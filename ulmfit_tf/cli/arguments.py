"""The arguments of each `ulmfit-tf` command (what `--help` shows); nothing here loads TensorFlow.

Each function adds one command's arguments to its parser. The training
settings come from `ulmfit_tf.recipe`'s dataclasses (`add_settings_options`).
"""

from ulmfit_tf.cli.parser import LANGUAGE_MODEL_HELP
from ulmfit_tf.cli.parser import add_data_options
from ulmfit_tf.cli.parser import add_overwrite_option
from ulmfit_tf.cli.parser import add_run_options
from ulmfit_tf.cli.parser import add_settings_options
from ulmfit_tf.cli.parser import positive_int
from ulmfit_tf.cli.parser import probability
from ulmfit_tf.options import PROBLEM_TYPES
from ulmfit_tf.options import QUANTIZATIONS
from ulmfit_tf.options import TFLITE_TARGETS
from ulmfit_tf.recipe import RECIPES
from ulmfit_tf.recipe import STAGE_SETTINGS
from ulmfit_tf.recipe import ClassifierSettings
from ulmfit_tf.recipe import FinetuneSettings
from ulmfit_tf.recipe import PretrainSettings

MODEL_HELP = "classifier folder(s), several are ensembled; or one exported .tflite file or SavedModel folder"


def pretrain(command):
    """`pretrain`: the corpus, the run's options, every `PretrainSettings` field, the tokenizer and vectors."""
    command.add_argument("--texts", required=True, nargs="+", help="corpus files")
    command.add_argument("--validation", nargs="+", help="held-out text files")
    add_data_options(command, labels=False)
    add_run_options(command)
    add_settings_options(command, PretrainSettings)
    command.add_argument("--backwards", action="store_true", help="train on reversed text")
    command.add_argument("--tokenizer", metavar="FILE", help="a trained SentencePiece .model to use instead")
    command.add_argument(
        "--embeddings", metavar="FILE", help=".npy array (pieces x --embedding-dim) the embedding starts from"
    )
    command.add_argument(
        "--stream", action="store_true",
        help="--texts is a glob pattern of text files (one document per line), streamed: for corpora larger than memory",
    )


def finetune_lm(command):
    """`finetune-lm`: the language model, the texts, the run's options, every `FinetuneSettings` field."""
    command.add_argument("--language-model", required=True, help=LANGUAGE_MODEL_HELP)
    command.add_argument("--texts", required=True, nargs="+", help="target-task text files (labels ignored)")
    command.add_argument("--validation", nargs="+", help="held-out text files")
    add_data_options(command, labels=False)
    add_run_options(command)
    # A language model folder records the stream it was trained on: fine-tuning reads it alike.
    inherited = "default: the language model's, else {default}"
    add_settings_options(command, FinetuneSettings, unset={"batch_size": inherited, "bptt": inherited})


def fit_classifier(command):
    """`fit-classifier`: the language model, the labelled files, the run's options, every `ClassifierSettings` field."""
    command.add_argument("--language-model", required=True, help=LANGUAGE_MODEL_HELP)
    command.add_argument("--train", required=True, help="labelled training file")
    command.add_argument("--validation", help="labelled validation file")
    command.add_argument(
        "--problem-type", default="single_label", choices=PROBLEM_TYPES,
        help="single_label: one class a text; multi_label: any number of labels (see --label-separator, "
        "--label-columns); regression: a number a text",
    )
    add_data_options(command, multi_label=True)
    add_run_options(command)
    add_settings_options(command, ClassifierSettings)


def evaluate(command):
    command.add_argument("--model", required=True, nargs="+", help=MODEL_HELP)
    command.add_argument("--data", required=True, help="labelled file")
    command.add_argument("--json", action="store_true", help="print one JSON object (for scripts) instead of tables")
    add_data_options(command, multi_label=True)


def predict(command):
    command.add_argument("--model", required=True, nargs="+", help=MODEL_HELP)
    source = command.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="file of texts")
    source.add_argument("--text", action="append", help="a text (repeatable)")
    command.add_argument(
        "--output", help="write a CSV here instead of printing (grown in OUTPUT.partial, renamed when complete)"
    )
    add_overwrite_option(command, "the --output CSV")
    command.add_argument("--batch-size", type=positive_int, default=64, help="texts per batch (batched by length)")
    command.add_argument(
        "--chunk-size", type=positive_int, default=2048, help="texts read, predicted and written at a time"
    )
    command.add_argument(
        "--threshold", type=probability, metavar="T",
        help="multi-label: every label with probability >= T (default: the model's thresholds, tuned on validation)",
    )
    command.add_argument(
        "--top-k", type=positive_int, metavar="K",
        help="at most K labels a text, the most probable (multi-label: of those above the thresholds)",
    )
    command.add_argument(
        "--label-separator", default="|", metavar="SEP", help="joins a text's labels in the output (default: '|')"
    )
    add_data_options(command, labels=False)


def lr_find(command):
    command.add_argument("--language-model", required=True, help=LANGUAGE_MODEL_HELP)
    command.add_argument("--train", required=True)
    command.add_argument("--plot", default="lr_find.png")
    add_overwrite_option(command, "the plot")
    command.add_argument("--batch-size", type=positive_int, default=64)
    command.add_argument("--num-steps", type=positive_int, default=100)
    add_data_options(command)


def export(command):
    command.add_argument("--model", required=True, help="classifier folder")
    command.add_argument("--saved-model", metavar="DIR", help="write TF Serving's layout DIR/VERSION/ here")
    command.add_argument("--version", type=positive_int, default=1, help="SavedModel version folder")
    add_overwrite_option(command, "the SavedModel version folder or .tflite file")
    command.add_argument("--tflite", metavar="FILE", help="write a .tflite file here")
    command.add_argument("--quantization", default="dynamic_int8", choices=QUANTIZATIONS)
    command.add_argument(
        "--tflite-target", default="litert", choices=TFLITE_TARGETS,
        help="litert: text in, for LiteRT with tensorflow-text's ops; mediapipe: for MediaPipe Tasks' TextClassifier "
        "as it is (none, float16 or dynamic_int8)",
    )
    command.add_argument(
        "--sequence-length", type=positive_int, default=64,
        help="--tflite-target mediapipe: input positions, [CLS] and [SEP] included (the first N-2 pieces are read)",
    )
    command.add_argument("--representative-data", metavar="FILE", help="texts calibrating --quantization int8")
    add_data_options(command, labels=False)


def pipeline(command):
    """`pipeline`: the data, the recipe, and every setting of each stage (`--classifier-epochs`, ...)."""
    command.add_argument(
        "--language-model", metavar="PRESET_OR_FOLDER",
        help="the language model to fine-tune, as for finetune-lm (default: the recipe's; for `small` the bundled "
        "English preset)",
    )
    command.add_argument("--pretrain", action="store_true", help="pretrain the language model on --pretrain-texts instead")
    command.add_argument("--pretrain-texts", nargs="+", help="corpus files for --pretrain (default: the bundled news)")
    command.add_argument("--train", help="labelled training file (default: bundled Rotten Tomatoes)")
    command.add_argument("--validation", help="labelled validation file")
    command.add_argument("--test", help="labelled test file")
    command.add_argument("--unlabelled", nargs="+", help="more in-domain text files for LM fine-tuning")
    command.add_argument(
        "--problem-type", default="single_label", choices=PROBLEM_TYPES[:2],
        help="multi_label: any number of labels a text (see --label-separator, --label-columns)",
    )
    add_data_options(command, multi_label=True)
    command.add_argument("--output", default="runs/pipeline")
    add_overwrite_option(command, "stage folders whose settings or data changed (retraining them)")
    command.add_argument(
        "--recipe", default="small", choices=list(RECIPES), help="sizes, epochs and rates of the stages"
    )
    command.add_argument("--backwards", action="store_true")
    command.add_argument("--tensorboard", metavar="DIR")
    command.add_argument("--limit", type=positive_int, help="use at most this many texts of each file (quick runs)")
    for stage, settings_class in STAGE_SETTINGS.items():
        group = command.add_argument_group(f"{stage} settings")
        add_settings_options(group, settings_class, prefix=f"{stage}-", unset={"*": "default: the recipe's"})
