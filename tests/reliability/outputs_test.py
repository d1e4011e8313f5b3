"""A user's files are never lost, a rerun never returns a stale model, bad input is one line.

Each case asserts the exact outcome: the message, the exit status, the
files left on disk and, for reruns, whether the weights were retrained.
"""

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from ulmfit_tf import cli
from ulmfit_tf import datasets
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.folders import MANIFEST
from ulmfit_tf.folders import check_output
from ulmfit_tf.folders import write_folder_atomically
from ulmfit_tf.model_directory import load_model_directory

TINY_LM = ["--vocabulary-size", "200", "--embedding-dim", "8", "--hidden-dim", "16", "--num-layers", "2",
           "--batch-size", "8", "--bptt", "16", "--quiet"]
CLASSIFIER = ["--epochs", "1", "--batch-size", "16", "--quiet"]


def listing(folder):
    return sorted(os.listdir(folder))


def run(argv, capsys):
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, err, command, message):
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"ulmfit-tf {command}: error: "), err
    assert message in lines[0], lines[0]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("reliability")
    reviews = datasets.load_rotten_tomatoes()
    names = reviews["label_names"]

    def write_csv(name, split, n):
        path = root / name
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["text", "label"])
            writer.writerows(zip(reviews[split]["texts"][:n], [names[i] for i in reviews[split]["labels"][:n]]))
        return str(path)

    corpus = root / "news.txt"
    corpus.write_text("\n".join(a["text"].replace("\n", " ") for a in datasets.load_news_articles()[:30]))
    other = root / "other.txt"
    other.write_text("\n".join(a["text"].replace("\n", " ") for a in datasets.load_news_articles()[30:60]))
    lm = str(root / "lm")
    assert cli.main(["pretrain", "--texts", str(corpus), "--output", lm] + TINY_LM) == 0
    return {"root": root, "corpus": str(corpus), "other": str(other), "lm": lm,
            "train": write_csv("train.csv", "train", 96), "test": write_csv("test.csv", "test", 32)}


@pytest.fixture(scope="module")
def classifier(files):
    path = str(files["root"] / "classifier")
    assert cli.main(["fit-classifier", "--language-model", files["lm"], "--train", files["train"],
                     "--output", path] + CLASSIFIER) == 0
    return path


# === Outputs: never delete what we did not write ===


def test_output_dot_deletes_nothing(files, tmp_path, monkeypatch, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["fit-classifier", "--language-model", files["lm"], "--train", files["train"],
                        "--output", "."] + CLASSIFIER, capsys)
    one_line_error(code, err, "fit-classifier", "'.' is the current folder or above it")
    assert listing(tmp_path) == ["notes.txt"]


def test_output_with_user_files_or_another_kind_is_refused(files, classifier, tmp_path, capsys):
    user = tmp_path / "my_folder"
    user.mkdir()
    (user / "data.csv").write_text("a,b\n")
    base = ["fit-classifier", "--language-model", files["lm"], "--train", files["train"]] + CLASSIFIER
    code, _, err = run(base + ["--output", str(user)], capsys)
    one_line_error(code, err, "fit-classifier", "already holds files ulmfit-tf did not write")
    assert listing(user) == ["data.csv"]
    before = listing(files["lm"])
    code, _, err = run(base + ["--output", files["lm"], "--overwrite"], capsys)
    one_line_error(code, err, "fit-classifier", "holds a language model written by ulmfit-tf, not a classifier")
    assert listing(files["lm"]) == before
    link = tmp_path / "link"
    link.symlink_to(user, target_is_directory=True)
    code, _, err = run(base + ["--output", str(link)], capsys)
    one_line_error(code, err, "fit-classifier", "is a symbolic link")
    code, _, err = run(base + ["--output", str(user / "data.csv" / "model")], capsys)
    one_line_error(code, err, "fit-classifier", "data.csv' is a file, not a folder")
    code, _, err = run(base + ["--output", files["train"]], capsys)
    one_line_error(code, err, "fit-classifier", "train.csv' is a file; give a folder path")
    assert listing(user) == ["data.csv"]


