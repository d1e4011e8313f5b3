"""A pretraining run's part checkpoint as a language-model folder, to anneal or score it.

`ulmfit-tf pretrain --checkpoint-every N` keeps a checkpoint after every
part (`OUTPUT.checkpoints/epoch_NNNN`: the model's and Adam's weights, the
run's fingerprint). This rebuilds the language model the fingerprint
describes, loads the part's weights and writes a stateless model folder
that `finetune-lm`, `demo --language-model` and `make_preset.py` read:

    python pretraining/checkpoint_model.py --checkpoint /work/knowledge/lm.checkpoints/epoch_0011 \
        --tokenizer /work/knowledge/vocab/cf16k.model --output /work/knowledge/lm_part11
"""

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from ulmfit_tf.losses import SparseSoftmaxCrossEntropy  # noqa: E402
from ulmfit_tf.model_directory import save_model_directory  # noqa: E402
from ulmfit_tf.models import AWDLSTMBackbone, ULMFiTLanguageModel  # noqa: E402
from ulmfit_tf.text.sentencepiece_tokenizer import SentencePieceTokenizer  # noqa: E402


def checkpoint_language_model(checkpoint, tokenizer_path):
    """The language model of a pretraining checkpoint, stateless, with its tokenizer."""
    with open(os.path.join(checkpoint, "ulmfit_tf.json"), encoding="utf-8") as file:
        run = json.load(file)["fingerprint"]
    if run.get("stage") != "pretrain":
        raise SystemExit(f"{checkpoint} is not a pretraining checkpoint (stage {run.get('stage')!r})")
    tokenizer = SentencePieceTokenizer(tokenizer_path)
    backbone = AWDLSTMBackbone(
        vocabulary_size=tokenizer.vocabulary_size(), embedding_dim=run["embedding_dim"], hidden_dim=run["hidden_dim"],
        num_layers=run["num_layers"], dropout_multiplier=run["dropout_multiplier"], stateful=True,
        batch_size=run["batch_size"], seed=run["seed"],
    )
    model = ULMFiTLanguageModel(backbone, preprocessor=tokenizer, seed=run["seed"])
    # The checkpoint holds Adam's moments beside the weights: build the same optimizer to read it.
    model.compile(optimizer=keras.optimizers.AdamW(1e-3), loss=SparseSoftmaxCrossEntropy())
    model.optimizer.build(model.trainable_variables)
    before = keras.ops.convert_to_numpy(model.trainable_variables[0])
    model.load_weights(os.path.join(checkpoint, "model.weights.h5"))
    if np.array_equal(before, keras.ops.convert_to_numpy(model.trainable_variables[0])):
        raise SystemExit(f"{checkpoint}: the weights did not load")
    return model.rebuilt(stateful=False, batch_size=None)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", required=True, help="a part's folder, e.g. lm.checkpoints/epoch_0011")
    parser.add_argument("--tokenizer", required=True, help="the run's SentencePiece model file")
    parser.add_argument("--output", required=True, help="the language-model folder to write (new)")
    args = parser.parse_args()
    save_model_directory(checkpoint_language_model(args.checkpoint, args.tokenizer), args.output, "language_model")
    print(f"saved {args.output}")


if __name__ == "__main__":
    main()
