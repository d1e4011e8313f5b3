import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.export.conftest import AWKWARD
from tests.export.conftest import AWKWARD_TEXTS
from tests.export.conftest import keras_probabilities
from tests.models.ulmfit_text_classifier_test import TEXTS
from tests.models.ulmfit_text_classifier_test import tokenizer  # noqa: F401  (a fixture)
from ulmfit_tf.export import export_saved_model
from ulmfit_tf.export.exportable import exported_label_names
from ulmfit_tf.models import AWDLSTMBackbone
from ulmfit_tf.models import ULMFiTTextClassifier


@pytest.fixture(scope="module")
def saved_model(classifier, tmp_path_factory):
    return export_saved_model(classifier, tmp_path_factory.mktemp("serving") / "sentiment")


def test_layout_and_signature(saved_model):
    assert saved_model.endswith(os.path.join("sentiment", "1"))
    assert os.path.exists(os.path.join(saved_model, "saved_model.pb"))
    # What `saved_model_cli show` reports for the signature.
    show = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "saved_model_cli"), "show", "--dir", saved_model,
         "--tag_set", "serve", "--signature_def", "serving_default"],
        capture_output=True, text=True, check=True,
    ).stdout
    assert "inputs['text'] tensor_info:\n      dtype: DT_STRING\n      shape: (-1)" in show
    for name, dtype, shape in (("probabilities", "DT_FLOAT", "(-1, 2)"), ("label_id", "DT_INT32", "(-1)"),
                               ("label", "DT_STRING", "(-1)")):
        assert f"outputs['{name}'] tensor_info:\n      dtype: {dtype}\n      shape: {shape}" in show


def test_matches_keras_on_awkward_inputs(classifier, saved_model):
    serve = tf.saved_model.load(saved_model).signatures["serving_default"]
    outputs = serve(text=tf.constant(AWKWARD))
    probabilities = outputs["probabilities"].numpy()
    assert probabilities.shape == (len(AWKWARD), 2)
    assert np.isfinite(probabilities).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(probabilities, keras_probabilities(classifier, AWKWARD_TEXTS), atol=1e-5)
    ids = probabilities.argmax(axis=1)
    np.testing.assert_array_equal(outputs["label_id"].numpy(), ids)
    assert [label.decode() for label in outputs["label"].numpy()] == [["rotten", "fresh"][i] for i in ids]
    # A batch of one, and one of only empty strings, work too.
    np.testing.assert_allclose(serve(text=tf.constant(AWKWARD[:1]))["probabilities"].numpy(), probabilities[:1], atol=1e-6)
    assert np.isfinite(serve(text=tf.constant(["", ""]))["probabilities"].numpy()).all()


def test_long_documents_are_read_by_their_last_tokens(classifier, saved_model):
    """Before, the SavedModel read a document's first 8,192 tokens, where BPT3C pools its last ones."""
    long_text = "It drags. " * 2500 + "A fine, moving film. " * 400
    preprocessor = classifier.preprocessor
    ids = preprocessor.tokenizer([long_text])[0].numpy()
    assert len(ids) > preprocessor.max_tokens == 8192
    serve = tf.saved_model.load(saved_model).signatures["serving_default"]
    served = serve(text=tf.constant([long_text]))["probabilities"].numpy()
    run = tf.function(lambda x: classifier.probabilities(classifier(x, training=False)))  # eager: a minute
    last = run(ids[None, -8192:]).numpy()
    first = run(ids[None, :8192]).numpy()
    np.testing.assert_allclose(served, last, atol=1e-5)
    assert np.abs(served - first).max() > 1e-4  # ten times the agreement with the last tokens