def test_rerun_needs_overwrite_and_retrains(files, classifier, capsys):
    model_path = os.path.join(classifier, "classifier.keras")
    before = os.path.getmtime(model_path)
    argv = ["fit-classifier", "--language-model", files["lm"], "--train", files["train"], "--output", classifier]
    code, _, err = run(argv + CLASSIFIER, capsys)
    one_line_error(code, err, "fit-classifier", "already holds a classifier: pass --overwrite")
    assert os.path.getmtime(model_path) == before
    old = load_model_directory(classifier).get_weights()
    code, _, err = run(argv + CLASSIFIER + ["--overwrite", "--seed", "5"], capsys)
    assert code == 0, err
    new = load_model_directory(classifier).get_weights()
    assert max(float(np.abs(a - b).max()) for a, b in zip(old, new)) > 0  # retrained, not the old weights
    assert not os.path.exists(classifier + ".checkpoints") and not os.path.exists(classifier + ".lock")


def test_checkpoints_sit_beside_the_output_and_a_changed_rerun_is_refused(files, tmp_path, capsys):
    output = str(tmp_path / "clf") + "/"  # a trailing slash must not put checkpoints inside
    argv = ["fit-classifier", "--language-model", files["lm"], "--train", files["train"], "--output", output]
    code, _, err = run(argv + CLASSIFIER + ["--keep-checkpoints"], capsys)
    assert code == 0, err
    assert listing(tmp_path) == ["clf", "clf.checkpoints"]
    assert listing(tmp_path / "clf") == ["classifier.keras", MANIFEST]
    assert listing(tmp_path / "clf.checkpoints") == ["epoch_0001"]
    # Other settings with the old checkpoint: refused, naming what changed; nothing is replaced.
    code, _, err = run(argv + CLASSIFIER + ["--overwrite", "--learning-rate", "0.02"], capsys)
    one_line_error(code, err, "fit-classifier", "(learning_rate 0.01 -> 0.02)")
    assert f"delete '{tmp_path / 'clf.checkpoints'}' to start over" in err
    other_labels = tmp_path / "labels.csv"
    other_labels.write_text(open(files["train"]).read().replace(",fresh", ",good").replace(",rotten", ",bad"))
    code, _, err = run(["fit-classifier", "--language-model", files["lm"], "--train", str(other_labels),
                        "--output", output, "--overwrite"] + CLASSIFIER, capsys)
    one_line_error(code, err, "fit-classifier", "(labels changed)")
    # The same settings resume from the last checkpoint: the same weights.
    old = load_model_directory(output).get_weights()
    code, _, err = run(argv + CLASSIFIER + ["--overwrite"], capsys)
    assert code == 0, err
    for a, b in zip(old, load_model_directory(output).get_weights()):
        np.testing.assert_array_equal(a, b)
    assert listing(tmp_path) == ["clf", "labels.csv"]


def test_pretrain_on_another_corpus_does_not_reuse_the_old_weights(files, tmp_path, capsys):
    output = str(tmp_path / "lm")
    code, _, err = run(["pretrain", "--texts", files["corpus"], "--output", output, "--keep-checkpoints"] + TINY_LM, capsys)
    assert code == 0, err
    code, _, err = run(["pretrain", "--texts", files["other"], "--output", output, "--overwrite"] + TINY_LM, capsys)
    one_line_error(code, err, "pretrain", "(texts changed)")  # the tokenizer it trains follows the texts


def test_export_never_replaces_what_it_did_not_write(classifier, tmp_path, capsys):
    serving = tmp_path / "serving"
    code, _, err = run(["export", "--model", classifier, "--saved-model", str(serving)], capsys)
    assert code == 0, err
    code, _, err = run(["export", "--model", classifier, "--saved-model", str(serving)], capsys)
    one_line_error(code, err, "export", "already holds a saved model: pass --overwrite")
    code, _, err = run(["export", "--model", classifier, "--saved-model", str(serving), "--overwrite"], capsys)
    assert code == 0, err
    (serving / "2").mkdir()
    (serving / "2" / "keep.txt").write_text("mine")
    code, _, err = run(["export", "--model", classifier, "--saved-model", str(serving), "--version", "2",
                        "--overwrite"], capsys)
    one_line_error(code, err, "export", "already holds files ulmfit-tf did not write")
    assert listing(serving / "2") == ["keep.txt"]
    tflite = tmp_path / "model.tflite"
    tflite.write_text("mine")
    code, _, err = run(["export", "--model", classifier, "--tflite", str(tflite)], capsys)
    one_line_error(code, err, "export", "model.tflite' already exists: pass --overwrite")
    assert tflite.read_text() == "mine"
    # `predict` takes the base folder and picks the highest version, as TF Serving does.
    code, out, err = run(["predict", "--model", str(serving), "--text", "A fine film."], capsys)
    assert code == 0 and out.splitlines()[1].endswith("\tA fine film."), err


