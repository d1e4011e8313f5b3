"""Where a training step's time goes, op by op: the main job's LM step (16 x 48) or classifier step (64 texts).

Runs 5 steps under TensorFlow's profiler and sums the traced events by
thread and op name, in milliseconds a step (the "ExecutorState" rows are
each executor thread's busy time; a name is the op's Keras path or the
time loop's op). On the code path an AVX2-only CPU runs with ulmfit-tf
(oneDNN, which `import ulmfit_tf` turns on, capped at AVX2):

    ONEDNN_MAX_CPU_ISA=AVX2 python benchmarks/step_profile.py lm
    ONEDNN_MAX_CPU_ISA=AVX2 python benchmarks/step_profile.py classifier

and with TensorFlow's own default there (Eigen's kernels), prefix
`TF_ENABLE_ONEDNN_OPTS=0` instead.

TensorFlow has no public reader of its profiler's files, so `read_events`
parses them with the protobuf TensorFlow ships (`tensorflow.tsl`): a
benchmark tool, never imported by the package.
"""

import collections
import glob
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from ulmfit_tf.losses import SparseSoftmaxCrossEntropy  # noqa: E402
from ulmfit_tf.models import AWDLSTMBackbone  # noqa: E402
from ulmfit_tf.models import ULMFiTLanguageModel  # noqa: E402
from ulmfit_tf.models import ULMFiTTextClassifier  # noqa: E402

SIZE = dict(vocabulary_size=8000, embedding_dim=128, hidden_dim=320, num_layers=3)
STEPS = 5


def training_step(which):
    """One compiled training step of the main job's size, as the stages compile it."""
    rng = np.random.default_rng(0)
    if which == "lm":
        model = ULMFiTLanguageModel(AWDLSTMBackbone(**SIZE, seed=0, stateful=True, batch_size=16))
        model.compile(
            optimizer=keras.optimizers.AdamW(1e-3, beta_1=0.8, beta_2=0.99, global_clipnorm=0.4),
            loss=SparseSoftmaxCrossEntropy(),
        )
        ids = rng.integers(2, SIZE["vocabulary_size"], size=(16, 49)).astype("int32")
        return lambda: model.train_on_batch(ids[:, :-1], ids[:, 1:])
    language_model = ULMFiTLanguageModel(AWDLSTMBackbone(**SIZE, seed=0))
    model = ULMFiTTextClassifier.from_language_model(language_model, num_classes=2, seed=0)
    model.compile(optimizer=keras.optimizers.AdamW(1e-3, beta_1=0.7, beta_2=0.99))
    x = np.ones((64, 44), "int32")  # padded after the text, as a length bucket is
    for row, length in enumerate(rng.integers(36, 45, size=64)):
        x[row, :length] = rng.integers(2, SIZE["vocabulary_size"], size=length)
    y = rng.integers(0, 2, size=64)
    return lambda: model.train_on_batch(x, y)


def read_events(folder):
    """`{(thread, op name): (picoseconds, calls)}` summed over the profile in `folder`."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    path = sorted(glob.glob(f"{folder}/plugins/profile/*/*.xplane.pb"))[-1]
    space = xplane_pb2.XSpace()
    with open(path, "rb") as f:
        space.ParseFromString(f.read())
    totals = collections.defaultdict(lambda: [0, 0])
    for plane in space.planes:
        if "CPU" not in plane.name and "Host" not in plane.name:
            continue
        names = {key: value.name for key, value in plane.event_metadata.items()}
        for line in plane.lines:
            for event in line.events:
                key = (line.name[:20], names.get(event.metadata_id, "?").split(":")[0][:50])
                totals[key][0] += event.duration_ps
                totals[key][1] += 1
    return totals


def main():
    which = sys.argv[1] if len(sys.argv) > 1 else "lm"
    if which not in ("lm", "classifier"):
        sys.exit(f"usage: {sys.argv[0]} lm|classifier")
    step = training_step(which)
    for _ in range(3):  # traced and warm
        step()
    folder = tempfile.mkdtemp(prefix=f"step_profile_{which}_")
    tf.profiler.experimental.start(folder)
    for _ in range(STEPS):
        step()
    tf.profiler.experimental.stop()
    totals = sorted(read_events(folder).items(), key=lambda item: -item[1][0])
    for (thread, name), (picoseconds, calls) in totals[:30]:
        print(f"{thread:20s} {name:50s} {picoseconds / STEPS / 1e9:9.1f} ms/step {calls // STEPS:7d} calls/step")


if __name__ == "__main__":
    main()
