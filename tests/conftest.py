import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def seeded():
    keras.utils.set_random_seed(1234)
    yield
    # Without Python's full garbage collection after every test: with the module fixtures' models alive it
    # took about 2 s a test (stages_test.py: 350 s with it, 321 s without, one process).
    keras.backend.clear_session(free_memory=False)


def save_and_reload(model, tmp_path):
    path = tmp_path / "model.keras"
    model.save(path)
    return keras.saving.load_model(path)


def default_signals():
    """`Popen(preexec_fn=...)`: the child starts with SIGINT, SIGTERM and SIGHUP at their defaults.

    A shell runs a background job with SIGINT ignored (and `nohup` SIGHUP),
    the child inherits that, and the CLI keeps an ignored signal ignored: a
    signal test run from such a job would wait for a signal that never acts.
    """
    import signal

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)
