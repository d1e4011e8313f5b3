"""ULMFiT end to end: pretrain, fine-tune the LM, fit the classifier, test.

Used by `python -m ulmfit_tf.demo` (the bundled data) and by
`ulmfit-tf pipeline` (your files). Each stage's model is saved in its own
folder under `output`, with a fingerprint of what made it (the preset's
settings, the seed, digests of the data and of the stage before it).
Rerunning the same command reuses a stage folder only when its fingerprint
matches, and resumes an interrupted stage from its last epoch checkpoint;
a stage whose settings or data changed is refused with one line naming
what changed (`overwrite=True` retrains it).
"""

import contextlib
import os
import time
import warnings

import numpy as np

# The bundled preset (`ulmfit_tf.presets.list_presets()`) the `small` recipe starts from.
BUNDLED_LANGUAGE_MODEL = "awd_lstm_small_en"

# Training recipes: the sizes, epochs and rates of each stage.
RECIPES = {
    # About 8.5 minutes on 2 CPU cores from the bundled preset (see README).
    "small": dict(
        # Starts from the bundled English language model; `language_model=None` (`--pretrain`) pretrains
        # one of the sizes below on the news instead.
        language_model=BUNDLED_LANGUAGE_MODEL,
        pretrain_words=300_000, vocabulary_size=4000, embedding_dim=128, hidden_dim=320, num_layers=3,
        dropout_multiplier=0.3, lm_batch_size=16, bptt=48, pretrain_epochs=2, pretrain_learning_rate=2e-2,
        finetune_epochs=2, finetune_learning_rate=1e-2,
        # Chosen on the validation split (pretraining/README.md, recipes.jsonl). From the bundled
        # model: all layers at one rate, dropouts x 0.3: 0.7512 (two seeds) vs x 0.5: 0.7369,
        # x 1: 0.6291, gradual unfreezing: 0.6414. From the 10-minute LM: all layers at one rate
        # 0.750 vs gradual unfreezing 0.668 and all layers at discriminative rates 0.672.
        classifier_batch_size=64, classifier_epochs=6, classifier_learning_rate=1e-2,
        classifier_gradual_unfreezing=False, classifier_factor=1.0, classifier_dropout_multiplier=0.3,
        # Few labels get at least 240 updates (more epochs). 200 labels, validation over two seeds:
        # 0.5800 at 30 epochs (240 steps), 0.5707 at 60, 0.5630 at 6 (48 steps). All labels: unchanged.
        classifier_min_steps=240, classifier_restore_best_weights=False,
    ),
    # The paper's model size, for a GPU or a long CPU run.
    "paper": dict(
        language_model=None,
        pretrain_words=None, vocabulary_size=15000, embedding_dim=400, hidden_dim=1152, num_layers=3,
        dropout_multiplier=1.0, lm_batch_size=64, bptt=72, pretrain_epochs=4, pretrain_learning_rate=5e-3,
        finetune_epochs=4, finetune_learning_rate=4e-3, classifier_batch_size=64, classifier_epochs=5,
        classifier_learning_rate=1e-2, classifier_gradual_unfreezing=True, classifier_factor=2.6,
        classifier_dropout_multiplier=None, classifier_min_steps=None, classifier_restore_best_weights=False,
    ),
    # Seconds, for tests.
    "tiny": dict(
        language_model=None,
        pretrain_words=8_000, vocabulary_size=300, embedding_dim=16, hidden_dim=24, num_layers=2,
        dropout_multiplier=1.0, lm_batch_size=8, bptt=20, pretrain_epochs=1, pretrain_learning_rate=5e-3,
        finetune_epochs=1, finetune_learning_rate=4e-3, classifier_batch_size=32, classifier_epochs=2,
        classifier_learning_rate=1e-2, classifier_gradual_unfreezing=True, classifier_factor=2.6,
        classifier_dropout_multiplier=None, classifier_min_steps=None, classifier_restore_best_weights=False,
    ),
}

PRESETS = RECIPES  # deprecated name ("preset" now means a pretrained model)

