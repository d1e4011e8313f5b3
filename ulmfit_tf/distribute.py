"""Training under `tf.distribute` strategies and mixed precision.

The stages take a `strategy` and a `dtype_policy` and do the rest: the
model, optimizer and metrics are created in `strategy.scope()`, `batch_size`
stays the global batch (split evenly over the replicas), and the stateful
language model's stream is dealt out so that every replica keeps reading
the same rows of it from batch to batch (see
`distribute_language_model_dataset`).

Example:

```python
strategy = tf.distribute.MirroredStrategy()
language_model = ulmfit_tf.stages.pretrain_language_model(
    texts, batch_size=64, strategy=strategy, dtype_policy="mixed_bfloat16"
)
```
"""

import contextlib

import keras
import tensorflow as tf

from ulmfit_tf import _keras_internals
from ulmfit_tf import _tensorflow_internals
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.options import DTYPE_POLICIES
from ulmfit_tf.options import STRATEGIES


def get_strategy(name="default"):
    """A `tf.distribute.Strategy` from its command-line name.

    Args:
        name: `"default"` (one device), `"mirrored"` (all local GPUs, or
            the CPU), `"multi-worker"` (`MultiWorkerMirroredStrategy`,
            configured by the `TF_CONFIG` environment variable) or `"tpu"`
            (`TPUStrategy` on the TPU the cluster resolver finds).

    Returns:
        The strategy. `"multi-worker"` must be created before any other
        TensorFlow operation of the program runs.
    """
    if name not in STRATEGIES:
        raise ValueError(f"Argument `strategy` must be one of {STRATEGIES}. Received: strategy={name!r}")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi-worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as error:
        raise UserInputError(
            f"No TPU found for `--strategy tpu` ({str(error).splitlines()[0]}). Run on a TPU VM, "
            "or pick `default`, `mirrored` or `multi-worker`."
        ) from None
    return tf.distribute.TPUStrategy(resolver)


def per_replica_batch_size(batch_size, strategy):
    """`batch_size` (the global batch) divided evenly over the strategy's replicas."""
    replicas = strategy.num_replicas_in_sync
    if batch_size % replicas:
        raise UserInputError(
            f"Argument `batch_size` must be a multiple of the {replicas} replicas of the strategy, "
            f"which share each batch evenly. Received: batch_size={batch_size}"
        )
    return batch_size // replicas


def is_chief(strategy):
    """Whether this process writes checkpoints and models (worker 0 of a cluster)."""
    return strategy.extended.should_checkpoint


@contextlib.contextmanager
def dtype_policy_scope(policy):
    """Builds the layers created inside under `policy` (`None`: unchanged)."""
    if policy is None:
        yield
        return
    if policy not in DTYPE_POLICIES:
        raise ValueError(f"Argument `dtype_policy` must be one of {DTYPE_POLICIES}. Received: dtype_policy={policy!r}")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def num_workers(strategy):
    """The number of worker processes (input pipelines) of `strategy`."""
    replicas = strategy.num_replicas_in_sync
    return 1 if replicas == 1 else replicas // len(strategy.extended.worker_devices)


def distribute_language_model_dataset(dataset, strategy, batch_size):
    """Deals a stateful language model's stream out to the replicas.

    `dataset` yields `(x, y)` windows of `batch_size` rows, row `r` of
    each batch continuing row `r` of the previous one
    (`language_model_dataset`). Replica `k` of the strategy gets rows
    `k * b` to `(k + 1) * b - 1` of every batch (`b`, the per-replica
    batch), so its carried LSTM state continues its own rows, and the
    replicas together compute exactly what one device computes on the whole
    batch. Every worker of a cluster reads the same stream (the same seed
    gives the same order) and keeps its own rows.

    `dataset` may instead be a function `dataset(worker_index)` giving the
    stream of one worker's share of the data (for example a shard of the
    files), laid out in `batch_size / workers` rows; each worker then reads
    only its own.

    Args:
        dataset: A `tf.data.Dataset` of `(x, y)` int32 windows
            `(batch_size, window)`, or a function of the worker index.
        strategy: A `tf.distribute.Strategy`.
        batch_size: Integer, the global batch size.

    Returns:
        The dataset itself for one replica, otherwise a
        `tf.distribute.DistributedDataset` to pass to `fit` (with
        `steps_per_epoch`).
    """
    replicas = strategy.num_replicas_in_sync
    if replicas == 1:
        return dataset(0) if callable(dataset) else dataset
    per_replica = per_replica_batch_size(batch_size, strategy)

    def dataset_fn(context):
        local = replicas // context.num_input_pipelines
        if callable(dataset):
            data, first_row = dataset(context.input_pipeline_id), 0
        else:
            data, first_row = dataset, context.input_pipeline_id * local * per_replica

        def pieces(x, y):
            # Elements go to this worker's replicas in turn: piece j to replica j.
            def piece(j):
                start = first_row + tf.cast(j, tf.int32) * per_replica
                return tuple(tf.ensure_shape(t[start : start + per_replica], (per_replica, None)) for t in (x, y))

            return tf.data.Dataset.range(local).map(piece)

        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
        return data.flat_map(pieces).with_options(options)

    return strategy.distribute_datasets_from_function(dataset_fn)


def distribute_fixes(model_class):
    """Class decorator that lets a Keras 3.15 model `fit` under every strategy.

    Two Keras bugs are worked around:

    - Before its first step, `fit` draws a batch and averages it over the
      replicas to build the model symbolically. That fails under
      `MultiWorkerMirroredStrategy` (its `reduce` does not take the
      `(x, y)` tuple) and for a batch whose rows do not split evenly; it
      also starts an extra pass over the data (a reshuffling dataset then
      trains on its second order, and a stream tokenizes a chunk for
      nothing). The build only needs shapes and dtypes, so the dataset's
      element spec (one replica's) is used instead.
    - With several workers, Keras averages each step's logs with
      `reduce("MEAN", value, axis=0)`, which fails for scalar logs
      ("Invalid reduction dimension 0 for input with 0 dimensions",
      tensorflow/tensorflow#72388). The logs are handed over as vectors of
      one value, which that reduction turns back into scalars.

    The class keeps its bases; it must not define `train_step` or
    `test_step` itself (its subclasses may, calling `super()`).

    Args:
        model_class: A subclass of `keras.Model`.

    Returns:
        `model_class`, changed in place.

    Example:

    ```python
    @distribute_fixes
    class MyModel(keras.Model):
        ...
    ```
    """
    _keras_internals.override_symbolic_build(model_class, _one_replica_element_spec)

    def train_step(self, data):
        return _vector_logs(super(model_class, self).train_step(data))

    def test_step(self, data):
        return _vector_logs(super(model_class, self).test_step(data))

    model_class.train_step = train_step
    model_class.test_step = test_step
    return model_class


def _one_replica_element_spec(dataset):
    return tf.nest.map_structure(_tensorflow_internals.one_replica_spec, dataset.element_spec)


def _vector_logs(logs):
    strategy = tf.distribute.get_strategy()
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or num_workers(strategy) == 1:
        return logs
    return {key: tf.reshape(value, [1]) for key, value in logs.items()}