def test_ids_signature_and_label_names(saved_model, classifier):
    loaded = tf.saved_model.load(saved_model)
    ids = classifier.preprocessor(["A fine film.", "Dull."])
    from_ids = loaded.signatures["classify_ids"](token_ids=ids)["probabilities"].numpy()
    from_text = loaded.signatures["serving_default"](text=tf.constant(["A fine film.", "Dull."]))["probabilities"]
    np.testing.assert_allclose(from_ids, from_text.numpy(), atol=1e-6)
    names = loaded.signatures["label_names"]()["label_names"].numpy()
    assert [name.decode() for name in names] == ["rotten", "fresh"]


def test_pads_with_the_backbones_padding_id(tokenizer, tmp_path):  # noqa: F811
    """Before, the SavedModel padded with 1 whatever the backbone's `padding_id`: short texts read padding."""
    backbone = AWDLSTMBackbone(tokenizer.vocabulary_size(), 8, 12, 2, padding_id=3, seed=1)
    classifier = ULMFiTTextClassifier(backbone, 2, preprocessor=tokenizer, bptt=4, max_len=8, seed=1)
    texts = [TEXTS[0], TEXTS[1] + " " + TEXTS[2], ""]
    serve = tf.saved_model.load(export_saved_model(classifier, tmp_path / "serving")).signatures["serving_default"]
    batched = serve(text=tf.constant(texts))["probabilities"].numpy()
    alone = np.concatenate([serve(text=tf.constant([text]))["probabilities"].numpy() for text in texts])
    np.testing.assert_allclose(batched, alone, atol=1e-6)
    np.testing.assert_allclose(batched, keras_probabilities(classifier, texts), atol=1e-6)
    assert exported_label_names(classifier) == ["0", "1"]


def test_runs_in_a_fresh_process_without_ulmfit_tf(saved_model, classifier, tmp_path):
    """Loads with only tensorflow and tensorflow_text, answering a TF Serving gRPC PredictRequest."""
    texts = ["A fine, moving film.", "", "Dull."]
    expected = keras_probabilities(classifier, texts)
    script = textwrap.dedent(
        f"""
        import json, sys
        sys.modules["ulmfit_tf"] = None  # not importable in this process
        try:
            import ulmfit_tf
            raise SystemExit("ulmfit_tf was importable")
        except ImportError:
            pass
        import tensorflow as tf
        import tensorflow_text  # registers the tokenizer's ops
        from tensorflow_serving.apis import predict_pb2

        request = predict_pb2.PredictRequest()
        request.model_spec.name = "sentiment"
        request.model_spec.signature_name = "serving_default"
        request.inputs["text"].CopyFrom(tf.make_tensor_proto({texts!r}, dtype=tf.string))
        request = predict_pb2.PredictRequest.FromString(request.SerializeToString())  # over the wire

        model = tf.saved_model.load({saved_model!r})
        signature = model.signatures[request.model_spec.signature_name]
        inputs = {{name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}}
        outputs = signature(**{{name: tf.constant(value) for name, value in inputs.items()}})
        print(json.dumps({{
            "probabilities": outputs["probabilities"].numpy().tolist(),
            "label": [label.decode() for label in outputs["label"].numpy()],
            "modules": sorted(m for m in sys.modules if m.startswith("ulmfit"))
        }}))
        """
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(answer["probabilities"], expected, atol=1e-5)
    assert answer["label"] == [["rotten", "fresh"][i] for i in expected.argmax(axis=1)]
    assert answer["modules"] == ["ulmfit_tf"]  # only the blocked entry


def test_errors(classifier, tmp_path):
    bare = ULMFiTTextClassifier.from_config(dict(classifier.get_config(), preprocessor=None))
    with pytest.raises(ValueError, match="has no `preprocessor`"):
        export_saved_model(bare, tmp_path / "bare")
    with pytest.raises(ValueError, match="must be a `ULMFiTTextClassifier`"):
        export_saved_model(keras.Sequential([keras.layers.Dense(1)]), tmp_path / "x")
    with pytest.raises(ValueError, match="Argument `version` must be a positive integer"):
        export_saved_model(classifier, tmp_path / "serving", version=0)
