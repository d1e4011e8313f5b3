import numpy as np
import pytest
import tensorflow as tf

from ulmfit_tf.text import language_model_dataset

# Document d holds the numbers 100 * d ... 100 * d + 9 + d: every id says
# where it came from.
DOCUMENTS = [" ".join(str(i) for i in range(100 * d, 100 * d + 10 + d)) for d in range(20)]


def numbers(texts):
    return tf.strings.to_number(tf.strings.split(texts), tf.int32)


def epoch(dataset):
    return [(x.numpy(), y.numpy()) for x, y in dataset]


def assert_rows_continue(batches):
    """y is x shifted by one, and each row goes on in the next batch."""
    for (x, y), following in zip(batches, batches[1:] + [None]):
        np.testing.assert_array_equal(y[:, :-1], x[:, 1:])
        if following is not None:
            np.testing.assert_array_equal(y[:, -1], following[0][:, 0])


def test_fastai_layout_without_shuffling():
    batches = epoch(language_model_dataset(DOCUMENTS, numbers, batch_size=4, bptt=5, shuffle=False))
    stream = np.concatenate([numbers(tf.constant(d)).numpy() for d in DOCUMENTS])
    row_length = len(stream) // 4
    rows = stream[: 4 * row_length].reshape(4, row_length)
    assert len(batches) == (row_length - 1) // 5
    np.testing.assert_array_equal(np.concatenate([x for x, _ in batches], axis=1), rows[:, : 5 * len(batches)])
    assert_rows_continue(batches)
    assert all(x.shape == (4, 5) and x.dtype == np.int32 for x, _ in batches)


def test_documents_are_reshuffled_each_epoch_reproducibly():
    dataset = language_model_dataset(DOCUMENTS, numbers, batch_size=2, bptt=4, seed=3)
    first, second = epoch(dataset), epoch(dataset)
    assert not np.array_equal(first[0][0], second[0][0])
    for batches in (first, second):
        assert_rows_continue(batches)
    again = epoch(language_model_dataset(DOCUMENTS, numbers, batch_size=2, bptt=4, seed=3))
    np.testing.assert_array_equal(np.concatenate([x for x, _ in again]), np.concatenate([x for x, _ in first]))
    # Documents stay whole: within a row, ids of one document are consecutive.
    row = np.concatenate([x[0] for x, _ in first])
    same_document = (row[1:] // 100) == (row[:-1] // 100)
    assert np.all(np.diff(row)[same_document] == 1)


def test_random_window_lengths_like_awd_lstm():
    dataset = language_model_dataset(DOCUMENTS * 5, numbers, batch_size=2, bptt=20, seed=0, random_length=True)
    batches = epoch(dataset)
    widths = [x.shape[1] for x, _ in batches]
    assert len(set(widths)) > 3 and min(widths) >= 5
    assert 12 <= np.mean(widths) <= 22
    assert_rows_continue(batches)
    assert widths != [x.shape[1] for x, _ in epoch(dataset)]


def test_streams_a_dataset_of_files_chunk_by_chunk(tmp_path):
    files = []
    for shard in range(2):
        path = tmp_path / f"shard_{shard}.txt"
        path.write_text("\n".join(DOCUMENTS[shard::2]) + "\n")
        files.append(str(path))
    lines = tf.data.TextLineDataset(files)
    batches = epoch(language_model_dataset(lines, numbers, batch_size=2, bptt=4, shuffle=False, chunk_documents=5))
    # Four chunks of five documents, each laid out on its own.
    assert len(batches) > 4
    for x, y in batches:
        np.testing.assert_array_equal(y[:, :-1], x[:, 1:])
    seen = set(np.concatenate([x.ravel() for x, _ in batches]).tolist())
    assert {d // 100 for d in seen} == set(range(20))


def test_errors():
    with pytest.raises(ValueError, match="Argument `bptt` must be a positive integer. Received: bptt=0"):
        language_model_dataset(DOCUMENTS, numbers, bptt=0)
    with pytest.raises(ValueError, match="at least one document"):
        language_model_dataset([], numbers)
    with pytest.raises(ValueError, match="Argument `chunk_documents` must be set"):
        language_model_dataset(tf.data.Dataset.from_tensor_slices(DOCUMENTS), numbers)
