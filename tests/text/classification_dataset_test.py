import numpy as np
import pytest
import tensorflow as tf

from ulmfit_tf.models import AWDLSTMBackbone
from ulmfit_tf.text import classification_dataset
from ulmfit_tf.text import ULMFiTTextClassifierPreprocessor
from ulmfit_tf.text import encode_labels
from ulmfit_tf.text.classification_dataset import tokenize_all


def numbers(texts):
    """A stand-in tokenizer: 'xxbos' (2), then the numbers in the text."""
    ids = tf.strings.to_number(tf.strings.split(texts), tf.int32)
    return tf.concat([tf.fill([ids.nrows(), 1], 2), ids], axis=1)


RNG = np.random.RandomState(0)
LENGTHS = RNG.randint(1, 200, size=300)
TEXTS = [" ".join(str(10 + (i + k) % 50) for k in range(n)) for i, n in enumerate(LENGTHS)]
TARGETS = np.arange(300, dtype="int32") % 3


def padding_fraction(dataset):
    ids = [x.numpy() for x, _ in dataset]
    return sum((x == 1).sum() for x in ids) / sum(x.size for x in ids)


def test_bucketing_reduces_padding_and_keeps_every_text():
    bucketed = classification_dataset(TEXTS, TARGETS, numbers, batch_size=16, seed=0)
    plain = classification_dataset(TEXTS, TARGETS, numbers, batch_size=16, shuffle=False)
    assert padding_fraction(bucketed) < 0.1 < 0.4 < padding_fraction(plain)
    seen = sorted((int(y), int((x != 1).sum())) for xs, ys in bucketed for x, y in zip(xs.numpy(), ys.numpy()))
    assert seen == sorted((int(t), int(n) + 1) for t, n in zip(TARGETS, LENGTHS))


def test_padding_goes_after_the_text_and_matches_each_text_alone():
    x, y = next(iter(classification_dataset(TEXTS[:4], TARGETS[:4], numbers, batch_size=4, shuffle=False)))
    for row, length in zip(x.numpy(), LENGTHS[:4]):
        assert row[0] == 2 and np.all(row[length + 1 :] == 1) and np.all(row[: length + 1] != 1)
    backbone = AWDLSTMBackbone(vocabulary_size=64, embedding_dim=4, hidden_dim=6, num_layers=2, padding_id=1)
    batch = backbone(x)["sequence_output"].numpy()
    alone = backbone(x[2:3, : LENGTHS[2] + 1])["sequence_output"].numpy()
    np.testing.assert_allclose(batch[2, : LENGTHS[2] + 1], alone[0], atol=1e-6)


def test_reshuffled_each_epoch_and_seeded():
    dataset = classification_dataset(TEXTS, TARGETS, numbers, batch_size=16, seed=1)
    first = [y.numpy().tolist() for _, y in dataset]
    second = [y.numpy().tolist() for _, y in dataset]
    assert first != second
    again = [y.numpy().tolist() for _, y in classification_dataset(TEXTS, TARGETS, numbers, batch_size=16, seed=1)]
    assert again == first


def test_long_documents_keep_their_last_tokens():
    """They kept their first ones, where BPT3C pools a document's end."""
    long_text = " ".join(str(10 + i % 50) for i in range(5000))
    x, _ = next(iter(classification_dataset([long_text, "8"], [0, 1], numbers, max_tokens=1000, shuffle=False)))
    assert x.numpy().tolist() == [[10 + i % 50 for i in range(4000, 5000)], [2, 8] + [1] * 998]
    x, _ = next(iter(classification_dataset([long_text], [0], numbers, max_tokens=None, shuffle=False)))
    assert x.shape == (1, 5001)


def test_the_classifiers_preprocessor_sets_the_cut_and_the_padding_id():
    preprocessor = ULMFiTTextClassifierPreprocessor(numbers, max_tokens=3, padding_id=0)
    x, _ = next(iter(classification_dataset(["11 12 13 14", "15"], [0, 1], preprocessor, max_tokens=50, shuffle=False)))
    assert x.numpy().tolist() == [[12, 13, 14], [2, 15, 0]]
    expected = sorted(row[-3:] for row in numbers(tf.constant(TEXTS)).to_list())
    for data in (classification_dataset(TEXTS, TARGETS, preprocessor, batch_size=16, seed=0),
                 classification_dataset(tokenize_all(TEXTS, numbers), TARGETS, preprocessor, batch_size=16, seed=0)):
        assert sorted([i for i in row if i != 0] for x, _ in data for row in x.numpy().tolist()) == expected
    assert tokenize_all(["11 12 13 14", ""], preprocessor).to_list() == [[12, 13, 14], [2]]


def test_labels_from_strings_ints_multi_label_and_regression():
    targets, names = encode_labels(["pos", "neg", "pos"])
    assert targets.tolist() == [1, 0, 1] and names == ["neg", "pos"]
    targets, names = encode_labels([10, 2, 2])
    assert names == ["2", "10"] and targets.tolist() == [1, 0, 0]
    test_targets, _ = encode_labels(["neg"], label_names=["neg", "pos"])
    assert test_targets.tolist() == [0]
    multi, names = encode_labels(["comedy;drama", ["drama"], ""], multi_label=True)
    assert names == ["comedy", "drama"]
    np.testing.assert_array_equal(multi, [[1, 1], [0, 1], [0, 0]])
    x, y = next(iter(classification_dataset(["1 2", "3"], multi[:2], numbers, shuffle=False)))
    assert y.dtype == tf.float32 and y.shape == (2, 2)
    x, y = next(iter(classification_dataset(["1 2", "3"], np.array([0.5, 4.0], "float32"), numbers, shuffle=False)))
    np.testing.assert_allclose(y, [0.5, 4.0])


def test_bad_labels_and_inputs():
    with pytest.raises(ValueError, match="Label 2 is blank; every text needs a label."):
        encode_labels(["pos", " ", "neg"])
    with pytest.raises(ValueError, match=r"Label 'meh' of text 1 is not one of the known labels \['neg', 'pos'\]"):
        encode_labels(["meh"], label_names=["neg", "pos"])
    with pytest.raises(ValueError, match="must have the same length. Received: 2 texts and 1 targets"):
        classification_dataset(["a", "b"], [0], numbers)
    with pytest.raises(ValueError, match="at least one text"):
        classification_dataset([], [], numbers)


def test_pretokenized_ids_give_the_same_batches_and_tokenizing_shows_progress(capsys):
    ids = tokenize_all(TEXTS, numbers, batch_size=64, progress=True)
    assert "300/300" in capsys.readouterr().out
    assert ids.to_list() == numbers(tf.constant(TEXTS)).to_list()
    from_texts = classification_dataset(TEXTS, TARGETS, numbers, batch_size=16, seed=3)
    from_ids = classification_dataset(ids, TARGETS, None, batch_size=16, seed=3)
    assert int(from_ids.cardinality()) == int(from_texts.cardinality())
    for (x1, y1), (x2, y2) in zip(from_texts, from_ids):
        np.testing.assert_array_equal(x1.numpy(), x2.numpy())
        np.testing.assert_array_equal(y1.numpy(), y2.numpy())
    with pytest.raises(ValueError, match="same length"):
        classification_dataset(ids, TARGETS[:5], None)

