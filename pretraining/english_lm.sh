#!/usr/bin/env bash
# The bundled English language model's pretraining run (pretraining/README.md).
# Resumable: rerun the same command after a stop; it continues from the last
# epoch's checkpoint in $RUN/lm.checkpoints (a run with other settings is refused).
# `english_lm.sh continue`: a second cycle from the shipped weights, into $RUN/lm_continued
# ($EPOCHS epochs, 6 by default). `english_lm.sh backward`: the same pretraining on reversed
# text into $RUN/lm_backward ($EPOCHS epochs, 6 by default), for the forward + backward ensemble.
set -euo pipefail
RUN=${RUN:-/work/english_lm}
cd "$(dirname "$0")/.."
mkdir -p "$RUN"
if [ ! -f "$RUN/english_train.txt" ]; then
  .venv/bin/python - "$RUN" <<'PY'
import sys
from ulmfit_tf import datasets
corpus = datasets.load_english_corpus()
for split in ("train", "validation"):
    with open(f"{sys.argv[1]}/english_{split}.txt", "w") as f:
        f.write("\n".join(t.replace("\n", " ") for t in corpus[split]) + "\n")
PY
fi
if [ "${1:-}" = "continue" ]; then
  # A second cycle on the same corpus from the bundled preset's weights: one rate for all
  # layers (--factor 1), a fresh slanted triangular schedule peaking at 1e-2 (pretraining/README.md).
  .venv/bin/ulmfit-tf finetune-lm --language-model awd_lstm_small_en --texts "$RUN/english_train.txt" \
      --validation "$RUN/english_validation.txt" --output "$RUN/lm_continued" --keep-checkpoints \
      --epochs "${EPOCHS:-6}" --batch-size 32 --bptt 70 --learning-rate 1e-2 --factor 1 --seed 43 \
      2>&1 | tee -a pretraining/english_lm_continue.log
  exit
fi
# The first run, or with `backward` the same on reversed text.
output=lm epochs=6 direction=() log=english_lm.log
if [ "${1:-}" = "backward" ]; then
  output=lm_backward epochs=${EPOCHS:-6} direction=(--backwards) log=english_lm_backward.log
fi
.venv/bin/ulmfit-tf pretrain --texts "$RUN/english_train.txt" --validation "$RUN/english_validation.txt" \
    --output "$RUN/$output" --keep-checkpoints --epochs "$epochs" --batch-size 32 --bptt 70 \
    --vocabulary-size 8000 --embedding-dim 128 --hidden-dim 320 --learning-rate 2e-2 \
    --dropout-multiplier 0.2 --seed 42 "${direction[@]}" 2>&1 | tee -a "pretraining/$log"
