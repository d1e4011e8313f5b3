import keras
import numpy as np

from ulmfit_tf.callbacks import ResetStateEachEpoch


class Recorder(keras.callbacks.Callback):
    def __init__(self, events):
        super().__init__()
        self.events = events

    def on_epoch_begin(self, epoch, logs=None):
        self.events.append("epoch")

    def on_test_begin(self, logs=None):
        self.events.append("validation")


def test_resets_at_each_epoch_and_around_validation():
    events = []

    class Stateful(keras.Sequential):
        def reset_state(self):
            events.append("reset")

    model = Stateful([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    x = np.zeros((8, 4), "float32")
    # The recorder runs after the reset: each event follows its reset.
    callbacks = [ResetStateEachEpoch(), Recorder(events)]
    model.fit(x, x[:, :1], validation_data=(x, x[:, :1]), epochs=2, callbacks=callbacks, verbose=0)
    assert events == ["reset", "epoch", "reset", "validation", "reset"] * 2
