"""pretraining/make_preset.py: the model card counts the time of the parts the weights went through."""

import importlib.util
import pathlib

ROOT = pathlib.Path(__file__).parent.parent
spec = importlib.util.spec_from_file_location("pretraining_make_preset", ROOT / "pretraining" / "make_preset.py")
make_preset = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_preset)

LOG = """== 2026-12-06T04:59:24Z pretraining/knowledge_lm.sh  (WORK=/w EPOCHS=12)
Epoch 1/48
1228/1228 - 100s - 81ms/step - accuracy: 0.2 - loss: 5.3 - val_accuracy: 0.23 - val_loss: 4.9
Epoch 2/48
ulmfit-tf pretrain: interrupted by SIGTERM: the complete epochs are kept in '/w/lm.checkpoints'.
== 2026-12-06T05:32:51Z pretraining/knowledge_lm.sh  (WORK=/w EPOCHS=12)
Epoch 2/48
1228/1228 - 200s - 163ms/step - accuracy: 0.2 - loss: 5.2 - val_accuracy: 0.24 - val_loss: 4.8
Epoch 3/48
1228/1228 - 300s - 244ms/step - accuracy: 0.2 - loss: 5.1 - val_accuracy: 0.24 - val_loss: 4.7
== 2026-12-06T06:00:00Z pretraining/knowledge_lm.sh anneal 2 (WORK=/w EPOCHS=12)
Epoch 1/2
1233/1233 - 4000s - 3s/step - accuracy: 0.3 - loss: 4.6 - val_accuracy: 0.27 - val_loss: 4.5
== 2026-12-06T07:00:00Z pretraining/knowledge_lm.sh anneal 3 (WORK=/w EPOCHS=12)
Epoch 1/2
1233/1233 - 40s - 32ms/step - accuracy: 0.3 - loss: 4.6 - val_accuracy: 0.27 - val_loss: 4.4
Epoch 2/2
1233/1233 - 50s - 41ms/step - accuracy: 0.3 - loss: 4.5 - val_accuracy: 0.28 - val_loss: 4.3
val_loss      4.3
== 2026-12-06T08:00:00Z pretraining/knowledge_lm.sh  (WORK=/w EPOCHS=12)
Epoch 4/48
1228/1228 - 7000s - 6s/step - accuracy: 0.2 - loss: 5.0 - val_accuracy: 0.25 - val_loss: 4.6
"""


def test_only_the_lineage_of_the_weights_is_counted():
    # Parts 1-3 of the long run, then the anneal from part 3: not the anneal from part 2, nor part 4.
    assert make_preset.lineage_seconds(LOG, 3, 2) == {
        ("pretrain", 1): 100, ("pretrain", 2): 200, ("pretrain", 3): 300, ("anneal", 1): 40, ("anneal", 2): 50,
    }
    assert make_preset.lineage_seconds(LOG, 2, 1) == {("pretrain", 1): 100, ("pretrain", 2): 200, ("anneal", 1): 4000}
    assert make_preset.lineage_seconds(LOG, 4, 0) == {
        ("pretrain", 1): 100, ("pretrain", 2): 200, ("pretrain", 3): 300, ("pretrain", 4): 7000,
    }


def test_the_bundled_card_time_comes_back_from_the_committed_log():
    log = pathlib.Path(make_preset.log_path(1)).read_text(encoding="utf-8")
    seconds = make_preset.lineage_seconds(log, 11, 2)
    assert len(seconds) == 12  # parts 2-11 (part 1 left no line) and both anneal parts
    card = (ROOT / "ulmfit_tf" / "bundled_presets" / "awd_lstm_small_en_uncased" / "README.md").read_text()
    assert f"{sum(seconds.values()) / 60 + 30:.0f} minutes of wall-clock time" in card  # --unlogged-minutes 30


def test_the_card_names_the_anneal_only_when_there_was_one():
    card = (ROOT / "ulmfit_tf" / "bundled_presets" / "awd_lstm_small_en_uncased" / "README.md").read_text()
    assert make_preset.schedule(11, 2) in card
    assert make_preset.schedule(48, 0) == (
        "48 parts of about 1,000 updates of a slanted triangular schedule at a 2e-2 peak"
    )
    assert make_preset.command(11, 2, 1.0) == (
        "GLOVE_SCALE=1 pretraining/knowledge_lm.sh (stopped after part 11), "
        "then GLOVE_SCALE=1 pretraining/knowledge_lm.sh anneal 11"
    )
    assert make_preset.command(48, 0, 16.0) == "GLOVE_SCALE=16 pretraining/knowledge_lm.sh (stopped after part 48)"


def test_each_glove_scale_reads_its_own_log_and_names_its_vectors():
    assert make_preset.log_path(1.0) == str(ROOT / "pretraining" / "knowledge_lm.log")
    assert make_preset.log_path(16.0) == str(ROOT / "pretraining" / "knowledge_lm_x16.log")
    card = (ROOT / "ulmfit_tf" / "bundled_presets" / "awd_lstm_small_en_uncased" / "README.md").read_text()
    assert make_preset.vectors_text(1.0) in card
    assert f"| Command | `{make_preset.command(11, 2, 1.0)}` |" in card
    assert "deviation times 16 and widened" in make_preset.vectors_text(16.0)
