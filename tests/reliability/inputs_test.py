"""Inputs every entry point must handle or refuse (issue 16, section 5).

The entry points: `stages.predict`/`evaluate`/`fit_classifier`, the Keras
classifier's `predict`/`evaluate`/`fit`, `TFLiteClassifier` and
`predict_saved_model`. One tiny SentencePiece classifier, exported once.
"""

import keras
import numpy as np
import pytest

from tests.models.ulmfit_text_classifier_test import LABELS
from tests.models.ulmfit_text_classifier_test import TEXTS
from tests.models.ulmfit_text_classifier_test import language_model
from tests.models.ulmfit_text_classifier_test import tokenizer  # noqa: F401  (a fixture)
from ulmfit_tf import stages
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.export import TFLiteClassifier
from ulmfit_tf.export import export_saved_model
from ulmfit_tf.export import export_tflite
from ulmfit_tf.export import predict_saved_model
from ulmfit_tf.models import ULMFiTLanguageModel
from ulmfit_tf.models import ULMFiTTextClassifier
from ulmfit_tf.text.inputs import check_classes
from ulmfit_tf.text.inputs import check_texts

# NULs (alone, inside, trailing), odd Unicode (zero-width space, BOM,
# combining accent, right-to-left, emoji) and the empty string.
AWKWARD = [
    "A fine, moving film.",
    "\x00",
    "fine moving\x00",
    "fine moving\x00\x00",
    "\x00dull slow",
    "dull\x00slow",
    "",
    "e\u0301mile \u200b\ufeff שלום 🎬🍿 中文",
]


def new_classifier(tokenizer):
    return ULMFiTTextClassifier.from_language_model(
        language_model(tokenizer.vocabulary_size()), 2, preprocessor=tokenizer, label_names=["fresh", "rotten"],
        seed=1, dropout_multiplier=0.2,
    )


@pytest.fixture(scope="module")
def classifier(tokenizer):
    """Trained for two epochs, so that its answers depend on the text."""
    keras.utils.set_random_seed(3)
    model = new_classifier(tokenizer)
    model.compile(optimizer=keras.optimizers.Adam(0.02))
    model.fit(TEXTS, LABELS, batch_size=8, epochs=2, verbose=0)
    return model


@pytest.fixture(scope="module")
def saved_model(classifier, tmp_path_factory):
    return export_saved_model(classifier, tmp_path_factory.mktemp("serving") / "sentiment")


@pytest.fixture(scope="module")
def tflite(classifier, tmp_path_factory):
    return TFLiteClassifier(export_tflite(classifier, str(tmp_path_factory.mktemp("tflite") / "sentiment.tflite")))


@pytest.fixture(scope="module")
def entry_points(classifier, saved_model, tflite):
    """Each way of predicting, as `texts -> (labels, probabilities)`."""
    return {
        "keras": lambda texts: (None, classifier.probabilities(classifier.predict(texts, verbose=0)).numpy()),
        "stages": lambda texts: stages.predict(classifier, texts),
        "saved_model": lambda texts: predict_saved_model(saved_model, texts)[:2],
        "tflite": tflite.predict,
    }


def keras_probabilities(classifier, texts):
    return classifier.probabilities(classifier.predict(texts, verbose=0)).numpy()


def test_a_lone_string_is_one_text(entry_points, classifier):
    expected = stages.predict(classifier, ["A fine film."])
    for name, predict in entry_points.items():
        for text in ("A fine film.", b"A fine film."):
            labels, probabilities = predict(text)
            assert probabilities.shape == (1, 2), name
            np.testing.assert_allclose(probabilities, expected[1], atol=1e-5, err_msg=name)
            if labels is not None:
                assert labels == expected[0], name
    assert stages.evaluate(classifier, "A fine film.", "fresh")["count"] == 1
    assert set(classifier.evaluate("A fine film.", "fresh", verbose=0, return_dict=True)) == {"accuracy", "loss"}


