import keras


class ResetStateEachEpoch(keras.callbacks.Callback):
    """Zeroes a stateful language model's LSTM state at each epoch and around validation.

    A stateful model carries its state from batch to batch; as fastai does,
    each epoch starts afresh, and validation neither starts from the
    training state nor hands its own state back to training. The model must
    have a `reset_state()` method, as `ULMFiTLanguageModel` has.

    Example:

    ```python
    model.fit(data, epochs=2, validation_data=validation, callbacks=[ResetStateEachEpoch()])
    ```
    """

    def on_epoch_begin(self, epoch, logs=None):
        self.model.reset_state()

    def on_test_begin(self, logs=None):
        self.model.reset_state()

    def on_test_end(self, logs=None):
        self.model.reset_state()