# The entries of a recipe each stage's result depends on (with the seed, its
# data and the stages before it): what its folder's fingerprint records.
STAGE_SETTINGS = {
    "language_model": (
        "pretrain_words", "vocabulary_size", "embedding_dim", "hidden_dim", "num_layers", "dropout_multiplier",
        "lm_batch_size", "bptt", "pretrain_epochs", "pretrain_learning_rate",
    ),
    "finetuned_language_model": ("lm_batch_size", "bptt", "finetune_epochs", "finetune_learning_rate"),
    "classifier": (
        "classifier_batch_size", "classifier_epochs", "classifier_learning_rate", "classifier_gradual_unfreezing",
        "classifier_factor", "classifier_dropout_multiplier", "classifier_min_steps",
        "classifier_restore_best_weights",
    ),
}


def classifier_options(recipe):
    """The keyword arguments of `stages.fit_classifier` a recipe sets.

    Args:
        recipe: A recipe's name (see `RECIPES`) or a dict of its entries.

    Returns:
        A dict: `batch_size`, `epochs`, `min_steps`, `learning_rate`,
        `gradual_unfreezing`, `factor`, `dropout_multiplier` and
        `restore_best_weights`.

    Example:

    ```python
    classifier = stages.fit_classifier(
        tuned, texts, labels, seed=1, **classifier_options("small"))
    ```
    """
    if isinstance(recipe, str):
        if recipe not in RECIPES:
            raise ValueError(f"Argument `recipe` must be one of {tuple(RECIPES)}. Received: recipe={recipe!r}")
        recipe = RECIPES[recipe]
    return {key[len("classifier_"):]: recipe[key] for key in STAGE_SETTINGS["classifier"]}


def run_pipeline(
    pretrain_texts,
    train,
    test,
    validation=None,
    unlabelled=(),
    output="runs/pipeline",
    recipe="small",
    seed=42,
    language_model="recipe",
    backwards=False,
    tensorboard_dir=None,
    export=True,
    verbose="auto",
    log=print,
    overwrite=False,
    **overrides,
):
    """Runs the three stages and tests the classifier.

    Args:
        pretrain_texts: List of strings, the general-domain corpus (used
            only when the language model is pretrained).
        train: `(texts, labels)` of the target task.
        test: `(texts, labels)`, evaluated once at the end.
        validation: Optional `(texts, labels)`, watched during training.
        unlabelled: More in-domain texts for LM fine-tuning.
        output: Folder for the models and checkpoints.
        recipe: `"small"`, `"paper"` or `"tiny"` (see `RECIPES`); `preset=`
            is its deprecated name.
        seed: Integer.
        language_model: Where stage 1 starts: `"recipe"` (the recipe's
            `language_model` entry), `None` (pretrain on `pretrain_texts`),
            a preset's name or folder (`ULMFiTLanguageModel.from_preset`),
            or a `ULMFiTLanguageModel`. A given language model is fine-tuned
            as it is, without pretraining again.
        backwards: Boolean, train backward (reversed-text) models.
        tensorboard_dir: Optional folder for TensorBoard logs.
        export: Boolean, end by exporting the classifier as a SavedModel
            and a dynamic-range int8 TFLite file, each tested on `test`.
        verbose: Keras' `fit` verbosity.
        log: Function printing progress lines.
        overwrite: Boolean, retrain (and replace) stage folders whose
            fingerprint differs, instead of refusing.
        **overrides: Entries of the recipe to change.

    Returns:
        A dict of results: test metrics, perplexities, paths, minutes (in
        all, and per stage in `stage_minutes`).
    """
    from ulmfit_tf.model_directory import exclusive

    if "preset" in overrides:
        warnings.warn("`run_pipeline(preset=...)` is deprecated: use `recipe=...`.", DeprecationWarning, stacklevel=2)
        recipe = overrides.pop("preset")
    if recipe not in RECIPES:
        raise ValueError(f"Argument `recipe` must be one of {tuple(RECIPES)}. Received: recipe={recipe!r}")
    unknown = set(overrides) - set(RECIPES[recipe])
    if unknown:
        raise ValueError(f"Unknown recipe entries {sorted(unknown)}; known: {sorted(RECIPES[recipe])}")
    config = dict(RECIPES[recipe], **{k: v for k, v in overrides.items() if v is not None})
    if isinstance(language_model, str) and language_model == "recipe":
        language_model = config["language_model"]
    check_labels_seen(train, test, validation)
    start = time.time()
    check_pipeline_output(output)
    with exclusive(output):
        _mark_pipeline_output(output)
        return _run_stages(
            pretrain_texts, train, test, validation, unlabelled, output, config, seed, backwards, tensorboard_dir,
            export, verbose, log, overwrite, start, language_model,
        )


