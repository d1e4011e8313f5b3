"""One process of the distributed-training tests (run as a script).

    python train_worker.py OUTPUT CHECKPOINTS STRATEGY [KILL_EPOCH]

STRATEGY is `default`, `mirrored` (two logical CPUs) or `multi-worker`
(cluster from `TF_CONFIG`). Pretrains a tiny language model, fine-tunes it
and fits a classifier, with per-epoch checkpoints in CHECKPOINTS, and saves
every stage's per-epoch losses and final weights to OUTPUT (`.npz`). With
KILL_EPOCH, the process SIGKILLs itself in the middle of that epoch
(0-based) of the pretraining stage: a real, unannounced death. With the
environment variable `TRAIN_CORPUS` (a glob of text files), pretraining
streams those files instead (sharded by file between workers).
"""

import json
import os
import signal
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

output, checkpoints, strategy_name = sys.argv[1:4]
kill_epoch = int(sys.argv[4]) if len(sys.argv) > 4 else None
if strategy_name == "multi-worker":
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
elif strategy_name == "mirrored":
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
else:
    strategy = tf.distribute.get_strategy()

import keras  # noqa: E402
import numpy as np  # noqa: E402

from ulmfit_tf import stages  # noqa: E402
from ulmfit_tf.datasets import load_rotten_tomatoes  # noqa: E402


class KillMidEpoch(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == kill_epoch and batch == 2:
            os.kill(os.getpid(), signal.SIGKILL)


data = load_rotten_tomatoes()
texts, labels = data["train"]["texts"][:240], data["train"]["labels"][:240]
common = dict(dropout_multiplier=0.0, seed=3, strategy=strategy, verbose=0)
language_model = stages.pretrain_language_model(
    os.environ.get("TRAIN_CORPUS", texts), vocabulary_size=300, embedding_dim=16, hidden_dim=32, num_layers=2, batch_size=8, bptt=12,
    epochs=2, validation_texts=texts[:60], checkpoint_dir=os.path.join(checkpoints, "pretrain"),
    callbacks=[KillMidEpoch()], **common,
)
finetuned = stages.finetune_language_model(
    language_model, texts, batch_size=8, bptt=12, epochs=1, checkpoint_dir=os.path.join(checkpoints, "finetune"),
    **common,
)
classifier = stages.fit_classifier(
    finetuned, texts, labels, batch_size=16, epochs=2, validation=(texts[:48], labels[:48]),
    checkpoint_dir=os.path.join(checkpoints, "classifier"), **common,
)
result = {}
for stage, model in (("pretrain", language_model), ("finetune", finetuned), ("classifier", classifier)):
    for key, values in model.history.history.items():
        result[f"{stage}/{key}"] = np.asarray(values)
    for i, weight in enumerate(model.get_weights()):
        result[f"{stage}/weight_{i}"] = weight
np.savez(output, **result)
print(json.dumps({"done": output, "replicas": strategy.num_replicas_in_sync}))
