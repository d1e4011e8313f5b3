"""`ulmfit-tf report`: the HTML file from a classifier folder, its training curves from the manifest, bad input."""

import json
import os

from tests.cli_evaluate_test import classifier_folder  # noqa: F401  (a fixture: a trained classifier's folder)
from tests.cli_test import run
from tests.cli_test import write_csv
from tests.models.ulmfit_text_classifier_test import LABELS
from tests.models.ulmfit_text_classifier_test import TEXTS
from tests.models.ulmfit_text_classifier_test import tokenizer  # noqa: F401  (a fixture)
from ulmfit_tf import stages


def test_report_writes_the_page_with_the_folders_history(classifier_folder, tmp_path, capsys):  # noqa: F811
    model, folder = classifier_folder
    manifest = json.load(open(os.path.join(folder, "ulmfit_tf.json")))
    assert manifest["history"]["loss"] == model.history.history["loss"]  # recorded when the folder was saved
    data = write_csv(tmp_path / "test.csv", list(zip(TEXTS[:24], LABELS[:24])))
    output = tmp_path / "report.html"
    code, out, err = run(["report", "--model", folder, "--data", data, "--output", str(output), "--top-k", "3"], capsys)
    assert code == 0, err
    accuracy = stages.evaluate(model, TEXTS[:24], LABELS[:24])["accuracy"]
    assert out.strip().endswith(f"accuracy {accuracy:.4f}, macro_f1 " + out.strip().split("macro_f1 ")[1])
    page = output.read_text()
    assert "report on 24 texts" in page and "The 3 texts with the highest loss" in page
    assert f"loss {model.history.history['loss'][-1]:.4f}" in page  # the curves' legend: the last epoch's loss

    code, _, err = run(["report", "--model", folder, "--data", data, "--output", str(output)], capsys)
    assert code == 2 and err.count("\n") == 1 and "exists" in err
    code, _, err = run(
        ["report", "--model", folder, "--data", data, "--output", str(tmp_path / "r2.html"), "--lr-finder-plot",
         str(tmp_path / "missing.png")], capsys,
    )
    assert code == 2 and err.strip() == f"ulmfit-tf report: error: --lr-finder-plot: no file {tmp_path / 'missing.png'}."
    assert not (tmp_path / "r2.html").exists()
