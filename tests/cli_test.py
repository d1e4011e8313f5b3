import csv
import json
import os
import subprocess
import sys

import pytest

from ulmfit_tf import cli
from ulmfit_tf import datasets
from ulmfit_tf import demo
from ulmfit_tf.folders import read_manifest
from ulmfit_tf.model_directory import load_model_directory

TINY_LM = ["--vocabulary-size", "200", "--embedding-dim", "8", "--hidden-dim", "16", "--num-layers", "2",
           "--batch-size", "8", "--bptt", "16", "--quiet"]


def write_csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return str(path)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    reviews = datasets.load_rotten_tomatoes()
    names = reviews["label_names"]

    def rows(split, n):
        return list(zip(reviews[split]["texts"][:n], [names[i] for i in reviews[split]["labels"][:n]]))

    corpus = root / "news.txt"
    corpus.write_text("\n".join(a["text"].replace("\n", " ") for a in datasets.load_news_articles()[:40]))
    return {
        "root": root,
        "corpus": str(corpus),
        "train": write_csv(root / "train.csv", rows("train", 160)),
        "test": write_csv(root / "test.csv", rows("test", 48)),
    }


def run(argv, capsys):
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_the_stages_from_the_command_line(files, capsys):
    root = files["root"]
    lm, tuned, classifier = str(root / "lm"), str(root / "tuned"), str(root / "classifier")
    code, out, err = run(["pretrain", "--texts", files["corpus"], "--output", lm] + TINY_LM, capsys)
    assert code == 0, err
    assert "saved language model" in out and "loss" in out
    code, out, err = run(["finetune-lm", "--language-model", lm, "--texts", files["train"], "--output", tuned,
                          "--batch-size", "8", "--bptt", "16", "--quiet"], capsys)
    assert code == 0, err
    one_rate = str(root / "tuned_one_rate")
    code, out, err = run(["finetune-lm", "--language-model", lm, "--texts", files["train"], "--output", one_rate,
                          "--batch-size", "8", "--bptt", "16", "--factor", "1", "--quiet"], capsys)
    assert code == 0, err
    assert read_manifest(tuned)["fingerprint"]["factor"] == 2.6
    assert read_manifest(one_rate)["fingerprint"]["factor"] == 1.0
    code, out, err = run(["fit-classifier", "--language-model", tuned, "--train", files["train"],
                          "--validation", files["test"], "--output", classifier, "--epochs", "2",
                          "--batch-size", "16", "--restore-best-weights", "--quiet"], capsys)
    assert code == 0, err
    assert "val_accuracy" in out and "restored epoch" in out
    assert read_manifest(classifier)["fingerprint"]["restore_best_weights"] is True
    code, out, err = run(["evaluate", "--model", classifier, "--data", files["test"]], capsys)
    assert code == 0, err
    assert "accuracy" in out and "count" in out
    predictions = str(root / "predictions.csv")
    code, out, err = run(["predict", "--model", classifier, "--data", files["test"], "--output", predictions], capsys)
    assert code == 0, err
    with open(predictions, newline="") as f:
        table = list(csv.DictReader(f))
    assert len(table) == 48 and set(table[0]) == {"text", "label", "p_fresh", "p_rotten"}
    assert abs(float(table[0]["p_fresh"]) + float(table[0]["p_rotten"]) - 1) < 1e-5
    code, out, err = run(["predict", "--model", classifier, classifier, "--text", "A triumph.", "--text", ""], capsys)
    assert code == 0, err
    assert len(out.strip().splitlines()) == 3
    # Export, then predict with the exported files: the same answers.
    tflite, serving = str(root / "clf.tflite"), str(root / "serving")
    code, out, err = run(["export", "--model", classifier, "--saved-model", serving, "--tflite", tflite,
                          "--quantization", "none"], capsys)
    assert code == 0, err
    assert "SavedModel" in out and "TFLite (none)" in out and os.path.getsize(tflite) > 0
    texts = ["--text", "A triumph.", "--text", "A mess."]
    answers = [run(["predict", "--model", model] + texts, capsys) for model in (classifier, tflite, serving + "/1")]
    assert [code for code, _, _ in answers] == [0, 0, 0]
    tables = [[line.split("\t") for line in out.strip().splitlines()] for _, out, _ in answers]
    assert tables[0][0] == tables[1][0] == tables[2][0]
    for rows in tables[1:]:
        for row, expected in zip(rows[1:], tables[0][1:]):
            assert row[0] == expected[0] and abs(float(row[1]) - float(expected[1])) < 1e-5
    plot = str(root / "lr.png")
    code, out, err = run(["lr-find", "--language-model", tuned, "--train", files["train"], "--plot", plot,
                          "--batch-size", "16", "--num-steps", "20", "--quiet"], capsys)
    assert code == 0, err
    assert os.path.getsize(plot) > 0 and "valley" in out

    # Bad input: one line on stderr, exit status 2.
    unknown_label = write_csv(root / "unknown.csv", [("Fine.", "fresh"), ("Odd.", "lukewarm")])
    for argv, message in [
        (["evaluate", "--model", classifier, "--data", str(root / "missing.csv")], "missing.csv"),
        (["evaluate", "--model", classifier, "--data", unknown_label],
         f"{unknown_label}: labels the model does not know: 'lukewarm'; its labels are fresh, rotten."),
        (["evaluate", "--model", classifier, "--data", files["test"], "--label-column", "stars"], "stars"),
        (["fit-classifier", "--language-model", classifier, "--train", files["train"], "--output", str(root / "x")],
         "holds a ULMFiTTextClassifier, not a ULMFiTLanguageModel"),
        (["fit-classifier", "--language-model", tuned, "--train", files["train"], "--output", str(root / "x"),
          "--restore-best-weights"], "--restore-best-weights needs --validation FILE to choose the epoch on."),
        (["export", "--model", classifier], "Nothing to export"),
        (["export", "--model", classifier, "--tflite", str(root / "y.tflite"), "--quantization", "int8"],
         "needs `--representative-data FILE`"),
        (["predict", "--model", files["train"], "--text", "Hi"], "is not a TFLite model file"),
        (["predict", "--model", tflite, classifier, "--text", "Hi"], "is used alone"),
    ]:
        code, out, err = run(argv, capsys)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, (argv, err)