def test_evaluate_takes_every_format_predict_takes(files, classifier, tmp_path, capsys):
    serving, tflite = tmp_path / "serving", tmp_path / "clf.tflite"
    assert cli.main(["export", "--model", classifier, "--saved-model", str(serving), "--tflite", str(tflite),
                     "--quantization", "none"]) == 0
    capsys.readouterr()
    accuracies = []
    for model in (classifier, str(serving), str(tflite)):
        code, out, err = run(["evaluate", "--model", model, "--data", files["test"], "--json"], capsys)
        assert code == 0, err
        metrics = json.loads(out)
        assert metrics["count"] == 32
        accuracies.append(metrics["accuracy"])
    assert accuracies[0] == accuracies[1] == accuracies[2]


def test_finetune_takes_the_language_model_s_settings(files, tmp_path, capsys):
    output = str(tmp_path / "tuned")
    code, _, err = run(["finetune-lm", "--language-model", files["lm"], "--texts", files["train"], "--output",
                        output, "--quiet"], capsys)
    assert code == 0, err
    fingerprint = json.loads((tmp_path / "tuned" / MANIFEST).read_text())["fingerprint"]
    assert (fingerprint["batch_size"], fingerprint["bptt"]) == (8, 16)  # pretrained with --batch-size 8 --bptt 16


WRITER = textwrap.dedent(
    """
    import os, signal, sys, time
    from ulmfit_tf.folders import exclusive, write_folder_atomically
    target, mode = sys.argv[1:3]

    def write(folder):
        with open(os.path.join(folder, "half.txt"), "w") as f:
            f.write("new")
        if mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)

    if mode == "hold":
        with exclusive(target):
            print("holding", flush=True)
            time.sleep(60)
    else:
        write_folder_atomically(target, write, "preset", overwrite=True)
    """
)