def _run_stages(
    pretrain_texts, train, test, validation, unlabelled, output, config, seed, backwards, tensorboard_dir, export,
    verbose, log, overwrite, start, starting_point,
):
    import keras

    from ulmfit_tf import stages
    from ulmfit_tf.callbacks import EpochCheckpoint
    from ulmfit_tf.errors import UserInputError
    from ulmfit_tf.fingerprint import digest
    from ulmfit_tf.fingerprint import fingerprint_changes
    from ulmfit_tf.model_directory import load_model_directory
    from ulmfit_tf.model_directory import read_manifest
    from ulmfit_tf.model_directory import save_model_directory
    from ulmfit_tf.text import SentencePieceTokenizer

    direction = "backward" if backwards else "forward"

    def callbacks(name):
        if tensorboard_dir is None:
            return []
        return [keras.callbacks.TensorBoard(os.path.join(tensorboard_dir, f"{direction}_{name}"))]

    upstream = []  # the fingerprint of each stage includes those before it
    seconds = {}  # where the minutes go, stage by stage

    def timed(name, work):
        began = time.time()
        result = work()
        seconds[name] = seconds.get(name, 0.0) + time.time() - began
        return result

    def stage(name, kind, train_fn, inputs):
        directory = os.path.join(output, f"{direction}_{name}")
        settings = {key: config[key] for key in STAGE_SETTINGS[name]}
        fingerprint = dict(settings, stage=name, seed=seed, data=digest(inputs), before=digest(upstream))
        upstream.append(fingerprint)
        if os.path.isdir(directory):
            changes = fingerprint_changes((read_manifest(directory) or {}).get("fingerprint"), fingerprint)
            if not changes:
                log(f"[{name}] already done: loading {directory}")
                return timed(name, lambda: load_model_directory(directory, kind)), directory
            if not overwrite:
                raise UserInputError(
                    f"{directory!r} was made with other settings or data ({changes}): pass --overwrite "
                    "(`overwrite=True`) to retrain it, or give another output folder."
                )
            log(f"[{name}] retraining: {changes}")
        log(f"[{name}] {time.time() - start:.0f}s elapsed")
        checkpoints = os.path.join(output, "checkpoints", f"{direction}_{name}")
        model = timed(name, lambda: train_fn(checkpoints))
        save_model_directory(model, directory, kind, overwrite=True, fingerprint=fingerprint)
        EpochCheckpoint(checkpoints).clear()
        with contextlib.suppress(OSError):
            os.rmdir(os.path.dirname(checkpoints))  # when no other stage's checkpoints are left
        return model, directory

    if starting_point is None:
        pretrain_texts, valid_texts = split_corpus(pretrain_texts, config["pretrain_words"], seed)
        log(f"pretraining corpus: {len(pretrain_texts):,} texts, {_words(pretrain_texts):,} words; "
            f"{len(valid_texts):,} held out")
        lm_sizes = dict(
            embedding_dim=config["embedding_dim"], hidden_dim=config["hidden_dim"], num_layers=config["num_layers"],
            dropout_multiplier=config["dropout_multiplier"],
        )

        def pretrain(checkpoint_dir):
            log(f"training a SentencePiece vocabulary of {config['vocabulary_size']} pieces")
            tokenizer = SentencePieceTokenizer.train(pretrain_texts, vocabulary_size=config["vocabulary_size"], seed=seed)
            return stages.pretrain_language_model(
                pretrain_texts, valid_texts, tokenizer=tokenizer, batch_size=config["lm_batch_size"],
                bptt=config["bptt"], epochs=config["pretrain_epochs"], learning_rate=config["pretrain_learning_rate"],
                backwards=backwards, checkpoint_dir=checkpoint_dir, seed=seed, callbacks=callbacks("pretrain"),
                verbose=verbose, **lm_sizes,
            )

        language_model, _ = stage("language_model", "language_model", pretrain, [pretrain_texts, valid_texts])
    else:
        language_model, valid_texts = timed("language_model", lambda: _starting_point(starting_point, backwards)), None
        upstream.append({"stage": "language_model", "weights": stages.weights_digest(language_model)})
        log(f"[language_model] starting from {_describe(starting_point)} (no pretraining)")
    train_texts, train_labels = train
    validation_texts = None if validation is None else list(validation[0])
    finetune_texts = list(train_texts) + list(unlabelled)

    def finetune(checkpoint_dir):
        log(f"fine-tuning the language model on {len(finetune_texts):,} target-task texts")
        return stages.finetune_language_model(
            language_model, finetune_texts, validation_texts, batch_size=config["lm_batch_size"],
            bptt=config["bptt"], epochs=config["finetune_epochs"], learning_rate=config["finetune_learning_rate"],
            checkpoint_dir=checkpoint_dir, seed=seed, callbacks=callbacks("finetune"), verbose=verbose,
        )

    tuned, _ = stage("finetuned_language_model", "language_model", finetune, [finetune_texts, validation_texts])

    def fit(checkpoint_dir):
        how = "gradual unfreezing" if config["classifier_gradual_unfreezing"] else "all layers"
        log(f"fitting the classifier on {len(train_texts):,} labelled texts ({how})")
        restore = config["classifier_restore_best_weights"]
        if restore and validation is None:
            log("no validation split: the classifier keeps its last epoch's weights")
        options = dict(classifier_options(config), restore_best_weights=restore and validation is not None)
        return stages.fit_classifier(
            tuned, train_texts, train_labels, validation=validation, checkpoint_dir=checkpoint_dir, seed=seed,
            callbacks=callbacks("classifier"), verbose=verbose, **options,
        )

    classifier, classifier_dir = stage("classifier", "classifier", fit, [train, validation])
    metrics = timed("test", lambda: stages.evaluate(classifier, *test))
    exports = timed("export", lambda: _export(classifier, output, direction, test, log)) if export else {}
    perplexities = timed("perplexity", lambda: (
        None if valid_texts is None else _perplexity(language_model, valid_texts, config),
        None if validation_texts is None else _perplexity(tuned, validation_texts, config),
    ))
    results = {
        "test_accuracy": metrics["accuracy"],
        "test_error": metrics["error"],
        "test_count": metrics["count"],
        "pretrain_perplexity": perplexities[0],
        "finetuned_perplexity": perplexities[1],
        "classifier": classifier_dir,
        "minutes": (time.time() - start) / 60,
        "stage_minutes": {name: value / 60 for name, value in seconds.items()},
        "exports": exports,
    }
    return results, classifier


