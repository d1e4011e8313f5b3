"""`ulmfit-tf report`'s options (light: building the parser loads no TensorFlow)."""

from ulmfit_tf.cli.parser import add_data_options
from ulmfit_tf.cli.parser import add_overwrite_option
from ulmfit_tf.cli.parser import positive_int


def add_arguments(command):
    command.add_argument("--model", required=True, help="classifier folder (written by fit-classifier or pipeline)")
    command.add_argument("--data", required=True, help="labelled file to evaluate on (a test split)")
    command.add_argument("--output", required=True, help="the .html file to write (new, unless --overwrite)")
    command.add_argument("--top-k", type=positive_int, default=8, help="worst texts shown with their attributions")
    command.add_argument("--lr-finder-plot", metavar="PNG", help="the plot `ulmfit-tf lr-find` wrote, to include")
    add_data_options(command, multi_label=True)
    add_overwrite_option(command, "a report file")
