import math

import keras
import numpy as np
import pytest

from ulmfit_tf import demo

TINY = ["--train-words", "3000", "--vocabulary-size", "300", "--embedding-dim", "8",
        "--hidden-dim", "16", "--num-layers", "2", "--bptt", "20", "--batch-size", "4"]


def test_tiny_demo_trains_and_saves(tmp_path, capsys):
    result = demo.main(TINY + ["--output", str(tmp_path)])
    assert math.isfinite(result["valid_loss"])
    model = keras.saving.load_model(result["model_path"])
    assert len(model.vocabulary) == 300
    # A stateful model of batch 4, as trained.
    logits = model.predict(np.full((4, 3), 5), batch_size=4, verbose=0)
    assert logits.shape == (4, 3, 300)
    out = capsys.readouterr().out
    assert "stage 1 (language model pretraining) only" in out
    assert "validation perplexity per piece, unigram baseline" in out


@pytest.mark.slow
def test_default_demo_beats_a_unigram_model(tmp_path):
    result = demo.main(["--output", str(tmp_path)])
    assert result["valid_loss"] < result["unigram_loss"]