def _starting_point(language_model, backwards):
    """The language model stage 1 starts from: a model, or a preset's name or folder."""
    from ulmfit_tf.errors import UserInputError
    from ulmfit_tf.models import ULMFiTLanguageModel

    if not isinstance(language_model, ULMFiTLanguageModel):
        language_model = ULMFiTLanguageModel.from_preset(language_model)
    if bool(getattr(language_model.preprocessor, "reverse", False)) != bool(backwards):
        reads, wanted = ("backward", "forward") if not backwards else ("forward", "backward")
        raise UserInputError(
            f"The language model {_describe(language_model)} reads {reads}, and this run trains a {wanted} "
            "classifier: give a language model of that direction, or pretrain one (--pretrain)."
        )
    return language_model


def _describe(language_model):
    return repr(language_model) if isinstance(language_model, str) else f"{language_model.name!r}"


def _export(classifier, output, direction, test, log):
    """Exports the SavedModel and the dynamic-range int8 TFLite file; their test accuracy and size."""
    from ulmfit_tf.model_directory import file_size
    from ulmfit_tf.export import TFLiteClassifier
    from ulmfit_tf.export import export_saved_model
    from ulmfit_tf.export import export_tflite
    from ulmfit_tf.export import predict_saved_model

    texts, labels = test
    log("[export] SavedModel and dynamic-range int8 TFLite")
    saved_model = export_saved_model(classifier, os.path.join(output, f"{direction}_saved_model"), overwrite=True)
    predicted = predict_saved_model(saved_model, texts)[0]
    tflite = export_tflite(
        classifier, os.path.join(output, f"{direction}_classifier.dynamic_int8.tflite"), "dynamic_int8", overwrite=True
    )
    tflite_labels = TFLiteClassifier(tflite).predict(texts)[0]
    return {
        "saved_model": (saved_model, file_size(saved_model), _accuracy(predicted, labels)),
        "tflite_dynamic_int8": (tflite, file_size(tflite), _accuracy(tflite_labels, labels)),
    }


