"""The report's figures as inline SVG and HTML: no plotting library, no network.

Each function returns a string to place in an HTML page: a confusion-matrix
heatmap, a reliability diagram, training curves and a text with its words
highlighted by their attributions. Every value shown is also written as a
number (a cell's count, a `<title>` tooltip), so the figures can be read
and tested as text.
"""

import html

import numpy as np

from ulmfit_tf.metrics import calibration_bins

WIDTH, HEIGHT, MARGIN = 360, 240, 40
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")


def confusion_heatmap(matrix, names):
    """A heatmap of the confusion matrix (rows: true labels, columns: predicted), counts in the cells.

    Args:
        matrix: Square list of lists of counts.
        names: The label of each row and column.

    Returns:
        An SVG element as a string.

    Example:

    >>> "<svg" in confusion_heatmap([[3, 1], [0, 4]], ["neg", "pos"])
    True
    """
    matrix = np.asarray(matrix, dtype=np.int64)
    size = len(names)
    cell = max(24, min(60, 480 // max(size, 1)))
    left, top = 110, 30
    rows_total = np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    parts = [_svg_open(left + cell * size + 10, top + cell * size + 60, "confusion matrix")]
    for i in range(size):
        for j in range(size):
            share = matrix[i, j] / rows_total[i, 0]
            x, y = left + j * cell, top + i * cell
            color = f"rgba(31,119,180,{0.08 + 0.92 * share:.3f})"
            parts.append(
                f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{color}" stroke="#fff">'
                f"<title>true {_text(names[i])}, predicted {_text(names[j])}: {matrix[i, j]}</title></rect>"
            )
            ink = "#fff" if share > 0.55 else "#222"
            parts.append(_label(x + cell / 2, y + cell / 2 + 4, str(matrix[i, j]), ink, "middle"))
        parts.append(_label(left - 6, top + i * cell + cell / 2 + 4, _short(names[i]), "#222", "end"))
        parts.append(_label(left + i * cell + cell / 2, top + size * cell + 16, _short(names[i]), "#222", "middle"))
    parts.append(_label(left + size * cell / 2, top + size * cell + 36, "predicted", "#555", "middle"))
    parts.append(_label(8, top - 10, "true label", "#555", "start"))
    return "".join(parts) + "</svg>"


def reliability_bins(probabilities, targets, bins=10):
    """Per confidence bin: `(low, high, mean confidence, accuracy, count)`: `metrics.calibration_bins`, 10 bins."""
    return calibration_bins(probabilities, targets, bins)


def reliability_diagram(rows):
    """Accuracy against confidence per bin (bars), with the diagonal of perfect calibration.

    Args:
        rows: The output of `reliability_bins`.

    Returns:
        An SVG element as a string.
    """
    parts = [_svg_open(WIDTH, HEIGHT, "reliability diagram"), _axes("confidence", "accuracy")]
    for tick in (0.0, 0.5, 1.0):
        parts.append(_label(_x(tick), _y(0) + 14, f"{tick:g}", "#555", "middle"))
        parts.append(_label(_x(0) - 4, _y(tick) + 4, f"{tick:g}", "#555", "end"))
    parts.append(
        f'<line x1="{_x(0)}" y1="{_y(0)}" x2="{_x(1)}" y2="{_y(1)}" stroke="#999" stroke-dasharray="4 3"/>'
    )
    for low, high, confidence, accuracy, count in rows:
        x0, x1 = _x(low), _x(high)
        parts.append(
            f'<rect x="{x0 + 1:.1f}" y="{_y(accuracy):.1f}" width="{x1 - x0 - 2:.1f}" '
            f'height="{_y(0) - _y(accuracy):.1f}" fill="{COLORS[0]}" fill-opacity="0.75">'
            f"<title>confidence {low:.1f}-{high:.1f}: {count} texts, mean confidence {confidence:.3f}, "
            f"accuracy {accuracy:.3f}</title></rect>"
        )
    return "".join(parts) + "</svg>"


def training_curves(history, title):
    """One line per metric of a Keras `History.history` dict, over the epochs.

    Losses and the other metrics share one axis scaled to their range; the
    last value of each is written in the legend.

    Args:
        history: Dict of metric name → list of per-epoch values.
        title: String, shown above the plot (the stage's name).

    Returns:
        An SVG element as a string, or `""` when there is nothing to draw.
    """
    series = {name: [float(v) for v in values] for name, values in history.items() if len(values) and name != "lr"}
    if not series:
        return ""
    low = min(min(values) for values in series.values())
    high = max(max(values) for values in series.values())
    span = high - low or 1.0
    epochs = max(len(values) for values in series.values())
    parts = [_svg_open(WIDTH + 160, HEIGHT, title), _axes("epoch", ""), _label(MARGIN, 14, title, "#222", "start")]
    for index, (name, values) in enumerate(sorted(series.items())):
        color = COLORS[index % len(COLORS)]
        points = " ".join(
            f"{_x((e + 0.5) / epochs):.1f},{_y((v - low) / span):.1f}" for e, v in enumerate(values)
        )
        parts.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2"/>')
        legend = f"{name} {values[-1]:.4f}"
        parts.append(_label(WIDTH + 6, 30 + 16 * index, legend, color, "start"))
    parts.append(_label(MARGIN - 4, _y(0), f"{low:.3g}", "#555", "end"))
    parts.append(_label(MARGIN - 4, _y(1) + 8, f"{high:.3g}", "#555", "end"))
    return "".join(parts) + "</svg>"


def highlighted_words(words, scores):
    """Words on coloured backgrounds: green for a word for the class, red against, stronger for larger scores.

    Args:
        words: List of strings.
        scores: Their attributions.

    Returns:
        HTML `<span>` elements, each with its score as a tooltip.
    """
    scale = max((abs(s) for s in scores), default=0.0) or 1.0
    spans = []
    for word, score in zip(words, scores):
        alpha = 0.1 + 0.8 * abs(score) / scale
        color = f"rgba(44,160,44,{alpha:.2f})" if score >= 0 else f"rgba(214,39,40,{alpha:.2f})"
        spans.append(f'<span class="word" style="background:{color}" title="{score:+.4f}">{_text(word)}</span>')
    return " ".join(spans)


def _svg_open(width, height, label):
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_text(label)}" font-family="sans-serif" '
        'font-size="12">'
    )


def _axes(x_label, y_label):
    return (
        f'<line x1="{_x(0)}" y1="{_y(0)}" x2="{_x(1)}" y2="{_y(0)}" stroke="#444"/>'
        f'<line x1="{_x(0)}" y1="{_y(0)}" x2="{_x(0)}" y2="{_y(1)}" stroke="#444"/>'
        + _label((_x(0) + _x(1)) / 2, HEIGHT - 6, x_label, "#555", "middle")
        + _label(4, MARGIN - 12, y_label, "#555", "start")
    )


def _x(fraction):
    return MARGIN + fraction * (WIDTH - 2 * MARGIN)


def _y(fraction):
    return HEIGHT - MARGIN - fraction * (HEIGHT - 2 * MARGIN)


def _label(x, y, text, color, anchor):
    return f'<text x="{x:.1f}" y="{y:.1f}" fill="{color}" text-anchor="{anchor}">{_text(text)}</text>'


def _short(name, limit=14):
    name = str(name)
    return name if len(name) <= limit else name[: limit - 1] + "\u2026"


def _text(value):
    return html.escape(str(value), quote=True)
