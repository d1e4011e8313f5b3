"""What `import ulmfit_tf` sets before TensorFlow loads: the Keras backend and oneDNN on x86 CPUs."""

import os
import platform
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRINT = (
    "import os, sys, ulmfit_tf; "
    "print(os.environ.get('TF_ENABLE_ONEDNN_OPTS'), os.environ.get('KERAS_BACKEND'), 'tensorflow' in sys.modules)"
)


def imported_with(**variables):
    env = {k: v for k, v in os.environ.items() if k not in ("TF_ENABLE_ONEDNN_OPTS", "KERAS_BACKEND")}
    env.update(variables, PYTHONPATH=ROOT)
    result = subprocess.run([sys.executable, "-c", PRINT], env=env, capture_output=True, text=True, check=True)
    return result.stdout.split()


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="oneDNN's default is for x86")
def test_onednn_is_on_before_tensorflow_loads_on_x86():
    # TensorFlow reads the variable when it loads: the package sets it first, and loads nothing heavy itself.
    assert imported_with() == ["1", "tensorflow", "False"]


def test_a_users_own_settings_win():
    assert imported_with(TF_ENABLE_ONEDNN_OPTS="0", KERAS_BACKEND="jax") == ["0", "jax", "False"]
