"""Streaming prediction: answers equal to `classifier.predict` in input order, the reader's memory, signals."""

import csv
import os
import signal
import subprocess
import sys
import textwrap
import time
import tracemalloc

import numpy as np
import pytest

from tests.conftest import default_signals
from ulmfit_tf import cli
from ulmfit_tf import datasets
from ulmfit_tf import stages
from ulmfit_tf.batch_predict import chunks
from ulmfit_tf.batch_predict import file_texts
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.model_directory import save_model_directory
from ulmfit_tf.models import AWDLSTMBackbone
from ulmfit_tf.models import ULMFiTLanguageModel
from ulmfit_tf.models import ULMFiTTextClassifier
from ulmfit_tf.text import SentencePieceTokenizer

_WORDS = ["the", "film", "cast", "plot", "and", "a", "story", "its", "fine", "dull", "moving", "slow"]
_RNG = np.random.default_rng(0)
# Lengths from 0 to 60 words, shuffled: batches by length reorder them.
TEXTS = [" ".join(_RNG.choice(_WORDS, size=int(n)).tolist()) for n in _RNG.integers(0, 60, size=90)]


def tiny_classifier(tokenizer, seed):
    backbone = AWDLSTMBackbone(tokenizer.vocabulary_size(), embedding_dim=8, hidden_dim=12, num_layers=2, seed=seed)
    return ULMFiTTextClassifier.from_language_model(
        ULMFiTLanguageModel(backbone), 2, preprocessor=tokenizer, label_names=["rotten", "fresh"], seed=seed
    )


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch_predict")
    tokenizer = SentencePieceTokenizer.train([f"{t} {i}" for i, t in enumerate(TEXTS * 3)], vocabulary_size=60)
    classifiers = [tiny_classifier(tokenizer, seed) for seed in (1, 2)]
    folder = str(save_model_directory(classifiers[0], str(root / "clf"), "classifier"))
    texts = root / "texts.txt"
    texts.write_text("\n".join(text or "-" for text in TEXTS) + "\n")
    return {"root": root, "classifiers": classifiers, "folder": folder, "texts": str(texts)}


def test_predictions_equal_keras_predict_in_input_order(models):
    classifiers = models["classifiers"]
    expected = np.mean([np.asarray(m.probabilities(m.predict(TEXTS, batch_size=7, verbose=0))) for m in classifiers], 0)
    labels, probabilities = stages.predict(classifiers, TEXTS, batch_size=16)
    np.testing.assert_allclose(probabilities, expected, atol=1e-6)
    assert labels == [["rotten", "fresh"][i] for i in expected.argmax(1)]
    streamed = np.concatenate([stages.predict(classifiers, chunk, batch_size=4)[1] for chunk in chunks(TEXTS, 13)])
    np.testing.assert_allclose(streamed, expected, atol=1e-6)
    assert stages.predict(classifiers, [])[1].shape == (0, 2)


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_the_command_streams_rows_in_order_and_shows_texts_per_second(models, capsys):
    output = models["root"] / "out" / "predictions.csv"
    argv = ["predict", "--model", models["folder"], "--data", models["texts"], "--chunk-size", "8", "--batch-size", "4"]
    assert cli.main(argv + ["--output", str(output)]) == 0
    out, err = capsys.readouterr()
    assert f"predicted {len(TEXTS)} texts in " in err and "texts/s)" in err
    rows = read_rows(output)
    assert rows[0] == ["text", "label", "p_rotten", "p_fresh"]
    assert [row[0] for row in rows[1:]] == [text or "-" for text in TEXTS]
    expected = stages.predict(models["classifiers"][0], [text or "-" for text in TEXTS])[1]
    np.testing.assert_allclose(np.array([row[2:] for row in rows[1:]], float), expected, atol=1e-6)
    assert not os.path.exists(str(output) + ".partial") and not os.path.exists(str(output) + ".lock")
    assert cli.main(argv + ["--quiet"]) == 0  # printed: the same rows, no progress
    out, err = capsys.readouterr()
    assert [line.split("\t")[-1] for line in out.splitlines()[1:]] == [text or "-" for text in TEXTS]
    assert "texts/s" not in err


def test_a_partial_file_not_ours_is_never_replaced(models, capsys):
    output = models["root"] / "mine.csv"
    (models["root"] / "mine.csv.partial").write_text("my notes\n")
    code = cli.main(["predict", "--model", models["folder"], "--text", "Fine.", "--output", str(output)])
    assert code == 2 and "is not the rows of an interrupted `ulmfit-tf predict`" in capsys.readouterr().err
    assert (models["root"] / "mine.csv.partial").read_text() == "my notes\n" and not output.exists()


