"""The private parts of TensorFlow 2.21 that ulmfit-tf uses, all in one place.

pyproject.toml pins `tensorflow>=2.21,<2.22`; `tests/compat_test.py` checks
that each part is still there.
"""


def one_replica_spec(spec):
    """The `tf.TypeSpec` of one replica's value, where `spec` is a `PerReplicaSpec`.

    A distributed dataset's `element_spec` holds one `PerReplicaSpec` per
    tensor, and it has no public way to read the specs of its replicas:
    https://github.com/tensorflow/tensorflow/blob/v2.21.0/tensorflow/python/distribute/values.py
    Any other spec is returned as it is.
    """
    return spec._value_specs[0] if hasattr(spec, "_value_specs") else spec
