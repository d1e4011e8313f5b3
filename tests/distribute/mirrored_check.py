"""Mirrored (2 logical CPUs) against one device, in one process (run as a script).

`python mirrored_check.py machinery` compares the language-model stream and
the classifier's training machinery (exact) and runs the LR finder;
`python mirrored_check.py stages` compares the three stages' loss
trajectories. Prints one JSON line of measurements for
tests/distribute/distribute_test.py.
"""

import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from ulmfit_tf import stages  # noqa: E402
from ulmfit_tf.callbacks.lr_finder import lr_find  # noqa: E402
from ulmfit_tf.datasets import load_rotten_tomatoes  # noqa: E402
from ulmfit_tf.distribute import distribute_language_model_dataset  # noqa: E402
from ulmfit_tf.models.awd_lstm_backbone import AWDLSTMBackbone  # noqa: E402
from ulmfit_tf.models.ulmfit_language_model import ULMFiTLanguageModel  # noqa: E402
from ulmfit_tf.text import SentencePieceTokenizer  # noqa: E402
from ulmfit_tf.text.language_model_dataset import language_model_dataset  # noqa: E402
from ulmfit_tf.callbacks.gradual_unfreezing import GradualUnfreezing  # noqa: E402
from ulmfit_tf.models.ulmfit_text_classifier import ULMFiTTextClassifier  # noqa: E402
from ulmfit_tf.optimizers.discriminative import DiscriminativeOptimizer  # noqa: E402
from ulmfit_tf.schedules.slanted_triangular import SlantedTriangularLR  # noqa: E402
from ulmfit_tf.text.classification_dataset import classification_dataset  # noqa: E402

mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
both = (("default", tf.distribute.get_strategy()), ("mirrored", mirrored))
machinery, three_stages = (both, ()) if sys.argv[1] == "machinery" else ((), both)
data = load_rotten_tomatoes()
texts, labels = data["train"]["texts"][:240], data["train"]["labels"][:240]
result = {}

# 1. The stream dealt to the replicas: with no clipping and no dropout, the
# replicas compute exactly what one device computes, carried state included.
tokenizer = SentencePieceTokenizer.train(texts, vocabulary_size=300, seed=0)
for name, strategy in machinery:
    keras.utils.set_random_seed(5)
    with strategy.scope():
        backbone = AWDLSTMBackbone(
            vocabulary_size=300, embedding_dim=16, hidden_dim=32, num_layers=2, dropout_multiplier=0.0,
            stateful=True, batch_size=8 // strategy.num_replicas_in_sync, seed=5,
        )
        model = ULMFiTLanguageModel(backbone, seed=5)
        model.compile(
            optimizer=keras.optimizers.Adam(1e-2),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            jit_compile=False,
        )
    stream = language_model_dataset(texts, tokenizer, batch_size=8, bptt=12, shuffle=False)
    steps = sum(1 for _ in stream)
    model.fit(distribute_language_model_dataset(stream, strategy, 8), steps_per_epoch=steps, verbose=0)
    state = backbone.lstm_layers[0].states[0]
    rows = [np.asarray(v) for v in getattr(state.value, "values", [state.value])]
    result[f"exact/{name}/state"] = np.concatenate(rows).tolist()
    result[f"exact/{name}/weights"] = [w.tolist() for w in model.get_weights()]

# 2. The classifier's training machinery (discriminative rates, STLR, gradual
# unfreezing, synchronized BatchNorm) on batches that split evenly: exact.
# Then the LR finder sweeps it.
ids = tokenizer(tf.constant(texts))
for name, strategy in machinery:
    keras.utils.set_random_seed(6)
    with strategy.scope():
        classifier = ULMFiTTextClassifier.from_language_model(
            model, num_classes=2, label_names=["0", "1"], bptt=8, max_len=32, dropout_multiplier=0.0, seed=6,
            hidden_dims=(),  # the head's hidden dropout (0.1) is not scaled by the multiplier, as in fastai
        )
        optimizer = DiscriminativeOptimizer(
            keras.optimizers.AdamW(SlantedTriangularLR(1e-2, total_steps=60)), classifier.layer_groups()
        )
        classifier.compile(optimizer=optimizer, jit_compile=False)
    groups = classifier.layer_groups()
    classifier.fit(
        classification_dataset(ids, np.array(labels), None, batch_size=16, seed=0, batch_multiple=2),
        epochs=2, verbose=0, callbacks=[GradualUnfreezing(groups, schedule=[1, 2])],
    )
    result[f"exact/{name}/classifier"] = [w.tolist() for w in classifier.get_weights()]
    with strategy.scope():
        classifier.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False)
    padded = ids[:64, :32].to_tensor(default_value=classifier.backbone.padding_id)
    finder = lr_find(classifier, (padded, np.array(labels[:64])), num_steps=8, batch_size=16)
    result[f"lr_find/{name}"] = [float(v) for v in finder.losses]

# 3. The stages: same loss trajectories.
common = dict(dropout_multiplier=0.0, seed=3, verbose=0)
for name, strategy in three_stages:
    language_model = stages.pretrain_language_model(
        texts, tokenizer=tokenizer, embedding_dim=16, hidden_dim=32, num_layers=2, batch_size=8, bptt=12,
        epochs=2, validation_texts=texts[:60], strategy=strategy, **common,
    )
    result[f"pretrain/{name}"] = language_model.history.history
    if name == "default":
        source = language_model
    finetuned = stages.finetune_language_model(source, texts, batch_size=8, bptt=12, strategy=strategy, **common)
    result[f"finetune/{name}"] = finetuned.history.history
    classifier = stages.fit_classifier(
        source, texts, labels, batch_size=16, epochs=2, validation=(texts[:48], labels[:48]),
        strategy=strategy, **common,
    )
    result[f"classifier/{name}"] = classifier.history.history
print(json.dumps(result))
