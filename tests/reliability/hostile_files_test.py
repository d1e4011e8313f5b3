"""Damaged or hostile model files cost milliseconds and megabytes, and are refused in one line.

Zip bombs, JSON nested 100,000 deep, files swapped, truncated or replaced
by special files: each case asserts the exact message and exit status 2.
"""

import csv
import json
import os
import shutil
import struct
import time
import zipfile

import numpy as np
import pytest

from tests.reliability.outputs_test import CLASSIFIER
from tests.reliability.outputs_test import TINY_LM
from tests.reliability.outputs_test import one_line_error
from tests.reliability.outputs_test import run
from ulmfit_tf import cli
from ulmfit_tf import datasets
from ulmfit_tf.bounded_reading import check_json_depth
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.presets import load_language_model

DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    corpus = root / "news.txt"
    corpus.write_text("\n".join(a["text"].replace("\n", " ") for a in datasets.load_news_articles()[:30]))
    reviews = datasets.load_rotten_tomatoes()
    train = root / "train.csv"
    with open(train, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(zip(reviews["train"]["texts"][:64], [reviews["label_names"][i] for i in reviews["train"]["labels"][:64]]))
    lm, classifier, tflite = root / "lm", root / "clf", root / "clf.tflite"
    assert cli.main(["pretrain", "--texts", str(corpus), "--output", str(lm)] + TINY_LM) == 0
    assert cli.main(["fit-classifier", "--language-model", str(lm), "--train", str(train), "--output",
                     str(classifier)] + CLASSIFIER) == 0
    assert cli.main(["export", "--model", str(classifier), "--tflite", str(tflite)]) == 0
    load_language_model(str(lm)).save_to_preset(str(root / "preset"))
    return {"root": root, "corpus": str(corpus), "train": str(train), "lm": str(lm), "classifier": str(classifier),
            "tflite": str(tflite), "preset": str(root / "preset")}


def copy(source, target):
    shutil.copytree(source, target)
    return target


def rewrite_member(path, member, content):
    """Rewrites a `.keras` archive with `member` replaced by `content`."""
    with zipfile.ZipFile(path) as archive:
        members = [(info, archive.read(info)) for info in archive.infolist()]
    with zipfile.ZipFile(path, "w") as archive:
        for info, data in members:
            archive.writestr(info, content if info.filename == member else data)


def declare_size(path, member, size):
    """Patches the sizes a zip archive declares for `member` (local and central headers), as a zip bomb does."""
    data = bytearray(open(path, "rb").read())
    name = member.encode()
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.find(signature)
        while at >= 0:
            name_at = at + (30 if signature == b"PK\x03\x04" else 46)
            if data[name_at : name_at + len(name)] == name:
                struct.pack_into("<I", data, at + offset, size)
            at = data.find(signature, at + 4)
    open(path, "wb").write(bytes(data))


def predict_error(capsys, model, message):
    start = time.time()
    code, _, err = run(["predict", "--model", str(model), "--text", "Fine."], capsys)
    one_line_error(code, err, "predict", message)
    assert time.time() - start < 10


def test_a_zip_bomb_is_refused_before_anything_is_read(models, tmp_path, capsys):
    folder = copy(models["classifier"], tmp_path / "bomb")
    keras_file = folder / "classifier.keras"
    rewrite_member(keras_file, "config.json", b" " * 3_000_000)
    declare_size(keras_file, "config.json", 3 << 30)
    predict_error(capsys, folder, f"{str(keras_file)!r} is damaged or hostile: its member 'config.json' declares "
                                  "3.0 GiB stored in 2.9 MiB, over the 16.0 MiB it may expand to; write it again.")
    weights = copy(models["classifier"], tmp_path / "weights_bomb")
    declare_size(weights / "classifier.keras", "model.weights.h5", 4_000_000_000)
    predict_error(capsys, weights, "its member 'model.weights.h5' declares 3.7 GiB stored in")


def test_json_nested_100000_deep_is_one_line(models, tmp_path, capsys):
    keras_config = copy(models["classifier"], tmp_path / "keras_config")
    rewrite_member(keras_config / "classifier.keras", "config.json", DEEP)
    predict_error(capsys, keras_config, "classifier.keras:config.json' nests JSON more than 100 levels deep")
    manifest = copy(models["classifier"], tmp_path / "manifest")
    (manifest / "ulmfit_tf.json").write_bytes(DEEP)
    predict_error(capsys, manifest, "ulmfit_tf.json' nests JSON more than 100 levels deep, deeper than any file "
                                    "ulmfit-tf writes; the folder is damaged.")
    for name in ("config.json", "tokenizer.json"):
        preset = copy(models["preset"], tmp_path / name)
        (preset / name).write_bytes(DEEP)
        code, _, err = run(["fit-classifier", "--language-model", str(preset), "--train", models["train"],
                            "--output", str(tmp_path / "out")] + CLASSIFIER, capsys)
        one_line_error(code, err, "fit-classifier", "nests JSON more than 100 levels deep")
    assert not os.path.exists(tmp_path / "out")


def test_json_depth_is_counted_outside_strings_and_quickly():
    check_json_depth(b'["[[[[", {"a": "\\"[[[["}]', "x", max_depth=2)
    with pytest.raises(UserInputError, match="nests JSON more than 2 levels deep"):
        check_json_depth(b'[[["\\\\"]]]', "x", max_depth=2)
    start = time.time()
    check_json_depth(b"[1]," * 4_000_000, "x")
    assert time.time() - start < 5


def test_oversized_json_files_are_not_read(models, tmp_path, capsys):
    manifest = copy(models["classifier"], tmp_path / "huge")
    with open(manifest / "ulmfit_tf.json", "ab") as f:
        f.truncate(100 << 20)  # sparse: 100 MiB declared, nothing stored
    predict_error(capsys, manifest, "ulmfit_tf.json' holds 100.0 MiB, more than the 16.0 MiB ulmfit-tf reads "
                                    "from such a file; the folder is damaged.")
    preset = copy(models["preset"], tmp_path / "preset")
    with open(preset / "assets" / "tokenizer" / "sentencepiece.model", "ab") as f:
        f.truncate(1 << 30)
    code, _, err = run(["fit-classifier", "--language-model", str(preset), "--train", models["train"],
                        "--output", str(tmp_path / "out")] + CLASSIFIER, capsys)
    one_line_error(code, err, "fit-classifier", "sentencepiece.model' holds 1.0 GiB, more than the 16.0 MiB")


@pytest.mark.parametrize("case, message", [
    ("not_zip", "classifier.keras' is corrupt (File is not a zip file); write it again."),
    ("empty", "classifier.keras' is corrupt (File is not a zip file); write it again."),
    ("fifo", "is incomplete: 'classifier.keras' is missing."),  # never opened: reading it would block
    ("dev_zero", "names a file outside itself ('classifier.keras'); the folder is damaged or hostile."),
    ("newer_format", "in folder format 2; this is ulmfit-tf"),
])
def test_damaged_model_folders(models, tmp_path, capsys, case, message):
    folder = copy(models["classifier"], tmp_path / case)
    keras_file = folder / "classifier.keras"
    if case == "not_zip":
        keras_file.write_bytes(b"hello")
    elif case == "empty":
        keras_file.write_bytes(b"")
    elif case == "fifo":
        keras_file.unlink()
        os.mkfifo(keras_file)
    elif case == "dev_zero":
        keras_file.unlink()
        keras_file.symlink_to("/dev/zero")
    else:
        manifest = json.loads((folder / "ulmfit_tf.json").read_text())
        (folder / "ulmfit_tf.json").write_text(json.dumps(dict(manifest, format=2)))
    predict_error(capsys, folder, message)


@pytest.mark.parametrize("case, message", [
    ("newer_format", "in folder format 2; this is ulmfit-tf"),
    ("swapped_tokenizer", "has 300 tokens, its model 200: the tokenizer's files belong to another model"),
    ("config_to_dev_zero", "names a file outside itself ('config.json')"),
])
def test_damaged_presets(models, tmp_path, capsys, case, message):
    preset = copy(models["preset"], tmp_path / case)
    if case == "newer_format":
        manifest = json.loads((preset / "ulmfit_tf.json").read_text())
        (preset / "ulmfit_tf.json").write_text(json.dumps(dict(manifest, format=2)))
    elif case == "swapped_tokenizer":  # another model's SentencePiece file (300 pieces, not 200)
        from ulmfit_tf.text import SentencePieceTokenizer

        other = SentencePieceTokenizer.train(open(models["corpus"]).read().splitlines(), vocabulary_size=300)
        (preset / "assets" / "tokenizer" / "sentencepiece.model").write_bytes(other.proto)
    else:
        (preset / "config.json").unlink()
        (preset / "config.json").symlink_to("/dev/zero")
    code, _, err = run(["fit-classifier", "--language-model", str(preset), "--train", models["train"],
                        "--output", str(tmp_path / "out")] + CLASSIFIER, capsys)
    one_line_error(code, err, "fit-classifier", message)


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[:-1], "is truncated (296399 bytes, not a whole number of 4-byte words); export it again."),
    (lambda b: b[:-4], "is damaged (The model is not a valid Flatbuffer buffer); export it again."),
    (lambda b: b[:-1000], "is damaged ("),
    (lambda b: b[:-64] + bytes(64), "is damaged ("),
    (lambda b: b[:16], "is not a TFLite model file."),
])
def test_damaged_tflite_files(models, tmp_path, capsys, damage, message):
    content = open(models["tflite"], "rb").read()
    damaged = tmp_path / "damaged.tflite"
    damaged.write_bytes(damage(content))
    if "296399" in message:
        message = message.replace("296399", str(len(content) - 1))
    predict_error(capsys, damaged, message)


