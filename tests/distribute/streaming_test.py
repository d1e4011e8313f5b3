import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from ulmfit_tf import stages
from ulmfit_tf.datasets import load_rotten_tomatoes
from ulmfit_tf.text.language_model_dataset import language_model_dataset
from ulmfit_tf.text.language_model_source import STREAM_CHUNK_DOCUMENTS
from ulmfit_tf.text.language_model_source import count_file_steps
from ulmfit_tf.text.language_model_source import count_steps


def _write_shards(folder, texts, shards):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(shards):
        (folder / f"shard-{i:03d}.txt").write_text("\n".join(texts[i::shards]) + "\n", encoding="utf-8")
    return str(folder / "shard-*.txt")


def test_pretraining_streams_from_a_glob_of_text_files(tmp_path):
    texts = [t.replace("\n", " ") for t in load_rotten_tomatoes()["train"]["texts"][:400]]
    pattern = _write_shards(tmp_path / "corpus", texts, 4)
    model = stages.pretrain_language_model(
        pattern, vocabulary_size=200, embedding_dim=16, hidden_dim=32, num_layers=2, batch_size=8, bptt=10,
        epochs=2, validation_texts=pattern, seed=1, verbose=0,
    )
    history = model.history.history
    assert len(history["loss"]) == 2 and np.isfinite(history["val_loss"]).all()
    # Each epoch runs the counted number of batches: the in-memory count less one per chunk at most.
    in_memory = count_steps(texts, model.preprocessor.tokenizer, 8, 10)
    streamed = count_file_steps(sorted((tmp_path / "corpus").glob("*.txt")), model.preprocessor.tokenizer, 8, 10)
    assert in_memory - 1 <= streamed <= in_memory
    # Every shuffled epoch has at least that many batches.
    for epoch in range(3):
        data = language_model_dataset(
            tf.data.TextLineDataset(sorted(str(p) for p in (tmp_path / "corpus").glob("*"))),
            model.preprocessor.tokenizer, 8, 10, seed=epoch, chunk_documents=STREAM_CHUNK_DOCUMENTS,
        )
        assert sum(1 for _ in data) >= streamed


def test_a_glob_matching_nothing_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="No files match"):
        stages.pretrain_language_model(str(tmp_path / "*.txt"), verbose=0)


MEMORY_SCRIPT = """
import os, resource, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
import tensorflow as tf
from ulmfit_tf.text.language_model_dataset import language_model_dataset
from ulmfit_tf.text.sentencepiece_tokenizer import SentencePieceTokenizer
tokenizer = SentencePieceTokenizer.train(open(sys.argv[2]).read().splitlines()[:2000], vocabulary_size=300, seed=0)
files = sorted(tf.io.gfile.glob(sys.argv[1]))
data = language_model_dataset(tf.data.TextLineDataset(files), tokenizer, 16, 50, chunk_documents=256)
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
batches = sum(1 for _ in data)
print(batches, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""


@pytest.mark.slow  # streams 100k documents; the default run keeps the glob-streaming test above
def test_streaming_memory_stays_flat_as_the_corpus_grows(tmp_path):
    texts = [t.replace("\n", " ") for t in load_rotten_tomatoes()["train"]["texts"]]
    results = {}
    for repeat in (1, 10):
        pattern = _write_shards(tmp_path / f"x{repeat}", texts * repeat, 4)
        out = subprocess.run(
            [sys.executable, "-c", MEMORY_SCRIPT, pattern, os.path.join(tmp_path / "x1", "shard-000.txt")],
            capture_output=True, text=True, check=True,
        )
        results[repeat] = [int(v) for v in out.stdout.split()]
    batches_1, growth_1 = results[1]
    batches_10, growth_10 = results[10]
    assert batches_10 >= 9 * batches_1
    # Peak memory grows by a few MB at most while the corpus grows 10x.
    assert growth_10 < growth_1 + 64, json.dumps(results)
