"""Running the pipeline: each stage once, its folder reused when its fingerprint matches."""

import contextlib
import dataclasses
import os
import time

import keras

from ulmfit_tf import stages
from ulmfit_tf.callbacks.epoch_checkpoint import EpochCheckpoint
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.fingerprint import fingerprint_changes
from ulmfit_tf.folders import MANIFEST
from ulmfit_tf.folders import check_output
from ulmfit_tf.folders import exclusive
from ulmfit_tf.folders import read_manifest
from ulmfit_tf.folders import write_manifest
from ulmfit_tf.model_directory import load_model_directory
from ulmfit_tf.model_directory import save_model_directory
from ulmfit_tf.models.ulmfit_language_model import ULMFiTLanguageModel
from ulmfit_tf.presets import load_language_model
from ulmfit_tf.pipeline.data import check_labels_seen
from ulmfit_tf.pipeline.data import split_corpus
from ulmfit_tf.pipeline.data import word_count
from ulmfit_tf.pipeline.exports import export_and_test
from ulmfit_tf.recipe import get_recipe
from ulmfit_tf.stages.fingerprints import classifier_fingerprint
from ulmfit_tf.stages.fingerprints import finetune_fingerprint
from ulmfit_tf.stages.fingerprints import pretrain_fingerprint
from ulmfit_tf.stages.fingerprints import weights_digest


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
    problem_type="single_label",
    label_names=None,
):
    """Runs the three stages and tests the classifier.

    Each stage's model is saved in its own folder under `output`, with the
    stage's fingerprint (`ulmfit_tf.stages.fingerprints`: its settings, the
    seed, digests of its data and of the model it starts from). Rerunning
    reuses a stage folder only when its fingerprint matches, and resumes an
    interrupted stage from its last epoch checkpoint; a stage whose settings
    or data changed is refused with one line naming what changed
    (`overwrite=True` retrains it).

    Args:
        pretrain_texts: List of strings, the general-domain corpus (used
            only when the language model is pretrained).
        train: `(texts, labels)` of the target task.
        test: `(texts, labels)`, evaluated once at the end.
        validation: Optional `(texts, labels)`, watched during training.
        unlabelled: More in-domain texts for LM fine-tuning.
        output: Folder for the models and checkpoints: missing, empty, or
            a pipeline folder ulmfit-tf wrote.
        recipe: A `Recipe`, or the name of one in `ulmfit_tf.recipe.RECIPES`
            (`"small"`, `"paper"`, `"tiny"`).
        seed: Integer.
        language_model: Where stage 1 starts: `"recipe"` (the recipe's
            `language_model`), `None` (pretrain on `pretrain_texts`), a
            preset's name or folder, a model or fastai folder
            (`ulmfit_tf.presets.load_language_model`),
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
        problem_type: `"single_label"`, or `"multi_label"` (each label a
            list of names), as in `stages.fit_classifier`.
        label_names: Optional list of the class names, in id order (by
            default the sorted labels of `train`).

    Returns:
        `(results, classifier)`: a dict of test metrics, perplexities,
        paths and minutes (in all, and per stage in `stage_minutes`), and
        the `ULMFiTTextClassifier`.

    Example:

    ```python
    recipe = dataclasses.replace(RECIPES["tiny"], classifier=ClassifierSettings(epochs=1))
    results, classifier = run_pipeline(news, train, test, recipe=recipe, output="runs/tiny")
    ```
    """
    recipe = get_recipe(recipe)
    if isinstance(language_model, str) and language_model == "recipe":
        language_model = recipe.language_model
    if problem_type not in ("single_label", "multi_label"):
        raise ValueError(
            f"Argument `problem_type` must be 'single_label' or 'multi_label'. Received: problem_type={problem_type!r}"
        )
    check_labels_seen(train, test, validation)
    check_output(output, "pipeline", overwrite=True)
    with exclusive(output):
        os.makedirs(output, exist_ok=True)
        if not os.path.exists(os.path.join(output, MANIFEST)):
            write_manifest(output, "pipeline")
        run = _Run(output, "backward" if backwards else "forward", tensorboard_dir, verbose, log, overwrite, seed)
        run.problem_type, run.label_names = problem_type, label_names
        return run.everything(recipe, language_model, pretrain_texts, train, test, validation, unlabelled, export)