def bundled_task():
    """The main job's task: Rotten Tomatoes `(train, validation, test, unlabelled)`, labels as names."""
    from ulmfit_tf import datasets

    reviews = datasets.load_rotten_tomatoes()
    names = reviews["label_names"]

    def split(name):
        return reviews[name]["texts"], [names[i] for i in reviews[name]["labels"]]

    return split("train"), split("validation"), split("test"), reviews["plot_summaries"]


def bundled_corpus():
    """The main job's corpus for `--pretrain`: the texts of the 2017 news articles."""
    from ulmfit_tf import datasets

    return [article["text"] for article in datasets.load_news_articles()]


def check_pipeline_output(output):
    """Refuses an `output` that is not missing, empty, or a pipeline folder ulmfit-tf wrote."""
    from ulmfit_tf.model_directory import check_output

    check_output(output, "pipeline", overwrite=True)


def _mark_pipeline_output(output):
    from ulmfit_tf.model_directory import MANIFEST
    from ulmfit_tf.model_directory import write_manifest

    os.makedirs(output, exist_ok=True)
    if not os.path.exists(os.path.join(output, MANIFEST)):
        write_manifest(output, "pipeline")


def check_labels_seen(train, test, validation=None):
    """Refuses, before any training, test or validation labels that the training labels never show."""
    from ulmfit_tf.errors import UserInputError

    known = {str(label) for label in train[1]}
    for name, split in (("test", test), ("validation", validation)):
        if split is None:
            continue
        unseen = sorted({str(label) for label in split[1]} - known)
        if unseen:
            raise UserInputError(
                f"The {name} labels {unseen[:5]} never occur in the training labels ({sorted(known)[:10]}): "
                "fix the label column or the files."
            )


def _accuracy(predicted, labels):
    return float(np.mean([str(p) == str(y) for p, y in zip(predicted, labels)]))


def _perplexity(language_model, texts, config):
    """`stages.perplexity` with the recipe's window length (the old private home, kept for scripts)."""
    from ulmfit_tf import stages

    return stages.perplexity(language_model, texts, config["bptt"])


def split_corpus(texts, words, seed):
    """The pipeline's pretraining split: `(train, validation)` texts.

    Empty texts are dropped; a seeded 5% of the texts (at least one) is
    held out, and the training texts are the first of the rest up to
    `words` words (all of them when `words` is `None`).

    Args:
        texts: List of strings.
        words: Integer or `None`, the training words to keep.
        seed: Integer.

    Returns:
        Two lists of strings.

    Example:

    ```python
    train, validation = split_corpus(news, words=300_000, seed=42)
    ```
    """
    texts = [t for t in texts if t.strip()]
    order = np.random.default_rng(seed).permutation(len(texts))
    n_valid = max(1, len(texts) // 20)
    valid = [texts[i] for i in order[:n_valid]]
    rest = [texts[i] for i in order[n_valid:]]
    if words is not None:
        counts = np.cumsum([len(t.split()) for t in rest])
        rest = rest[: max(1, int(np.searchsorted(counts, words)) + 1)]
    return rest, valid


_split_corpus = split_corpus  # the old private name, used by scripts


def _words(texts):
    return sum(len(t.split()) for t in texts)


def __getattr__(name):
    # Deprecated homes of two helpers (kept importable without loading Keras at import time).
    if name == "file_size":
        from ulmfit_tf.model_directory import file_size

        return file_size
    if name == "summary_table":
        from ulmfit_tf.cli import format_table

        return format_table
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