def test_a_kill_leaves_the_old_folder_whole_and_one_writer_at_a_time(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    target = tmp_path / "out"
    write_folder_atomically(target, lambda folder: (target.parent / "x").write_text("") or open(
        os.path.join(folder, "old.txt"), "w").write("old"), "preset")
    killed = subprocess.run([sys.executable, str(script), str(target), "kill"], capture_output=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL
    assert listing(target) == ["old.txt", MANIFEST]  # the old folder, whole
    stale = [name for name in os.listdir(tmp_path) if name.endswith(".partial")]
    assert len(stale) == 1
    finished = subprocess.run([sys.executable, str(script), str(target), "write"], capture_output=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert listing(target) == ["half.txt", MANIFEST]
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".partial") or name.endswith(".lock")]
    holder = subprocess.Popen([sys.executable, str(script), str(target), "hold"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(UserInputError, match=r"Another ulmfit-tf run is writing '.*out' \(it holds '.*out.lock'\)"):
            write_folder_atomically(target, lambda folder: None, "preset", overwrite=True)
    finally:
        holder.kill()
        holder.wait()
    write_folder_atomically(target, lambda folder: None, "preset", overwrite=True)  # a killed holder frees it
    assert listing(target) == [MANIFEST]


def test_check_output_messages(tmp_path):
    (tmp_path / "ours").mkdir()
    (tmp_path / "ours" / MANIFEST).write_text(json.dumps({"format": 1, "kind": "classifier"}))
    check_output(tmp_path / "new", "classifier")
    check_output(tmp_path / "ours", "classifier", overwrite=True)
    with pytest.raises(UserInputError, match="already holds a classifier: pass --overwrite"):
        check_output(tmp_path / "ours", "classifier")
    with pytest.raises(UserInputError, match="holds a classifier written by ulmfit-tf, not a preset"):
        check_output(tmp_path / "ours", "preset", overwrite=True)


# === Bad input: one line, exit status 2, found before training ===


@pytest.mark.parametrize("argv, message", [
    (["pretrain", "--texts", "x.txt", "--output", "o", "--batch-size", "0"],
     "argument --batch-size: must be a positive integer (got '0')"),
    (["pretrain", "--texts", "x.txt", "--output", "o", "--bptt", "0"],
     "argument --bptt: must be a positive integer (got '0')"),
    (["pretrain", "--texts", "x.txt", "--output", "o", "--epochs", "0"],
     "argument --epochs: must be a positive integer (got '0')"),
    (["pretrain", "--texts", "x.txt", "--output", "o", "--vocabulary-size", "0"],
     "argument --vocabulary-size: must be a positive integer (got '0')"),
    (["pretrain", "--texts", "x.txt", "--output", "o", "--learning-rate", "-1"],
     "argument --learning-rate: must be a positive number (got '-1')"),
    (["lr-find", "--language-model", "m", "--train", "t.csv", "--batch-size", "-5"],
     "argument --batch-size: must be a positive integer (got '-5')"),
    (["lr-find", "--language-model", "m", "--train", "t.csv", "--batch-size", "0"],
     "argument --batch-size: must be a positive integer (got '0')"),
])
def test_argument_checks(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    _, err = capsys.readouterr()
    assert exit_info.value.code == 2
    assert err.splitlines() == [f"ulmfit-tf {argv[0]}: error: {message}"]


def test_problems_found_before_any_training(files, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    start = time.time()
    cases = [
        (["pretrain", "--texts", files["corpus"], "--output", str(blocker / "lm")] + TINY_LM, "is a file, not a folder"),
        (["lr-find", "--language-model", files["lm"], "--train", files["train"], "--plot", str(blocker / "p.png")],
         "is a file, not a folder"),
        (["export", "--model", files["lm"], "--tflite", str(blocker / "m.tflite")], "is a file, not a folder"),
    ]
    for argv, message in cases:
        code, _, err = run(argv, capsys)
        one_line_error(code, err, argv[0], message)
    unseen = tmp_path / "unseen.csv"
    unseen.write_text("text,label\nFine.,fresh\nOdd.,lukewarm\n")
    code, _, err = run(["pipeline", "--train", files["train"], "--test", str(unseen), "--output",
                        str(tmp_path / "run"), "--recipe", "tiny", "--quiet"], capsys)
    one_line_error(code, err, "pipeline", "The test labels ['lukewarm'] never occur in the training labels")
    assert time.time() - start < 60  # no stage ran
    assert not os.path.exists(tmp_path / "run")


def test_corrupt_files_give_one_line(files, classifier, tmp_path, capsys):
    def copy_of(name):
        folder = tmp_path / name
        folder.mkdir()
        for entry in os.listdir(classifier):
            (folder / entry).write_bytes(open(os.path.join(classifier, entry), "rb").read())
        return folder

    flipped = copy_of("flipped")
    data = bytearray((flipped / "classifier.keras").read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = b"\xff" * 64
    (flipped / "classifier.keras").write_bytes(bytes(data))
    cases = [(flipped, "classifier.keras' is corrupt or not a Keras model")]
    for name, manifest, message in [
        ("list", [], "is not an ulmfit-tf manifest (it names no known kind)"),
        ("json", "{not json", "is not valid JSON"),
        ("escape", {"format": 1, "kind": "classifier", "file": "../../etc/passwd"}, "names a file outside itself ('../../etc/passwd')"),
        ("absolute", {"format": 1, "kind": "classifier", "file": "/etc/passwd"}, "names a file outside itself ('/etc/passwd')"),
        ("nofile", {"format": 1, "kind": "classifier"}, None),
        ("wrongkind", {"format": 1, "kind": "classifier", "file": "lm.keras"}, "holds a ULMFiTLanguageModel, but ulmfit_tf.json says it is a classifier"),
    ]:
        folder = copy_of(name)
        (folder / "lm.keras").write_bytes(open(os.path.join(files["lm"], "language_model.keras"), "rb").read())
        (folder / MANIFEST).write_text(manifest if isinstance(manifest, str) else json.dumps(manifest))
        cases.append((folder, message))
    for folder, message in cases:
        code, _, err = run(["predict", "--model", str(folder), "--text", "Fine."], capsys)
        if message is None:  # a manifest without `file` names the usual file
            assert code == 0, err
        else:
            one_line_error(code, err, "predict", message)
    serving = tmp_path / "serving"
    assert cli.main(["export", "--model", classifier, "--saved-model", str(serving)]) == 0
    pb = serving / "1" / "saved_model.pb"
    pb.write_bytes(pb.read_bytes()[:100])
    code, _, err = run(["predict", "--model", str(serving / "1"), "--text", "Fine."], capsys)
    one_line_error(code, err, "predict", "saved_model.pb")


def test_truncated_checkpoint_says_what_to_delete(files, tmp_path, capsys):
    output = str(tmp_path / "clf")
    argv = ["fit-classifier", "--language-model", files["lm"], "--train", files["train"], "--output", output,
            "--keep-checkpoints"] + CLASSIFIER
    assert cli.main(argv) == 0
    weights = tmp_path / "clf.checkpoints" / "epoch_0001" / "model.weights.h5"
    weights.write_bytes(weights.read_bytes()[:1000])
    capsys.readouterr()
    code, _, err = run(argv + ["--overwrite"], capsys)
    one_line_error(code, err, "fit-classifier", f"is damaged (")
    assert f"delete '{tmp_path / 'clf.checkpoints'}' to start the run over" in err


def test_the_command_line_is_quiet_and_quick(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "ulmfit_tf.cli", "evaluate", "--model", str(tmp_path / "nowhere"), "--data", "x.csv"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"ulmfit-tf evaluate: error: x.csv: no such file."
    ] or result.stderr.strip().splitlines() == [f"ulmfit-tf evaluate: error: No model folder at '{tmp_path / 'nowhere'}'."]
    probe = subprocess.run(
        [sys.executable, "-c", "import sys, ulmfit_tf.cli as c; c.build_parser().format_help(); "
         "print('tensorflow' in sys.modules, 'keras' in sys.modules)"],
        capture_output=True, text=True, timeout=120,
    )
    assert probe.stdout.split() == ["False", "False"]  # --help needs no TensorFlow
    help_text = subprocess.run([sys.executable, "-m", "ulmfit_tf.cli", "fit-classifier", "--help"],
                               capture_output=True, text=True, timeout=120).stdout
    assert "(default: 1440)" in help_text and "--overwrite" in help_text and "--keep-checkpoints" in help_text


def test_a_log_file_gets_one_line_per_epoch(files, tmp_path):
    corpus = tmp_path / "news.txt"  # 8 of the articles: two epochs of a few hundred steps
    with open(files["corpus"], encoding="utf-8") as f:
        corpus.write_text("".join(f.readlines()[:8]), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "ulmfit_tf.cli", "pretrain", "--texts", str(corpus), "--output",
         str(tmp_path / "lm"), "--epochs", "2"] + [a for a in TINY_LM if a != "--quiet"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "\r" not in result.stdout and "\b" not in result.stdout
    lines = result.stdout.splitlines()
    assert sum(line.startswith("Epoch ") for line in lines) == 2 and len(lines) < 30, result.stdout


def test_predict_prints_whole_texts_with_newlines_only(classifier, capsys):
    long_text = "A fine film " * 20
    code, out, err = run(["predict", "--model", classifier, "--text", long_text, "--text", "Bad."], capsys)
    assert code == 0, err
    assert "\r" not in out
    rows = out.split("\n")
    assert rows[1].split("\t")[-1] == long_text and rows[2].endswith("\tBad.")
    # Bytes that are not UTF-8 on the command line (Python passes them as surrogate escapes) become U+FFFD.
    invalid = b"caf\xe9 film".decode("utf-8", "surrogateescape")
    code, out, err = run(["predict", "--model", classifier, "--text", invalid], capsys)
    assert code == 0, err
    assert out.split("\n")[1].endswith("\tcaf\ufffd film")


def test_a_document_over_sentencepiece_limit_trains(tmp_path):
    from ulmfit_tf.text import SentencePieceTokenizer

    news = " ".join(a["text"] for a in datasets.load_news_articles()[:600])
    assert len(news.encode()) > 1 << 20  # one document over the trainer's sentence limit
    tokenizer = SentencePieceTokenizer.train([news], vocabulary_size=300)
    assert tokenizer.vocabulary_size() == 300
