"""Size and latency of the exported classifiers: TFLite variants vs Keras vs fastai.

For each size, exports the classifier as TFLite (`none`, `float16`,
`dynamic_int8`, `int8`) and times, on one document of exactly 128 tokens
with 1 thread, interleaved round by round so that all see the same machine
load:

- each `.tflite` file run by `ulmfit_tf.export.TFLiteClassifier` on LiteRT
  (the text goes in; tokenization is inside the file and inside the time);
- Keras `predict_on_batch` on the 1 x 128 ids, as trained (no XLA: Keras'
  `jit_compile="auto"` is off on CPUs) and compiled with
  `jit_compile=True` (XLA, compiled once for the shape before timing);
- Keras `predict([text])` on the text, as a user calls it: one text is
  tokenized, padded to its bucketed length (here 128) and run by the
  model compiled with XLA once per bucket (in the warm-up calls), with no
  opt-in; its time includes tokenization, which the fastai row's does
  not;
- fastai 2.8's eval-mode classifier (`get_text_classifier`, seq_len 72,
  max_len 1440) on the same ids under `torch.no_grad()`, when fastai is
  installed (`pip install -e .[bench]`, then `pip install --no-deps
  fastai==2.8.12`).

Sizes: `paper` (emb 400, hidden 1152, 3 layers, 15,000 SentencePiece
pieces; random weights) and `demo` (the main job's trained classifier from
`--demo-dir`, whose accuracy on the Rotten Tomatoes test split is measured
for Keras and for every file, with each file's argmax agreement with Keras
and its largest probability difference).

    python benchmarks/export_latency.py --write
"""

import argparse
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)

import numpy as np  # noqa: E402

from report import fastai_available  # noqa: E402
from report import measure  # noqa: E402
from report import write_section  # noqa: E402

from ulmfit_tf import datasets  # noqa: E402
from ulmfit_tf.export import QUANTIZATIONS  # noqa: E402
from ulmfit_tf.export import TFLiteClassifier  # noqa: E402
from ulmfit_tf.export import export_tflite  # noqa: E402
from ulmfit_tf.model_directory import load_model_directory  # noqa: E402
from ulmfit_tf.models import AWDLSTMBackbone  # noqa: E402
from ulmfit_tf.models import ULMFiTTextClassifier  # noqa: E402
from ulmfit_tf.text import SentencePieceTokenizer  # noqa: E402

TOKENS = 128


def paper_classifier(corpus):
    tokenizer = SentencePieceTokenizer.train(corpus, vocabulary_size=15000)
    backbone = AWDLSTMBackbone(tokenizer.vocabulary_size(), 400, 1152, 3, padding_id=1, seed=0)
    return ULMFiTTextClassifier(backbone, 2, preprocessor=tokenizer, label_names=["rotten", "fresh"], seed=0)


def text_of_length(tokenizer, corpus, length):
    """A prefix of a corpus text that tokenizes to exactly `length` ids."""
    for text in corpus:
        words = text.split()
        low, high = 1, len(words)
        while low <= high:
            middle = (low + high) // 2
            prefix = " ".join(words[:middle])
            count = int(tokenizer([prefix]).row_lengths()[0])
            if count == length:
                return prefix
            low, high = (middle + 1, high) if count < length else (low, middle - 1)
    raise ValueError(f"No corpus text tokenizes to exactly {length} ids.")


def xla_copy(classifier, ids):
    """The classifier with the same weights, compiled with `jit_compile=True` and run once on `ids`."""
    copy = ULMFiTTextClassifier.from_config(classifier.get_config())
    copy.predict_on_batch(ids)
    copy.set_weights(classifier.get_weights())
    copy.compile(jit_compile=True)
    np.testing.assert_allclose(copy.predict_on_batch(ids), classifier.predict_on_batch(ids), atol=1e-4)
    return copy


