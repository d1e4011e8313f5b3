import html
import os
import re
import shutil
import struct
import subprocess
import zlib

import keras
import numpy as np
import pytest
from sklearn.metrics import confusion_matrix
from sklearn.metrics import f1_score

from tests.interpretation_test import LABELS
from tests.interpretation_test import TEXTS
from tests.interpretation_test import classifier
from ulmfit_tf.report import report_html
from ulmfit_tf.report import write_report
from ulmfit_tf.report_figures import reliability_bins
from ulmfit_tf.text import SentencePieceTokenizer

TEST_TEXTS = TEXTS + ["fine fine film", "dull <script>alert(1)</script> plot", "slow moving", "the plot"]
TEST_LABELS = LABELS + ["pos", "neg", "neg", "pos"]
HISTORY = {"loss": [0.9, 0.6, 0.4], "accuracy": [0.5, 0.7, 0.875], "val_loss": [0.8, 0.7, 0.65]}


@pytest.fixture(scope="module")
def trained():
    tokenizer = SentencePieceTokenizer.train([f"{t} {i}" for i, t in enumerate(TEXTS * 8)], vocabulary_size=45)
    keras.utils.set_random_seed(7)
    model = classifier(tokenizer, label_names=["neg", "pos"])
    model.compile(optimizer=keras.optimizers.Adam(3e-2))
    model.fit(TEXTS, LABELS, epochs=8, batch_size=8, verbose=0)
    return model


def _cells(page, header):
    table = page[page.index(f"<th>{header}</th>"):]
    table = table[: table.index("</table>")]
    return [re.findall(r"<td>(.*?)</td>", row) for row in table.split("<tr>")[1:]]


def test_the_numbers_are_the_classifiers(trained):
    page, metrics = report_html(trained, TEST_TEXTS, TEST_LABELS, history={"classifier": HISTORY}, top_k=3)
    probabilities = trained.probabilities(trained.predict(TEST_TEXTS, verbose=0)).numpy()
    truth = np.array([["neg", "pos"].index(label) for label in TEST_LABELS])
    predicted = probabilities.argmax(1)
    scalars = dict(_cells(page, "metric"))
    assert float(scalars["accuracy"]) == pytest.approx(np.mean(predicted == truth), abs=5e-5)
    assert float(scalars["macro_f1"]) == pytest.approx(f1_score(truth, predicted, average="macro"), abs=5e-5)
    per_class = {row[0]: row[1:] for row in _cells(page, "label")}
    assert float(per_class["pos"][2]) == pytest.approx(f1_score(truth, predicted, pos_label=1), abs=5e-5)
    assert int(per_class["neg"][3]) == int(np.sum(truth == 0))
    # The heatmap's cells carry the counts.
    matrix = confusion_matrix(truth, predicted, labels=[0, 1])
    for i, true_name in enumerate(["neg", "pos"]):
        for j, predicted_name in enumerate(["neg", "pos"]):
            assert f"<title>true {true_name}, predicted {predicted_name}: {matrix[i, j]}</title>" in page
    # The reliability diagram: each bin's count and accuracy, computed here independently.
    confidence = probabilities.max(1)
    for low, high, _, accuracy, count in reliability_bins(probabilities, truth):
        chosen = (confidence > low) & (confidence <= high) if low > 0 else confidence <= high
        assert count == int(chosen.sum()) and accuracy == pytest.approx(np.mean(predicted[chosen] == truth[chosen]))
        assert f"{count} texts" in page
    assert metrics["accuracy"] == pytest.approx(np.mean(predicted == truth))
    assert "accuracy 0.8750" in page and "val_loss 0.6500" in page  # the curves' legends: last values


def test_the_worst_texts_are_shown_escaped_with_their_attributions(trained):
    page, _ = report_html(trained, TEST_TEXTS, TEST_LABELS, top_k=len(TEST_TEXTS), model_card="# Card <b>x</b>")
    assert "<script" not in page  # no script of ours, and the text's is escaped
    assert html.escape("# Card <b>x</b>") in page
    assert page.count('class="word"') >= sum(len(t.split()) for t in TEST_TEXTS) - 2
    assert f"The {len(TEST_TEXTS)} texts with the highest loss" in page
    # Nothing is fetched from the network: the only URL is the SVG namespace.
    assert set(re.findall(r"https?://[^\"' ]+", page)) == {"http://www.w3.org/2000/svg"}


def _png(path, width=4, height=3):
    raw = b"".join(b"\x00" + bytes([200, 30, 30] * width) for _ in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return path


def test_write_report_is_a_new_file_with_the_plot_inline(trained, tmp_path):
    plot = _png(tmp_path / "lr_find.png")
    path = tmp_path / "report.html"
    write_report(trained, TEST_TEXTS, TEST_LABELS, path, lr_finder_plot=plot, top_k=2)
    assert 'src="data:image/png;base64,' in path.read_text()
    with pytest.raises(Exception, match="exists"):
        write_report(trained, TEST_TEXTS, TEST_LABELS, path, top_k=2)
    (tmp_path / "fake.png").write_text("not a png")
    with pytest.raises(ValueError, match=r"^Argument `lr_finder_plot` must be a PNG file"):
        write_report(trained, TEST_TEXTS, TEST_LABELS, tmp_path / "other.html", lr_finder_plot=tmp_path / "fake.png")
    assert not (tmp_path / "other.html").exists()


def chromium():
    """Debian's Chromium, installed from the package registry when missing (as the README's development notes say)."""
    found = shutil.which("chromium")
    if found is None and shutil.which("apt-get") and os.geteuid() == 0:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True, env=env, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True, capture_output=True, env=env, timeout=900)
        found = shutil.which("chromium")
    assert found, "Debian's chromium is needed: apt-get install chromium"
    return found


def test_a_real_browser_renders_the_report(trained, tmp_path):
    browser = chromium()
    path = tmp_path / "report.html"
    write_report(trained, TEST_TEXTS, TEST_LABELS, path, history={"classifier": HISTORY}, top_k=3)
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}"]
    url = path.as_uri()
    shot = tmp_path / "shot.png"
    run = subprocess.run(
        [browser, *flags, "--enable-logging=stderr", "--v=0", "--window-size=1200,1600", f"--screenshot={shot}", url],
        capture_output=True, text=True, timeout=180,
    )
    console = [line for line in run.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert run.returncode == 0 and not console, run.stderr[-2000:]
    # Not blank: the screenshot holds many colours (text, the heatmap's blues, the highlighted words).
    from PIL import Image  # matplotlib's dependency, in the test extra

    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.shape[:2] == (1600, 1200)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50
    assert (pixels < 128).any(axis=2).mean() > 0.01  # dark ink covers part of the page
    dom = subprocess.run([browser, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=180).stdout
    assert "<svg" in dom and "confusion matrix" in dom and "report on 12 texts" in dom
