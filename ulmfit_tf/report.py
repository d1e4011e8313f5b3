"""A classifier's report: one self-contained HTML page a person opens in a browser.

The page holds the metrics (`ulmfit_tf.metrics`), the confusion matrix as a
heatmap, a reliability diagram, the training curves of each stage, the LR
finder's plot when there is one, the texts with the highest loss with their
words highlighted by their attributions (`ulmfit_tf.interpretation`), and
the model card. Everything is inline (SVG figures, images as data URLs, no
script, no link to the network), so the file can be mailed or archived.
"""

import base64
import html
import json
import os

import numpy as np

from ulmfit_tf.folders import write_file_atomically
from ulmfit_tf.interpretation import token_attributions
from ulmfit_tf.interpretation import top_losses
from ulmfit_tf.metrics import classification_metrics
from ulmfit_tf.report_figures import confusion_heatmap
from ulmfit_tf.report_figures import highlighted_words
from ulmfit_tf.report_figures import reliability_bins
from ulmfit_tf.report_figures import reliability_diagram
from ulmfit_tf.report_figures import training_curves
from ulmfit_tf.thresholds import DEFAULT_THRESHOLD

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_PLOT_BYTES = 8 * 2**20
STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.figures { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
.word { padding: 1px 2px; border-radius: 3px; line-height: 1.9; }
pre { background: #f6f6f6; padding: 1em; white-space: pre-wrap; }
.loss { color: #555; font-size: 90%; }
"""


def write_report(
    classifier, texts, labels, path, history=None, model_card=None, lr_finder_plot=None, top_k=8, batch_size=64,
    overwrite=False,
):
    """Writes the classifier's report on labelled texts to one HTML file.

    Args:
        classifier: A `ULMFiTTextClassifier` with a preprocessor.
        texts: List of strings, the texts to evaluate on (a test split).
        labels: Their labels (class names or ids, as `fit_classifier` takes).
        path: Where to write the `.html` file (a new file unless
            `overwrite`; written atomically).
        history: Optional training history: a dict of stage name → Keras
            `History.history` dict (metric → per-epoch values), or one
            `History.history` dict. Defaults to the classifier's own
            `history` when it was trained in this process.
        model_card: Optional string (Markdown) shown as it is.
        lr_finder_plot: Optional path of the LR finder's PNG plot, inlined.
        top_k: Integer, how many of the worst texts to show with their
            attributions. Defaults to `8`.
        batch_size: Integer, texts per prediction batch.
        overwrite: Boolean, replace an existing file.

    Returns:
        The metrics dict shown in the report (`classification_metrics`).

    Example:

    ```python
    metrics = write_report(classifier, test_texts, test_labels, "report.html")
    print(metrics["macro_f1"])
    ```
    """
    page, metrics = report_html(
        classifier, texts, labels, history=history, model_card=model_card, lr_finder_plot=lr_finder_plot,
        top_k=top_k, batch_size=batch_size,
    )
    write_file_atomically(path, lambda f: f.write(page), text=True, overwrite=overwrite)
    return metrics


def report_html(classifier, texts, labels, history=None, model_card=None, lr_finder_plot=None, top_k=8, batch_size=64):
    """The report as a string, with its metrics: `write_report` without the file.

    Returns:
        A tuple `(page, metrics)`.
    """
    texts = list(texts)
    if not texts:
        raise ValueError("Argument `texts` must hold at least one text. Received: texts=[]")
    plot = _png_data_url(lr_finder_plot) if lr_finder_plot is not None else None
    targets = classifier.encode_targets(labels)
    outputs = classifier.predict(texts, batch_size=batch_size, verbose=0)
    probabilities = np.asarray(classifier.probabilities(outputs))
    threshold = classifier.thresholds or DEFAULT_THRESHOLD  # multi-label: as `predict` decides
    metrics = classification_metrics(probabilities, targets, classifier.problem_type, classifier.label_names, threshold)
    sections = [
        f"<h1>{_text(classifier.name)}: report on {len(texts)} texts</h1>",
        _overview(classifier),
        "<h2>Metrics</h2>",
        _metrics_tables(metrics),
    ]
    if classifier.problem_type == "single_label":
        sections += [
            '<h2>Errors and calibration</h2><div class="figures">',
            confusion_heatmap(metrics["confusion_matrix"], metrics["label_names"]),
            reliability_diagram(reliability_bins(probabilities, targets)),
            "</div>",
        ]
    sections += _training_section(history if history is not None else _own_history(classifier), plot)
    sections += _worst_texts(classifier, texts, labels, top_k, batch_size)
    if model_card:
        sections += ["<h2>Model card</h2>", f"<pre>{_text(model_card)}</pre>"]
    return _page(classifier.name, sections), metrics


def _overview(classifier):
    backbone = classifier.backbone
    rows = [
        ("problem type", classifier.problem_type),
        ("labels", ", ".join(map(str, classifier.label_names or range(classifier.num_classes)))),
        ("vocabulary", backbone.vocabulary_size),
        ("embedding / hidden / layers", f"{backbone.embedding_dim} / {backbone.hidden_dim} / {backbone.num_layers}"),
        ("parameters", f"{classifier.count_params():,}"),
    ]
    return _table(["model", ""], rows)


def _metrics_tables(metrics):
    scalars = [(name, _number(value)) for name, value in metrics.items() if not isinstance(value, (dict, list))]
    parts = [_table(["metric", "value"], scalars)]
    per_class = metrics.get("per_class")
    if per_class:
        columns = ("precision", "recall", "f1", "support")
        rows = [(name, *(_number(row[c]) for c in columns)) for name, row in per_class.items()]
        parts.append(_table(["label", *columns], rows))
    return "".join(parts)


def _training_section(history, plot):
    if isinstance(history, dict) and history and all(isinstance(v, (list, tuple)) for v in history.values()):
        history = {"training": history}
    figures = [training_curves(logs, stage) for stage, logs in (history or {}).items()]
    figures = [figure for figure in figures if figure]
    if plot:
        figures.append(f'<img alt="learning rate finder" src="{plot}" width="480">')
    if not figures:
        return []
    return ["<h2>Training</h2>", '<div class="figures">', *figures, "</div>"]


def _worst_texts(classifier, texts, labels, top_k, batch_size):
    if classifier.problem_type == "regression" or top_k == 0:
        return []
    rows = top_losses(classifier, texts, labels, k=top_k, batch_size=batch_size)
    parts = [
        f"<h2>The {len(rows)} texts with the highest loss</h2>",
        "<p>Each word's colour is its integrated-gradients attribution to the predicted class: green for it, "
        "red against (hover for the value).</p>",
    ]
    for row in rows:
        explained = token_attributions(classifier, row["text"], steps=16)
        probability = "" if row["probability"] is None else f", probability {row['probability']:.3f}"
        parts.append(
            f'<p><span class="loss">loss {row["loss"]:.3f}: true {_text(row["label"])}, predicted '
            f"{_text(row['predicted'])}{probability}</span><br>"
            f"{highlighted_words(explained['words'], explained['word_scores'])}</p>"
        )
    return parts


def _own_history(classifier):
    history = getattr(classifier, "history", None)
    logs = getattr(history, "history", None)
    return {"classifier": logs} if logs else None


def _png_data_url(path):
    with open(path, "rb") as f:
        data = f.read(MAX_PLOT_BYTES + 1)
    if len(data) > MAX_PLOT_BYTES or not data.startswith(PNG_SIGNATURE):
        raise ValueError(
            f"Argument `lr_finder_plot` must be a PNG file of at most {MAX_PLOT_BYTES // 2**20} MiB. "
            f"Received: lr_finder_plot={os.fspath(path)!r}"
        )
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _table(header, rows):
    head = "".join(f"<th>{_text(cell)}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{_text(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _page(title, sections):
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_text(title)} report</title><style>{STYLE}</style></head><body>\n"
        + "\n".join(sections)
        + "\n</body></html>\n"
    )


def _number(value):
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}"
    return value if isinstance(value, (int, str)) else json.dumps(value)


def _text(value):
    return html.escape(str(value), quote=True)