def test_bad_input_never_shows_a_traceback(files, tmp_path, capsys):
    old = tmp_path / "old_model"
    old.mkdir()
    (old / "ulmfit_tf.json").write_text(json.dumps({"format": 0, "kind": "classifier", "ulmfit_tf": "0.0.1"}))
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    header_only = write_csv(tmp_path / "header.csv", [])
    cases = [
        (["predict", "--model", str(old), "--text", "Hi"], "written by ulmfit-tf 0.0.1 in folder format 0"),
        (["predict", "--model", str(tmp_path / "nowhere"), "--text", "Hi"], "No model folder"),
        (["pretrain", "--texts", str(empty), "--output", str(tmp_path / "lm")], "No texts in"),
        (["fit-classifier", "--language-model", str(old), "--train", files["train"], "--output", str(tmp_path / "c")],
         "written by ulmfit-tf 0.0.1"),
        (["fit-classifier", "--language-model", str(old), "--train", header_only, "--output", str(tmp_path / "c")],
         "header.csv: the file has a header but no rows"),  # the data is read before any model is loaded
    ]
    for argv, message in cases:
        code, out, err = run(argv, capsys)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, (argv, err)
    # The installed entry point, as a user runs it.
    result = subprocess.run(
        [sys.executable, "-m", "ulmfit_tf.cli", "evaluate", "--model", str(old), "--data", header_only],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("ulmfit-tf evaluate: error:")


def test_demo_runs_the_whole_pipeline_on_the_bundled_data(tmp_path, capsys):
    argv = ["--recipe", "tiny", "--limit", "120", "--output", str(tmp_path / "demo"), "--quiet"]
    code = demo.main(argv)
    out = capsys.readouterr().out
    assert code == 0
    assert "test accuracy (120 texts)" in out and "validation perplexity per token, fine-tuned LM" in out
    assert "tflite_dynamic_int8 test accuracy, size" in out and "saved_model test accuracy, size" in out
    by_stage = next(line for line in out.splitlines() if line.startswith("minutes by stage"))
    assert [part.split()[0] for part in by_stage.split("  ", 1)[1].strip().split(", ")] == [
        "language_model", "finetuned_language_model", "classifier", "test", "export", "perplexity",
    ]
    assert sorted(os.listdir(tmp_path / "demo")) == [  # the checkpoints are gone after a run that ended well
        "forward_classifier", "forward_classifier.dynamic_int8.tflite", "forward_finetuned_language_model",
        "forward_language_model", "forward_saved_model", "ulmfit_tf.json",
    ]
    # Rerunning resumes: every stage is loaded, none retrained.
    assert demo.main(argv) == 0
    assert capsys.readouterr().out.count("already done") == 3
    # Another seed is another run: the first stage folder is not reused silently.
    code = demo.main(argv + ["--seed", "7"])
    err = capsys.readouterr().err
    assert code == 2 and "forward_language_model' was made with other settings or data (seed 42 -> 7; texts changed; validation changed)" in err


def test_pipeline_fine_tunes_a_given_language_model_without_pretraining(files, tmp_path, capsys):
    lm = str(tmp_path / "lm")
    assert run(["pretrain", "--texts", files["corpus"], "--output", lm] + TINY_LM, capsys)[0] == 0
    output = str(tmp_path / "pipeline")
    argv = ["pipeline", "--language-model", lm, "--train", files["train"], "--test", files["test"], "--recipe",
            "tiny", "--output", output, "--quiet", "--finetune-epochs", "1", "--classifier-epochs", "1"]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    assert f"[language_model] starting from {lm!r} (no pretraining)" in out
    assert "pretraining corpus" not in out
    assert sorted(os.listdir(output)) == [
        "forward_classifier", "forward_classifier.dynamic_int8.tflite", "forward_finetuned_language_model",
        "forward_saved_model", "ulmfit_tf.json",
    ]
    tuned = load_model_directory(os.path.join(output, "forward_finetuned_language_model"), "language_model")
    assert tuned.backbone.vocabulary_size == load_model_directory(lm, "language_model").backbone.vocabulary_size
    # The epochs given are the stage's: its fingerprint records them, so another value retrains it.
    code, out, err = run(argv[:-1] + ["2"], capsys)
    assert code == 2 and "epochs 1 -> 2" in err
    code, out, err = run(argv + ["--classifier-min-steps", "50"], capsys)
    assert code == 2 and "min_steps None -> 50" in err
    code, out, err = run(argv + ["--pretrain"], capsys)
    assert code == 2 and err.strip().endswith("Give --language-model (fine-tune it) or --pretrain (pretrain one), not both.")
    code, out, err = run(argv + ["--pretrain-texts", files["corpus"]], capsys)
    assert code == 2 and "--pretrain-texts is for --pretrain" in err


@pytest.mark.slow
def test_default_demo(tmp_path):
    assert demo.main(["--output", str(tmp_path / "demo"), "--quiet"]) == 0


def test_pretrain_streams_files_under_a_strategy_and_mixed_precision(files, capsys):
    root = files["root"]
    output = str(root / "streamed_lm")
    code, out, err = run(
        ["pretrain", "--stream", "--texts", str(root / "news*.txt"), "--output", output,
         "--strategy", "mirrored", "--dtype-policy", "mixed_bfloat16"] + TINY_LM,
        capsys,
    )
    assert code == 0, err
    assert "saved language model" in out
    # The policy is a training setting: the saved model loads in float32.
    model = load_model_directory(output, "language_model")
    assert model.backbone.lstm_layers[0].compute_dtype == "float32"
    code, out, err = run(["pretrain", "--stream", "--texts", "a*.txt", "b*.txt", "--output", output] + TINY_LM, capsys)
    assert code == 2 and "one glob pattern" in err


def test_pretrain_from_a_given_tokenizer_and_embeddings_in_checkpointed_parts(files, tmp_path, capsys):
    import numpy as np

    from ulmfit_tf.fingerprint import digest
    from ulmfit_tf.text import SentencePieceTokenizer

    news = open(files["corpus"], encoding="utf-8").read().splitlines()
    tokenizer = SentencePieceTokenizer.train(news, vocabulary_size=200, case_fold=True)
    (tmp_path / "sp.model").write_bytes(tokenizer.proto)
    embeddings = np.random.default_rng(0).normal(size=(200, 8)).astype("float32")
    np.save(tmp_path / "vectors.npy", embeddings)
    given = ["--texts", files["corpus"], "--tokenizer", str(tmp_path / "sp.model")] + TINY_LM
    output = str(tmp_path / "lm")
    code, out, err = run(
        ["pretrain", "--output", output, "--embeddings", str(tmp_path / "vectors.npy"), "--checkpoint-every", "40"]
        + given, capsys,
    )
    assert code == 0, err
    model = load_model_directory(output, "language_model")
    assert model.preprocessor.tokenizer.proto == tokenizer.proto
    fingerprint = read_manifest(output)["fingerprint"]
    assert fingerprint["embeddings"] == digest([embeddings]) and fingerprint["checkpoint_every"] == 40
    (tmp_path / "wrong.npy").write_bytes(b"not an array")
    np.save(tmp_path / "narrow.npy", embeddings[:, :7])
    for extra, message in [
        (["--embeddings", str(tmp_path / "wrong.npy")], f"--embeddings {tmp_path / 'wrong.npy'}: not a .npy array"),
        (["--embeddings", str(tmp_path / "narrow.npy")],
         "Argument `embeddings` must have shape (vocabulary_size, embedding_dim) = (200, 8). "
         "Received: embeddings.shape=(200, 7)"),
        (["--case-fold"], "--case-fold trains a new SentencePiece model: give it or --tokenizer, not both."),
    ]:
        code, out, err = run(["pretrain", "--output", str(tmp_path / "bad")] + extra + given, capsys)
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, (extra, err)
        assert not os.path.exists(tmp_path / "bad")