class _Run:
    """One run of the pipeline: where it writes, its clock and its stages."""

    def __init__(self, output, direction, tensorboard_dir, verbose, log, overwrite, seed):
        self.output, self.direction, self.tensorboard_dir = output, direction, tensorboard_dir
        self.verbose, self.log, self.overwrite, self.seed = verbose, log, overwrite, seed
        self.start, self.seconds = time.time(), {}  # where the minutes go, stage by stage

    def everything(self, recipe, starting_point, pretrain_texts, train, test, validation, unlabelled, export):
        """The three stages, the test, the exports and the perplexities: the results and the classifier."""
        if starting_point is None:
            language_model, valid_texts = self.pretrain(recipe, pretrain_texts)
        else:
            language_model, valid_texts = self.timed("language_model", lambda: _starting_point(starting_point)), None
            _check_direction(language_model, starting_point, self.direction)
            self.log(f"[language_model] starting from {_describe(starting_point)} (no pretraining)")
        validation_texts = None if validation is None else list(validation[0])
        tuned = self.finetune(recipe, language_model, list(train[0]) + list(unlabelled), validation_texts)
        classifier, classifier_dir = self.classifier(recipe, tuned, train, validation)
        metrics = self.timed("test", lambda: stages.evaluate(classifier, *test))
        exports = {}
        if export:
            exports = self.timed("export", lambda: export_and_test(classifier, self.output, self.direction, test, self.log))
        perplexities = self.timed("perplexity", lambda: (
            None if valid_texts is None else stages.perplexity(language_model, valid_texts, recipe.pretrain.bptt),
            None if validation_texts is None else stages.perplexity(tuned, validation_texts, recipe.finetune.bptt),
        ))
        results = {
            "test_accuracy": metrics["accuracy"],
            "test_error": metrics["error"],
            "test_count": metrics["count"],
            "pretrain_perplexity": perplexities[0],
            "finetuned_perplexity": perplexities[1],
            "classifier": classifier_dir,
            "minutes": (time.time() - self.start) / 60,
            "stage_minutes": {name: value / 60 for name, value in self.seconds.items()},
            "exports": exports,
        }
        return results, classifier

    def pretrain(self, recipe, pretrain_texts):
        texts, valid_texts = split_corpus(pretrain_texts, recipe.pretrain_words, self.seed)
        self.log(f"pretraining corpus: {len(texts):,} texts, {word_count(texts):,} words; "
                 f"{len(valid_texts):,} held out")
        backwards = self.direction == "backward"
        fingerprint = pretrain_fingerprint(
            recipe.pretrain, texts, valid_texts, tokenizer=None, embeddings=None, backwards=backwards,
            seed=self.seed, dtype_policy=None,
        )

        def pretrain(checkpoint_dir):
            self.log(f"training a SentencePiece vocabulary of {recipe.pretrain.vocabulary_size} pieces")
            return stages.pretrain_language_model(
                texts, valid_texts, settings=recipe.pretrain, backwards=backwards, **self.run_options("pretrain", checkpoint_dir)
            )

        language_model, _ = self.stage("language_model", "language_model", fingerprint, pretrain)
        return language_model, valid_texts

    def finetune(self, recipe, language_model, texts, validation_texts):
        fingerprint = finetune_fingerprint(
            recipe.finetune, language_model, texts, validation_texts, seed=self.seed, dtype_policy=None
        )

        def finetune(checkpoint_dir):
            self.log(f"fine-tuning the language model on {len(texts):,} target-task texts")
            return stages.finetune_language_model(
                language_model, texts, validation_texts, settings=recipe.finetune,
                **self.run_options("finetune", checkpoint_dir),
            )

        return self.stage("finetuned_language_model", "language_model", fingerprint, finetune)[0]

    def classifier(self, recipe, tuned, train, validation):
        settings = recipe.classifier
        if settings.restore_best_weights and validation is None:
            self.log("no validation split: the classifier keeps its last epoch's weights")
            settings = dataclasses.replace(settings, restore_best_weights=False)
        texts, labels = train
        fingerprint = classifier_fingerprint(
            settings, tuned, texts, labels, validation, label_names=self.label_names, problem_type=self.problem_type,
            seed=self.seed,
            dtype_policy=None,
        )

        def fit(checkpoint_dir):
            how = "gradual unfreezing" if settings.gradual_unfreezing else "all layers"
            self.log(f"fitting the classifier on {len(texts):,} labelled texts ({how})")
            return stages.fit_classifier(
                tuned, texts, labels, validation, settings=settings, label_names=self.label_names,
                problem_type=self.problem_type, **self.run_options("classifier", checkpoint_dir)
            )

        return self.stage("classifier", "classifier", fingerprint, fit)

    def run_options(self, name, checkpoint_dir):
        """The stages' arguments every stage of the run shares."""
        callbacks = []
        if self.tensorboard_dir is not None:
            callbacks.append(keras.callbacks.TensorBoard(os.path.join(self.tensorboard_dir, f"{self.direction}_{name}")))
        return dict(checkpoint_dir=checkpoint_dir, seed=self.seed, callbacks=callbacks, verbose=self.verbose)

    def stage(self, name, kind, fingerprint, train):
        """The stage's model and folder: loaded when the folder's fingerprint matches, else trained and saved."""
        directory = os.path.join(self.output, f"{self.direction}_{name}")
        if os.path.isdir(directory):
            changes = fingerprint_changes((read_manifest(directory) or {}).get("fingerprint"), fingerprint)
            if not changes:
                self.log(f"[{name}] already done: loading {directory}")
                return self.timed(name, lambda: load_model_directory(directory, kind)), directory
            if not self.overwrite:
                raise UserInputError(
                    f"{directory!r} was made with other settings or data ({changes}): pass --overwrite "
                    "(`overwrite=True`) to retrain it, or give another output folder."
                )
            self.log(f"[{name}] retraining: {changes}")
        self.log(f"[{name}] {time.time() - self.start:.0f}s elapsed")
        checkpoints = os.path.join(self.output, "checkpoints", f"{self.direction}_{name}")
        model = self.timed(name, lambda: train(checkpoints))
        save_model_directory(model, directory, kind, overwrite=True, fingerprint=model.fingerprint)
        EpochCheckpoint(checkpoints).clear()
        with contextlib.suppress(OSError):
            os.rmdir(os.path.dirname(checkpoints))  # when no other stage's checkpoints are left
        return model, directory

    def timed(self, name, work):
        began = time.time()
        result = work()
        self.seconds[name] = self.seconds.get(name, 0.0) + time.time() - began
        return result


def _starting_point(language_model):
    """The language model stage 1 starts from: a model, or a preset's name or folder (or a model or fastai folder)."""
    if isinstance(language_model, ULMFiTLanguageModel):
        return language_model
    return load_language_model(language_model)


def _check_direction(language_model, given, direction):
    reads = "backward" if getattr(language_model.preprocessor.tokenizer, "reverse", False) else "forward"
    if reads != direction:
        raise UserInputError(
            f"The language model {_describe(given)} reads {reads}, and this run trains a {direction} "
            "classifier: give a language model of that direction, or pretrain one (--pretrain)."
        )


def _describe(language_model):
    return repr(language_model) if isinstance(language_model, str) else f"{language_model.name!r}"
