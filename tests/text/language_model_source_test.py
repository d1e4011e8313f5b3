import pytest
import tensorflow as tf

from ulmfit_tf.datasets import load_rotten_tomatoes
from ulmfit_tf.text import WordTokenizer
from ulmfit_tf.text import language_model_dataset
from ulmfit_tf.text.language_model_source import LanguageModelSource
from ulmfit_tf.text.language_model_source import count_file_steps
from ulmfit_tf.text.language_model_source import count_steps
from ulmfit_tf.text.language_model_source import count_windows
from ulmfit_tf.text.language_model_source import first_lines
from ulmfit_tf.text.language_model_source import text_files

TOKENIZER = WordTokenizer(vocabulary=["xxunk", "xxpad", "xxbos", "the", "a", "."])


@pytest.fixture(scope="module")
def texts():
    return [t.replace("\n", " ") for t in load_rotten_tomatoes()["train"]["texts"][:60]]


def write_lines(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("batch_size, bptt", [(4, 5), (3, 16), (8, 7)])
def test_step_count_matches_the_language_model_stream(texts, batch_size, bptt):
    stream = language_model_dataset(texts, TOKENIZER, batch_size, bptt, shuffle=False)
    assert count_steps(texts, TOKENIZER, batch_size, bptt) == sum(1 for _ in stream)


def test_windows_of_a_stream():
    assert count_windows(100, batch_size=4, bptt=6) == 4  # rows of 25 tokens: 4 windows of 6 + 1 target
    assert count_windows(7, batch_size=4, bptt=6) == 0 and count_windows(3, batch_size=4, bptt=6) < 0
    assert int(count_windows(tf.constant(100, tf.int64), 4, 6)) == 4
    assert count_steps(["a b c d e f g h"], WordTokenizer(vocabulary=["xxunk"]), batch_size=2, bptt=3) == 1


def test_files_stream_at_most_one_batch_fewer_per_chunk(texts, tmp_path):
    files = [write_lines(tmp_path / f"shard-{i}.txt", texts[i::2]) for i in range(2)]
    assert text_files(str(tmp_path / "shard-*.txt")) == files
    assert count_steps(texts, TOKENIZER, 4, 5) - 1 <= count_file_steps(files, TOKENIZER, 4, 5) <= count_steps(
        texts, TOKENIZER, 4, 5
    )


def test_source_gives_its_steps_in_every_epoch(texts, tmp_path):
    write_lines(tmp_path / "corpus.txt", texts)
    for corpus in (texts, str(tmp_path / "*.txt")):
        source = LanguageModelSource(corpus, TOKENIZER, batch_size=4, bptt=5)
        for data in (source.dataset(seed=0), source.dataset(seed=1), source.dataset(shuffle=False)):
            assert int(data.cardinality()) == source.steps == sum(1 for _ in data)
    in_order = LanguageModelSource(texts, TOKENIZER, batch_size=4, bptt=5).dataset(shuffle=False)
    expected = language_model_dataset(texts, TOKENIZER, 4, 5, shuffle=False)
    for (x, y), (x_expected, y_expected) in zip(in_order, expected):
        assert x.numpy().tolist() == x_expected.numpy().tolist() and y.numpy().tolist() == y_expected.numpy().tolist()


def test_first_lines_read_across_files(tmp_path):
    files = [write_lines(tmp_path / "a.txt", ["one", "two"]), write_lines(tmp_path / "b.txt", ["three", "four"])]
    assert first_lines(files, 3) == ["one", "two", "three"]
    assert first_lines(files, 10) == ["one", "two", "three", "four"]


def test_errors(tmp_path):
    with pytest.raises(ValueError, match="No files match"):
        text_files(str(tmp_path / "*.txt"))
    with pytest.raises(ValueError, match=r"The validation texts are too short for one batch: 3 tokens"):
        count_steps(["the a"], TOKENIZER, 2, 4, what="validation texts")
    short = write_lines(tmp_path / "short.txt", ["the a"])
    with pytest.raises(ValueError, match="The texts are too short for one batch per epoch: they give 0 windows"):
        count_file_steps([short], TOKENIZER, 2, 4)
    with pytest.raises(ValueError, match="too short for one batch per epoch"):
        LanguageModelSource(str(tmp_path / "short.txt"), TOKENIZER, batch_size=2, bptt=4)