def test_a_torch_zip_bomb_is_refused(tmp_path):
    from ulmfit_tf.convert.torch_file import read_state_dict

    path = tmp_path / "lstm_fwd.pth"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", b"\x00" * 1000)
    declare_size(path, "archive/data.pkl", 3 << 30)
    with pytest.raises(UserInputError, match=r"its member 'archive/data.pkl' declares 3.0 GiB stored in 1000 bytes, "
                                             r"over the 1.0 MiB it may expand to; save or download it again."):
        read_state_dict(path)


def test_an_embeddings_file_declaring_terabytes_is_refused(models, tmp_path, capsys):
    path = tmp_path / "huge.npy"
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (10**6, 10**6)})
        f.write(bytes(64))
    code, _, err = run(["pretrain", "--texts", models["corpus"], "--output", str(tmp_path / "lm"), "--embeddings",
                        str(path)] + TINY_LM, capsys)
    one_line_error(code, err, "pretrain", f"--embeddings {path}: not a .npy array (")
    assert not os.path.exists(tmp_path / "lm")


def test_a_checkpoint_state_nested_deep_says_what_to_delete(models, tmp_path, capsys):
    output = str(tmp_path / "clf")
    argv = ["fit-classifier", "--language-model", models["lm"], "--train", models["train"], "--output", output,
            "--keep-checkpoints"] + CLASSIFIER
    assert cli.main(argv) == 0
    (tmp_path / "clf.checkpoints" / "epoch_0001" / "state.json").write_bytes(DEEP)
    capsys.readouterr()
    code, _, err = run(argv + ["--overwrite"], capsys)
    one_line_error(code, err, "fit-classifier", "nests JSON more than 100 levels deep")
    assert f"delete '{tmp_path / 'clf.checkpoints'}' to start the run over" in err