def test_table_texts_are_streamed_with_read_tables_checks(tmp_path):
    rows = [{"text": f'row {i}, "quoted"\nline', "label": "a"} for i in range(5)]
    path = tmp_path / "t.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, ["text", "label"])
        writer.writeheader()
        writer.writerows(rows)
    assert list(file_texts(str(path))) == datasets.read_table(path, label_column=None)["texts"]
    broken = tmp_path / "broken.csv"
    broken.write_bytes(b'text\nfine\n"never closed\nmore\n')
    bad_bytes = tmp_path / "bytes.jsonl"
    bad_bytes.write_bytes(b'{"text": "ok"}\n{"text": "\xff"}\n')
    for path in (broken, bad_bytes, tmp_path / "empty.tsv"):
        path.touch()
        with pytest.raises(UserInputError) as whole:
            datasets.read_table(path, label_column=None)
        with pytest.raises(UserInputError) as streamed:
            list(file_texts(str(path)))
        assert str(streamed.value) == str(whole.value)


def test_the_reader_holds_one_chunk_not_the_file(tmp_path):
    path = tmp_path / "many.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(f'{{"text": "review number {i} of many, long enough to count"}}\n' for i in range(50_000))
    tracemalloc.start()
    try:
        count = sum(len(chunk) for chunk in chunks(file_texts(str(path)), 1000))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 50_000
    assert peak < os.path.getsize(path) / 10, (peak, os.path.getsize(path))  # the file is 3.4 MB


CHILD = textwrap.dedent(
    """
    import sys, time
    from ulmfit_tf import cli
    from ulmfit_tf.prediction_output import PredictionRows

    write = PredictionRows.write

    def write_then_pause(self, *args):
        write(self, *args)
        if self.count == 24:  # three chunks of 8
            print("paused", flush=True)
            time.sleep(120)

    PredictionRows.write = write_then_pause
    sys.exit(cli.main(sys.argv[1:]))
    """
)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_leaves_a_complete_prefix_of_rows_and_says_how_many(models, tmp_path, signum):
    script, output = tmp_path / "child.py", tmp_path / "p.csv"
    script.write_text(CHILD)
    argv = ["predict", "--model", models["folder"], "--data", models["texts"], "--chunk-size", "8", "--output",
            str(output)]
    child = subprocess.Popen([sys.executable, str(script)] + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, preexec_fn=default_signals)
    assert any("paused" in line for line in child.stdout), child.stderr.read()
    child.send_signal(signum)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 128 + signum and "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == (
        f"ulmfit-tf predict: interrupted by {signal.Signals(signum).name}: the first 24 rows (texts 1 to 24, in order) "
        f"are in {str(output) + '.partial'!r}; run the same command again to predict them all."
    )
    rows = read_rows(str(output) + ".partial")
    assert [row[0] for row in rows[1:]] == [text or "-" for text in TEXTS[:24]] and not output.exists()
    assert cli.main(argv) == 0 and len(read_rows(output)) == len(TEXTS) + 1  # a rerun replaces the partial file
    assert not os.path.exists(str(output) + ".partial")


@pytest.mark.slow
def test_a_kill_mid_run_cuts_the_file_at_a_row_boundary(models, tmp_path):
    lines = [f"{TEXTS[i % len(TEXTS)] or '-'} {i}" for i in range(200_000)]
    data, output = tmp_path / "many.txt", tmp_path / "p.csv"
    data.write_text("\n".join(lines) + "\n")
    child = subprocess.Popen([sys.executable, "-m", "ulmfit_tf.cli", "predict", "--model", models["folder"], "--data",
                              str(data), "--chunk-size", "512", "--output", str(output)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_signals)
    partial = str(output) + ".partial"
    deadline = time.monotonic() + 300
    while not (os.path.exists(partial) and os.path.getsize(partial) > 100_000) and time.monotonic() < deadline:
        time.sleep(0.05)
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 128 + signal.SIGTERM, err
    count = int(err.strip().splitlines()[-1].split("the first ")[1].split(" rows")[0].replace(",", ""))
    rows = read_rows(partial)
    assert count >= 512 and len(rows) == count + 1 and [row[0] for row in rows[1:]] == lines[:count]


@pytest.mark.slow
def test_memory_stays_flat_from_20_000_to_200_000_lines(models, tmp_path):
    def peak_rss_mb(count):
        data = tmp_path / f"{count}.txt"
        data.write_text("".join(f"{TEXTS[i % len(TEXTS)] or '-'} review {i}\n" for i in range(count)))
        script = ("import resource, sys; from ulmfit_tf import cli; assert cli.main(sys.argv[1:]) == 0; "
                  "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
        result = subprocess.run([sys.executable, "-c", script, "predict", "--model", models["folder"], "--data",
                                 str(data), "--output", str(tmp_path / f"{count}.csv"), "--quiet"],
                                capture_output=True, text=True, check=True)
        return int(result.stdout.split()[-1]) / 1024

    small, large = peak_rss_mb(20_000), peak_rss_mb(200_000)  # files of 0.6 and 6.4 MB; rows held would be ~100 MB
    assert large - small < 25, (small, large)