def test_fit_reads_a_lone_string_as_one_text_and_its_label(tokenizer):
    model = new_classifier(tokenizer)
    (ids, targets), = list(model.text_dataset("fine moving", "rotten"))
    assert ids.numpy().tolist() == tokenizer(["fine moving"]).to_list() and targets.numpy().tolist() == [1]
    model.compile(optimizer=keras.optimizers.Adam(0.02))
    history = model.fit("fine moving", "rotten", epochs=1, verbose=0)
    assert len(history.history["loss"]) == 1


@pytest.mark.parametrize(
    "texts, received",
    [
        (["A fine film.", "Dull.", "Slow.", None], "texts[3]=None (NoneType)"),
        (["A fine film.", 123], "texts[1]=123 (int)"),
        ([float("nan"), "Dull."], "texts[0]=nan (float)"),
        (np.array(["Dull.", 2.5], dtype=object), "texts[1]=2.5 (float)"),
        ([["nested"]], "texts[0]=['nested'] (list)"),
    ],
)
def test_non_strings_are_refused_naming_the_index(entry_points, classifier, tokenizer, texts, received):
    message = f"Argument `texts` must hold strings. Received: {received}"
    keras_message = message.replace("texts", "x")
    labels = ["fresh"] * len(texts)
    calls = {
        "stages.predict": (lambda: stages.predict(classifier, texts), message),
        "stages.evaluate": (lambda: stages.evaluate(classifier, texts, labels), message),
        "stages.fit_classifier": (
            lambda: stages.fit_classifier(lm_with_tokenizer(tokenizer), texts, labels, verbose=0), message
        ),
        "predict_saved_model": (lambda: entry_points["saved_model"](texts), message),
        "TFLiteClassifier.predict": (lambda: entry_points["tflite"](texts), message),
        "ULMFiTTextClassifier.predict": (lambda: classifier.predict(texts, verbose=0), keras_message),
        "ULMFiTTextClassifier.evaluate": (lambda: classifier.evaluate(texts, labels, verbose=0), keras_message),
        "ULMFiTTextClassifier.fit": (lambda: classifier.fit(texts, labels, epochs=1, verbose=0), keras_message),
    }
    if not any(isinstance(text, str) for text in texts):
        # `[["nested"]]` holds no string: for the Keras model it may be ids.
        calls = {name: call for name, call in calls.items() if not name.startswith("ULMFiTTextClassifier")}
    for name, (call, expected) in calls.items():
        with pytest.raises(TypeError) as error:
            call()
        assert str(error.value) == expected, name


def test_none_alone_and_a_non_sequence_are_refused(classifier):
    with pytest.raises(TypeError, match=r"^Argument `x` must hold strings. Received: x\[0\]=None \(NoneType\)$"):
        classifier.predict([None], verbose=0)
    with pytest.raises(TypeError, match=r"^Argument `texts` must be a string or a list of strings. Received: texts=5 \(int\)$"):
        stages.predict(classifier, 5)
    with pytest.raises(TypeError, match=r"^Argument `texts` must be a string or a list of strings. Received: texts=None"):
        check_texts(None)


def test_bytes_are_decoded_as_utf8_with_replacement(entry_points):
    for name, predict in entry_points.items():
        np.testing.assert_allclose(
            predict([b"broken \xff\xfe utf-8 \xc3"])[1], predict(["broken \ufffd\ufffd utf-8 \ufffd"])[1], atol=1e-6,
            err_msg=name,
        )


def test_empty_input_gives_an_empty_batch(entry_points, classifier):
    for name, predict in entry_points.items():
        labels, probabilities = predict([])
        assert probabilities.shape == (0, 2) and probabilities.dtype == np.float32, name
        assert labels == (None if name == "keras" else []), name
    assert classifier.predict(np.array([], dtype=object), verbose=0).shape == (0, 2)
    with pytest.raises(UserInputError, match=r"^Argument `x` must hold at least one text. Received: x=\[\]$"):
        classifier.evaluate([], [], verbose=0)
    with pytest.raises(ValueError, match="The texts are empty: give at least one text."):
        stages.evaluate(classifier, [], [])