def fastai_classifier(classifier):
    import torch
    from fastai.text.all import AWD_LSTM
    from fastai.text.all import awd_lstm_clas_config
    from fastai.text.all import get_text_classifier

    torch.set_num_threads(1)
    backbone = classifier.backbone
    config = dict(awd_lstm_clas_config, emb_sz=backbone.embedding_dim, n_hid=backbone.hidden_dim,
                  n_layers=backbone.num_layers)
    model = get_text_classifier(AWD_LSTM, backbone.vocabulary_size, classifier.num_classes, seq_len=72,
                                config=config, max_len=1440).eval()

    def run(ids):
        x = torch.from_numpy(ids.astype("int64"))
        with torch.no_grad():
            return model(x)[0]

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", default=["paper", "demo"], choices=["paper", "demo"])
    parser.add_argument("--demo-dir", default="runs/demo", help="output folder of `python -m ulmfit_tf.demo`")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()

    corpus = [article["text"] for article in datasets.load_news_articles()]
    reviews = datasets.load_rotten_tomatoes()
    names = reviews["label_names"]
    test_texts, test_labels = reviews["test"]["texts"], [names[i] for i in reviews["test"]["labels"]]
    with_fastai = fastai_available()
    if not with_fastai:
        print("fastai not installed: measuring ulmfit-tf alone.", file=sys.stderr)
    rows = []
    folder = tempfile.mkdtemp(prefix="export_latency_")
    for size in args.sizes:
        if size == "paper":
            classifier = paper_classifier(corpus)
        else:
            classifier = load_model_directory(os.path.join(args.demo_dir, "forward_classifier"), "classifier")
        tokenizer = classifier.preprocessor.tokenizer
        text = text_of_length(tokenizer, corpus, TOKENS)
        ids = tokenizer([text]).to_tensor().numpy()
        files, calls = {}, {}
        for quantization in QUANTIZATIONS:
            files[quantization] = export_tflite(
                classifier, os.path.join(folder, f"{size}_{quantization}.tflite"), quantization,
                representative_texts=reviews["train"]["texts"][:100],
            )
            runner = TFLiteClassifier(files[quantization], num_threads=1)
            calls[f"TFLite {quantization}"] = lambda runner=runner: runner.predict_outputs([text])
        calls["Keras predict_on_batch"] = lambda: classifier.predict_on_batch(ids)
        calls["Keras predict([text]), tokenizer included"] = lambda: classifier.predict([text], verbose=0)
        fast = xla_copy(classifier, ids)
        calls["Keras predict_on_batch, jit_compile=True"] = lambda: fast.predict_on_batch(ids)
        if with_fastai:
            run_fastai = fastai_classifier(classifier)
            calls["fastai 2.8 eval"] = lambda: run_fastai(ids)
        latency = {name: float(np.median(t)) for name, t in measure(calls, args.warmup, args.rounds).items()}
        float_size = os.path.getsize(files["none"])
        fastai_latency = latency.get("fastai 2.8 eval")
        accuracies, agreements = {}, {}
        if size == "demo":
            expected = classifier.probabilities(classifier.predict(test_texts, verbose=0)).numpy()
            accuracies["Keras predict_on_batch"] = np.mean(
                np.array(classifier.label_names)[expected.argmax(-1)] == np.array(test_labels)
            )
            for quantization, path in files.items():
                labels, probabilities = TFLiteClassifier(path).predict(test_texts)
                accuracies[f"TFLite {quantization}"] = np.mean(np.array(labels) == np.array(test_labels))
                agreements[f"TFLite {quantization}"] = (
                    f"{np.mean(probabilities.argmax(-1) == expected.argmax(-1)):.4f} / "
                    f"{np.abs(probabilities - expected).max():.1e}"
                )
        for name, seconds in latency.items():
            quantization = name.split()[-1] if name.startswith("TFLite") else None
            file_size = os.path.getsize(files[quantization]) if quantization else None
            rows.append((
                size,
                name,
                "" if file_size is None else f"{file_size / 1e6:.1f}",
                "" if file_size is None else f"{100 * file_size / float_size:.1f}%",
                f"{1000 * seconds:.1f}",
                "" if fastai_latency is None else f"{seconds / fastai_latency:.2f}",
                f"{accuracies[name]:.4f}" if name in accuracies else "",
                agreements.get(name, ""),
            ))
            print(rows[-1], flush=True)
    table = [
        "| size | model | file MB | vs float file | median ms (1 x 128 tokens, 1 thread) | latency vs fastai | "
        "RT test accuracy | argmax agreement with Keras / max abs prob. difference |",
        "|---|---|---|---|---|---|---|---|",
    ] + ["| " + " | ".join(row) + " |" for row in rows]
    print("\n".join(table))
    if args.write:
        write_section(
            "Export: size and latency",
            f"{args.rounds} interleaved rounds after {args.warmup} warm-up calls, median; paper size = emb 400, "
            "hidden 1152, 3 layers, 15,000 pieces, random weights; demo = the main job's classifier; "
            "accuracy on the 1,284-text Rotten Tomatoes test split",
            table,
        )


if __name__ == "__main__":
    main()
