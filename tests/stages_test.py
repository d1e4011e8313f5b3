import math
import os
import signal
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from ulmfit_tf import datasets
from ulmfit_tf import stages
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.fingerprint import digest
from ulmfit_tf.models import ULMFiTLanguageModel
from ulmfit_tf.text.language_model_source import LanguageModelSource
from ulmfit_tf.training import TrainingDiverged

TINY = dict(vocabulary_size=200, embedding_dim=8, hidden_dim=16, num_layers=2, batch_size=8, bptt=16, verbose=0)


@pytest.fixture(scope="module")
def reviews():
    data = datasets.load_rotten_tomatoes()
    return {
        "train": (data["train"]["texts"][:160], [data["label_names"][i] for i in data["train"]["labels"][:160]]),
        "test": (data["test"]["texts"][:64], [data["label_names"][i] for i in data["test"]["labels"][:64]]),
        "unlabelled": data["plot_summaries"][:40],
    }


@pytest.fixture(scope="module")
def language_model():
    news = [a["text"] for a in datasets.load_news_articles()[:40]]
    keras.utils.set_random_seed(0)
    return stages.pretrain_language_model(news[:36], news[36:], seed=0, **TINY)


def weights_of(model):
    return [w.copy() for w in model.get_weights()]


def test_three_stages_evaluate_and_predict(language_model, reviews, tmp_path):
    history = language_model.history.history
    assert set(history) >= {"loss", "val_loss"} and np.isfinite(history["val_loss"][-1])
    before = weights_of(language_model)
    texts, labels = reviews["train"]
    tuned = stages.finetune_language_model(
        language_model, texts + reviews["unlabelled"], texts[:40], batch_size=8, bptt=16, verbose=0
    )
    for a, b in zip(before, weights_of(language_model)):
        np.testing.assert_array_equal(a, b)  # the source is left as it was
    assert tuned.preprocessor is language_model.preprocessor
    assert not np.allclose(tuned.backbone.token_embedding.embeddings.numpy(), before[0])
    classifier = stages.fit_classifier(tuned, texts, labels, validation=reviews["test"], batch_size=16, epochs=2, verbose=0)
    assert classifier.label_names == ["fresh", "rotten"]
    assert classifier.history.history["trainable_groups"] == [1, 2]
    metrics = stages.evaluate(classifier, *reviews["test"])
    test_texts, test_labels = reviews["test"]
    assert metrics["count"] == 64
    # The accuracy is the share of predicted labels equal to the true ones, counted here independently.
    predicted_test, _ = stages.predict(classifier, test_texts)
    assert metrics["accuracy"] == pytest.approx(np.mean([p == y for p, y in zip(predicted_test, test_labels)]))
    assert metrics["error"] == pytest.approx(100 * (1 - metrics["accuracy"]))
    assert metrics["accuracy"] == pytest.approx(classifier.history.history["val_accuracy"][-1], abs=1e-6)
    predicted, probabilities = stages.predict(classifier, ["A triumph.", "", "x" * 5000])
    assert set(predicted) <= {"fresh", "rotten"} and probabilities.shape == (3, 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-6)


def test_backward_model_and_ensemble(language_model, reviews):
    texts, labels = reviews["train"]
    news = [a["text"] for a in datasets.load_news_articles()[:40]]
    backward_lm = stages.pretrain_language_model(
        news, tokenizer=language_model.preprocessor.tokenizer, backwards=True, seed=1,
        **{k: v for k, v in TINY.items() if k != "vocabulary_size"}
    )
    forward_tokenizer, backward_tokenizer = language_model.preprocessor.tokenizer, backward_lm.preprocessor.tokenizer
    assert backward_tokenizer.reverse and not forward_tokenizer.reverse
    sample = ["A fine, moving film."]
    assert backward_tokenizer(sample).to_list()[0] == forward_tokenizer(sample).to_list()[0][::-1]
    forward = stages.fit_classifier(language_model, texts, labels, batch_size=16, epochs=1, verbose=0)
    backward = stages.fit_classifier(backward_lm, texts, labels, batch_size=16, epochs=1, verbose=0)
    _, p_forward = stages.predict(forward, texts[:8])
    _, p_backward = stages.predict(backward, texts[:8])
    _, p_both = stages.predict([forward, backward], texts[:8])
    np.testing.assert_allclose(p_both, (p_forward + p_backward) / 2, rtol=1e-5)