def test_evaluate_needs_one_label_per_text(classifier):
    for labels in (["fresh"], "fresh"):
        with pytest.raises(
            UserInputError, match=r"^Arguments `texts` and `labels` must have the same length. Received: 10 texts and 1 labels$"
        ):
            stages.evaluate(classifier, TEXTS[:10], labels)
    with pytest.raises(UserInputError, match=r"^Arguments `x` and `y` must have the same length. Received: 10 texts and 1 labels$"):
        classifier.evaluate(TEXTS[:10], ["fresh"], verbose=0)


def test_keras_saved_model_and_tflite_read_the_same_text(entry_points, classifier):
    expected = keras_probabilities(classifier, AWKWARD)
    # The NULs count: a text with them is another text.
    assert np.abs(expected[2] - keras_probabilities(classifier, ["fine moving"])[0]).max() > 1e-3
    assert np.abs(expected[1] - expected[6]).max() > 1e-3  # "\x00" is not ""
    for name, predict in entry_points.items():
        labels, probabilities = predict(AWKWARD)
        np.testing.assert_allclose(probabilities, expected, atol=1e-5, err_msg=name)
        if labels is not None:
            assert labels == [["fresh", "rotten"][i] for i in expected.argmax(axis=1)], name
    np.testing.assert_allclose(keras_probabilities(classifier, np.array(AWKWARD, dtype=object)), expected, atol=1e-6)
    ids = dict(zip(AWKWARD, classifier.preprocessor.tokenizer(AWKWARD).to_list()))
    (batch, _), = list(classifier.text_dataset(AWKWARD, batch_size=len(AWKWARD)))
    for row, text in zip(batch.numpy().tolist(), AWKWARD):
        assert row[: len(ids[text])] == ids[text]  # what training reads


def lm_with_tokenizer(tokenizer):
    return ULMFiTLanguageModel(language_model(tokenizer.vocabulary_size()).backbone, preprocessor=tokenizer)


def test_fit_classifier_refuses_labels_that_cannot_train_a_classifier(tokenizer):
    lm = lm_with_tokenizer(tokenizer)
    with pytest.raises(
        UserInputError,
        match=r"^Argument `labels` must hold at least two classes to train a classifier. Received: all 48 labels are 'fresh'$",
    ):
        stages.fit_classifier(lm, TEXTS, ["fresh"] * 48, verbose=0)
    text_like = (
        r"^Argument `labels` must hold class names, but most of its values are distinct, as in a column of texts. "
        r"Received: 48 distinct labels for 48 texts, such as '.*'. Give the column of class names "
        r"\(on the command line, `--label-column`\)$"
    )
    for labels in ([f"review number {i}" for i in range(48)], list(range(48))):
        with pytest.raises(UserInputError, match=text_like):
            stages.fit_classifier(lm, TEXTS, labels, verbose=0)
    with pytest.raises(UserInputError, match=r"Received: 48 distinct labels for 48 texts"):
        stages.fit_classifier(lm, TEXTS, [f"tag{i};x" for i in range(47)] + ["x"], problem_type="multi_label", verbose=0)
    with pytest.raises(TypeError, match=r"^Argument `validation\[0\]` must hold strings. Received: validation\[0\]\[1\]=None"):
        stages.fit_classifier(lm, TEXTS, LABELS, validation=(["Fine.", None], ["fresh", "rotten"]), verbose=0)
    with pytest.raises(
        UserInputError,
        match=r"^Arguments `validation\[0\]` and `validation\[1\]` must have the same length. Received: 2 texts and 3 labels$",
    ):
        stages.fit_classifier(lm, TEXTS, LABELS, validation=(TEXTS[:2], LABELS[:3]), verbose=0)


def test_check_classes_threshold():
    check_classes([str(i) for i in range(20)])  # 20 labels: too few to judge
    check_classes([str(i % 10) for i in range(21)])  # 10 classes of 21 texts: fine
    check_classes(["a"] * 5, problem_type="multi_label")  # one tag can be detected or not
    check_classes([0.5] * 30, problem_type="regression")
    with pytest.raises(UserInputError, match="Received: 11 distinct labels for 21 texts"):
        check_classes([str(i % 11) for i in range(21)])
