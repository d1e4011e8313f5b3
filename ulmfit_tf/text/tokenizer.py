import keras
import tensorflow as tf


class Tokenizer(keras.layers.Layer):
    """Base of the tokenizers: a non-trainable layer from strings to tokens.

    Subclasses implement `tokenize(texts)`. Calling the layer accepts Python
    strings and lists as well as tensors, in eager mode and in `tf.data`.

    Args:
        dtype: The dtype of the tokens (`"int32"` ids or `"string"`).
        **kwargs: Base layer keyword arguments, such as `name`.
    """

    def __init__(self, dtype, **kwargs):
        super().__init__(trainable=False, dtype=dtype, **kwargs)

    def __call__(self, inputs, *args, **kwargs):
        if not isinstance(inputs, (tf.Tensor, tf.RaggedTensor, keras.KerasTensor)):
            inputs = tf.convert_to_tensor(inputs, dtype=tf.string)
        return super().__call__(inputs, *args, **kwargs)

    def call(self, inputs):
        return self.tokenize(inputs)

    def tokenize(self, texts):
        raise NotImplementedError(f"{type(self).__name__} must implement `tokenize`.")

    def get_config(self):
        config = super().get_config()
        # Fixed by the class, not by the caller.
        for key in ("trainable", "dtype"):
            config.pop(key, None)
        return config