def test_same_seed_same_weights(language_model, reviews):
    texts, labels = reviews["train"]
    runs = [
        stages.fit_classifier(language_model, texts[:64], labels[:64], batch_size=16, epochs=2, seed=5, verbose=0)
        for _ in range(2)
    ]
    for a, b in zip(weights_of(runs[0]), weights_of(runs[1])):
        np.testing.assert_array_equal(a, b)


RESUME_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    import keras, numpy as np
    from ulmfit_tf import datasets, stages
    model_path, checkpoint_dir, output, kill = sys.argv[1:5]
    data = datasets.load_rotten_tomatoes()
    texts = data["train"]["texts"][:96]
    labels = [data["label_names"][i] for i in data["train"]["labels"][:96]]
    language_model = keras.saving.load_model(model_path)

    class Kill(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
        def on_train_batch_end(self, batch, logs=None):
            if kill == "yes" and self.epoch == 2 and batch == 2:
                os.kill(os.getpid(), signal.SIGKILL)

    classifier = stages.fit_classifier(
        language_model, texts, labels, batch_size=16, epochs=3, seed=3,
        checkpoint_dir=None if checkpoint_dir == "-" else checkpoint_dir, callbacks=[Kill()], verbose=0,
    )
    np.savez(output, *classifier.get_weights())
    """
)


def test_killed_run_resumes_to_the_same_weights(language_model, tmp_path):
    model_path = str(tmp_path / "lm.keras")
    language_model.save(model_path)
    script = tmp_path / "train.py"
    script.write_text(RESUME_SCRIPT)
    checkpoints = str(tmp_path / "checkpoints")

    def run(checkpoint_dir, output, kill):
        return subprocess.run(
            [sys.executable, str(script), model_path, checkpoint_dir, str(tmp_path / output), kill],
            capture_output=True, text=True, timeout=600,
        )

    killed = run(checkpoints, "killed.npz", "yes")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert sorted(os.listdir(checkpoints)) == ["epoch_0002"]  # epochs 1 and 2 done, the third cut short
    resumed = run(checkpoints, "resumed.npz", "no")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert sorted(os.listdir(checkpoints)) == ["epoch_0003"]
    straight = run("-", "straight.npz", "no")
    assert straight.returncode == 0, straight.stderr[-2000:]
    with np.load(tmp_path / "resumed.npz") as a, np.load(tmp_path / "straight.npz") as b:
        assert len(a.files) == len(b.files) > 0
        for key in a.files:
            np.testing.assert_allclose(a[key], b[key], rtol=1e-5, atol=1e-6)


def test_nan_loss_stops_with_a_clear_message(language_model, reviews, tmp_path):
    texts, labels = reviews["train"]

    class Poison(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 3:
                kernel = self.model.head.denses[-1].kernel
                kernel.assign(np.full(kernel.shape, np.nan, "float32"))

    with pytest.raises(TrainingDiverged, match=r"Training stopped at epoch 1: the loss became nan.*Lower the learning rate"):
        stages.fit_classifier(
            language_model, texts, labels, batch_size=16, epochs=2, callbacks=[Poison()],
            checkpoint_dir=tmp_path / "ckpt", verbose=0,
        )
    assert not os.path.exists(tmp_path / "ckpt" / "epoch_0001")


def test_bad_inputs(language_model, reviews):
    texts, labels = reviews["train"]
    with pytest.raises(ValueError, match="must have the same length. Received: 160 texts and 3 labels"):
        stages.fit_classifier(language_model, texts, labels[:3], verbose=0)
    with pytest.raises(ValueError, match="The texts are empty"):
        stages.fit_classifier(language_model, [], [], verbose=0)
    bare = ULMFiTLanguageModel(language_model.backbone)
    with pytest.raises(ValueError, match="must carry its tokenizer"):
        stages.finetune_language_model(bare, texts, verbose=0)
    with pytest.raises(ValueError, match=r"The texts are too short for one batch: \d+ tokens"):
        stages.finetune_language_model(language_model, ["Too short."], batch_size=8, bptt=16, verbose=0)
    with pytest.raises(ValueError, match="not one of the known labels"):
        stages.fit_classifier(language_model, texts, labels, validation=(texts[:2], ["fresh", "meh"]), verbose=0)


def test_classifier_lr_find_sweeps_the_classifier_stage(language_model, reviews, tmp_path):
    texts, labels = reviews["train"]
    result = stages.classifier_lr_find(
        language_model, texts[:64], labels[:64], batch_size=16, num_steps=6, plot_path=tmp_path / "lr.png"
    )
    assert len(result.learning_rates) == len(result.losses) <= 6
    assert result.suggestions and os.path.exists(tmp_path / "lr.png")


def test_perplexity_is_the_exponential_of_the_validation_loss(language_model):
    # Keras' val_loss of the last epoch read the same held-out stream, state carried, in the same windows.
    news = [a["text"] for a in datasets.load_news_articles()[:40]]
    value = stages.perplexity(language_model, news[36:], bptt=16)
    assert value == pytest.approx(np.exp(language_model.history.history["val_loss"][-1]), rel=1e-4)
    assert stages.perplexity(language_model, ["two words"], bptt=16) is None  # less than one window


def test_split_corpus_holds_out_a_seeded_twentieth():
    from ulmfit_tf.pipeline.data import split_corpus

    texts = [f"text {i} " + "word " * i for i in range(1, 101)] + ["  "]
    train, validation = split_corpus(texts, words=None, seed=3)
    assert len(validation) == 5 and len(train) == 95 and set(train) | set(validation) == set(texts[:100])
    assert split_corpus(texts, words=None, seed=3) == (train, validation)
    kept, same_validation = split_corpus(texts, words=300, seed=3)
    assert same_validation == validation and kept == train[: len(kept)]
    assert sum(len(t.split()) for t in kept[:-1]) < 300 <= sum(len(t.split()) for t in kept)


def test_settings_and_keyword_overrides_are_one_call(language_model, reviews):
    from ulmfit_tf.recipe import ClassifierSettings

    texts, labels = reviews["train"]
    settings = ClassifierSettings(batch_size=16, epochs=1, factor=1.0, gradual_unfreezing=False)
    by_settings = stages.fit_classifier(language_model, texts[:40], labels[:40], settings=settings, seed=2, verbose=0)
    by_keywords = stages.fit_classifier(
        language_model, texts[:40], labels[:40], settings=ClassifierSettings(epochs=3), seed=2, verbose=0,
        batch_size=16, epochs=1, factor=1.0, gradual_unfreezing=False,
    )
    for a, b in zip(weights_of(by_settings), weights_of(by_keywords)):
        np.testing.assert_array_equal(a, b)
    assert by_settings.fingerprint == by_keywords.fingerprint and by_settings.fingerprint["epochs"] == 1
    with pytest.raises(TypeError, match=r"Argument `epoch` is not a setting of `ClassifierSettings` \(its settings: "
                       r"batch_size, epochs, .*\)\. Received: epoch=3"):
        stages.fit_classifier(language_model, texts, labels, epoch=3)
    with pytest.raises(TypeError, match=r"Argument `settings` must be a `ClassifierSettings`"):
        stages.fit_classifier(language_model, texts, labels, settings=dict(epochs=3))


def test_min_steps_reads_a_small_training_set_for_more_epochs(language_model, reviews):
    texts, labels = reviews["train"]
    few = dict(batch_size=16, factor=1, gradual_unfreezing=False, verbose=0)
    plain = stages.fit_classifier(language_model, texts[:40], labels[:40], epochs=1, **few)
    steps = int(plain.optimizer.iterations)  # one epoch of 40 texts (batched by length)
    assert len(plain.history.epoch) == 1 and 1 < steps < 20
    classifier = stages.fit_classifier(language_model, texts[:40], labels[:40], epochs=1, min_steps=20, **few)
    epochs = math.ceil(20 / steps)
    assert classifier.history.epoch == list(range(epochs)) and len(classifier.history.history["loss"]) == epochs
    assert int(classifier.optimizer.iterations) == epochs * steps >= 20
    # A training set with enough steps keeps its epochs.
    classifier = stages.fit_classifier(language_model, texts[:40], labels[:40], epochs=2, min_steps=steps, **few)
    assert classifier.history.epoch == [0, 1]
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match=f"Argument `min_steps` must be a positive integer or None. Received: min_steps={bad}"):
            stages.fit_classifier(language_model, texts, labels, min_steps=bad, verbose=0)


def test_restore_best_weights_keeps_the_epoch_of_best_validation_accuracy(language_model, reviews):
    texts, labels = reviews["train"]
    with pytest.raises(ValueError, match=r"Argument `restore_best_weights` needs `validation` to choose the epoch on"):
        stages.fit_classifier(language_model, texts, labels, restore_best_weights=True, verbose=0)
    classifier = stages.fit_classifier(
        language_model, texts, labels, validation=reviews["test"], batch_size=16, epochs=3, factor=1,
        gradual_unfreezing=False, restore_best_weights=True, verbose=0,
    )
    accuracies = classifier.history.history["val_accuracy"]
    assert classifier.history.best_epoch == int(np.argmax(accuracies))
    assert stages.evaluate(classifier, *reviews["test"])["accuracy"] == pytest.approx(max(accuracies), abs=1e-6)
    assert classifier.fingerprint["restore_best_weights"] is True


def assert_resumes_exactly(run, straight, checkpoints, stop_at):
    """`run(**options)` stopped as by Ctrl-C at the start of epoch `stop_at` ends, rerun, with `straight`'s weights."""

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == stop_at:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(checkpoint_dir=checkpoints, callbacks=[Interrupt()])
    assert sorted(os.listdir(checkpoints)) == [f"epoch_{stop_at:04d}"]
    resumed = run(checkpoint_dir=checkpoints)
    for a, b in zip(weights_of(resumed), weights_of(straight)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_checkpoint_every_cuts_a_pass_into_parts_that_resume_exactly(language_model, tmp_path):
    news = [a["text"] for a in datasets.load_news_articles()[:40]]
    sizes = {k: v for k, v in TINY.items() if k != "vocabulary_size"}
    tokenizer = language_model.preprocessor.tokenizer
    steps = LanguageModelSource(news[:8], tokenizer, batch_size=8, bptt=16).steps
    every = steps // 3 - 1  # three parts a pass, the last one longer
    parts = steps // every
    assert parts == 3

    def pretrain(**options):
        keras.utils.set_random_seed(0)
        return stages.pretrain_language_model(
            news[:8], news[36:], tokenizer=tokenizer, epochs=2, seed=0, checkpoint_every=every, **sizes, **options
        )

    straight = pretrain()
    assert len(straight.history.history["val_loss"]) == 2 * parts  # a validation per part
    assert int(straight.optimizer.iterations) == 2 * parts * (steps // parts)
    assert_resumes_exactly(pretrain, straight, str(tmp_path / "checkpoints"), stop_at=2)


def test_fine_tuning_in_parts_resumes_exactly(language_model, tmp_path):
    texts = [a["text"] for a in datasets.load_news_articles()[:8]]
    steps = LanguageModelSource(texts, language_model.preprocessor.tokenizer, batch_size=8, bptt=16).steps
    every = steps // 3 - 1  # three parts, the last one longer
    parts = steps // every
    assert parts == 3

    def finetune(**options):
        return stages.finetune_language_model(
            language_model, texts, texts[:4], batch_size=8, bptt=16, checkpoint_every=every, seed=0, verbose=0,
            **options
        )

    straight = finetune()
    assert len(straight.history.history["val_loss"]) == parts  # one pass, a validation per part
    assert straight.fingerprint["checkpoint_every"] == every
    assert_resumes_exactly(finetune, straight, str(tmp_path / "checkpoints"), stop_at=1)


def test_pretraining_starts_from_the_given_embeddings(language_model):
    news = [a["text"] for a in datasets.load_news_articles()[:40]]
    tokenizer = language_model.preprocessor.tokenizer
    sizes = {k: v for k, v in TINY.items() if k != "vocabulary_size"}
    start = np.random.default_rng(0).normal(size=(tokenizer.vocabulary_size(), 8)).astype("float32")
    model = stages.pretrain_language_model(news[:8], tokenizer=tokenizer, embeddings=start, epochs=1, **sizes)
    assert model.fingerprint["embeddings"] == digest([start])
    # Training moves the embedding from where it started (by ~0.2 here, against values of ~1) but keeps its shape.
    trained = model.backbone.token_embedding.embeddings.numpy()
    assert not np.allclose(trained, start) and np.corrcoef(trained.ravel(), start.ravel())[0, 1] > 0.9
    with pytest.raises(UserInputError, match=r"^Argument `embeddings` must have shape \(vocabulary_size, "
                       r"embedding_dim\) = \(200, 8\)\. Received: embeddings.shape=\(200, 9\)$"):
        stages.pretrain_language_model(news[:8], tokenizer=tokenizer, embeddings=np.zeros((200, 9)), **sizes)
