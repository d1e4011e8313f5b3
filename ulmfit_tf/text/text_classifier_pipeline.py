import keras
import numpy as np
import tensorflow as tf

from ulmfit_tf.errors import UserInputError
from ulmfit_tf.text.classification_dataset import classification_dataset
from ulmfit_tf.text.classification_dataset import encode_labels
from ulmfit_tf.text.inputs import check_labels
from ulmfit_tf.text.inputs import check_texts
from ulmfit_tf.text.ulmfit_text_classifier_preprocessor import ULMFiTTextClassifierPreprocessor


class TextClassifierPipeline:
    """Mixin: a classifier's `fit`, `evaluate` and `predict` on raw texts, batched by length.

    It stands before `keras_hub.models.TextClassifier` and replaces what
    KerasHub's `PipelineModel` does for these three methods: KerasHub
    batches texts in their order and maps the preprocessor over each batch,
    where fastai (and ulmfit-tf) batch texts of similar length together
    (`classification_dataset`, much less padding for BPT3C's long texts),
    tokenize a text once for every epoch, and take class names as labels.
    The model has a `backbone` (its `padding_id`), `num_classes`,
    `problem_type`, `label_names` and `seed`; the mixin gives it its
    `preprocessor` (a `ULMFiTTextClassifierPreprocessor`, or `None` to take
    token ids only) and `encode_targets(y)`, from the user's labels (class
    names, say) to the model's targets. `text_dataset` turns texts into
    batches of ids; the three methods run on it and pass everything else
    (token ids, datasets of ids) to `keras.Model` as it is.

    Texts are lists or arrays of strings, a lone string (one text, its
    label `y`) or a string tensor, read by `check_texts` (anything but a
    string among them raises a `TypeError` naming its index); or a
    `tf.data.Dataset` of string batches (with their labels, as ids),
    mapped through the preprocessor. `fit` batches lists of texts by length
    and shuffles them with the model's `seed`; `validation_data` may be
    `(texts, labels)` or a dataset of strings. `predict([])` returns an
    empty `(0, num_classes)` array, and `predict` of one batch of texts (at
    most `batch_size`, 32 by default, with no callbacks, steps or
    distribution strategy) skips Keras' per-call dataset and callbacks: the
    tokenizer and the model run in one compiled function, about 11 ms for
    one review at the main job's size on one CPU core instead of ~40. One
    text on a CPU runs the model with XLA on its ids padded to a bucketed
    length (16, 32, 64, ... pieces: the LSTMs stop after the text's last
    piece, so padding costs no steps), compiled once per bucket (about a
    second each at the main job's size): a text's answer depends only on
    the text, not on what was predicted before.

    Example:

    ```python
    class ULMFiTTextClassifier(TextClassifierPipeline, keras_hub.models.TextClassifier):
        ...
    ```
    """

    @property
    def preprocessor(self):
        """The `ULMFiTTextClassifierPreprocessor` from raw strings to ids, or `None`.

        Setting a bare tokenizer wraps it, padding with the backbone's
        `padding_id`.
        """
        return self._preprocessor

    @preprocessor.setter
    def preprocessor(self, value):
        padding_id = self.backbone.padding_id
        if value is not None and not isinstance(value, ULMFiTTextClassifierPreprocessor):
            value = ULMFiTTextClassifierPreprocessor(value, padding_id=padding_id)
        if value is not None and value.padding_id != padding_id:
            raise ValueError(
                f"Argument `preprocessor` must pad with the backbone's `padding_id` ({padding_id}). "
                f"Received: preprocessor.padding_id={value.padding_id}"
            )
        self._preprocessor = value

    def encode_targets(self, y):
        """Targets for `fit`/`evaluate`: class names become ids via `label_names`."""
        values = np.asarray(y, dtype=object)
        if self.problem_type == "regression":
            return np.asarray(y, "float32")
        if self.problem_type == "multi_label":
            if values.ndim == 2 and all(isinstance(v, (int, float, np.number)) for v in values.ravel()):
                return values.astype("float32")
            return encode_labels(list(y), self.label_names, multi_label=True)[0]
        if all(isinstance(v, (int, np.integer)) for v in values.ravel()):
            return values.astype("int32")
        if self.label_names is None:
            raise ValueError(
                "The labels are class names, but this classifier has no `label_names` to map them to ids. "
                "Build it with `label_names=[...]` or pass integer class ids."
            )
        return encode_labels(list(y), self.label_names)[0]

    def text_dataset(self, x, y=None, batch_size=None, shuffle=False, seed=None):
        """Ids from raw texts through the preprocessor, or `None` if `x` holds no texts.

        `x` is read by `check_texts`: a lone string is one text (and `y` its
        label), and anything but strings among the texts raises a
        `TypeError` naming its index. A dataset of string batches is mapped
        through the preprocessor.
        """
        if isinstance(x, tf.data.Dataset):
            spec = x.element_spec
            first = spec[0] if isinstance(spec, tuple) else spec
            if getattr(first, "dtype", None) != tf.string:
                return None
            self._check_preprocessor()
            return x.map(self.preprocessor)
        if not _holds_texts(x):
            return None
        texts = check_texts(x, "x")
        if not texts:
            raise UserInputError("Argument `x` must hold at least one text. Received: x=[]")
        self._check_preprocessor()
        targets = np.zeros(len(texts), "int32") if y is None else self.encode_targets(check_labels(y, texts, "y", "x"))
        return classification_dataset(
            texts, targets, self.preprocessor, batch_size=batch_size or 32, shuffle=shuffle, seed=seed
        )

    def fit(self, x=None, y=None, batch_size=None, validation_data=None, **kwargs):
        shuffle = kwargs.pop("shuffle", True)
        data = self.text_dataset(x, y, batch_size, shuffle=shuffle, seed=self.seed)
        if isinstance(validation_data, tuple):
            validation = self.text_dataset(*validation_data[:2], batch_size=batch_size)
        else:
            validation = self.text_dataset(validation_data)
        validation_data = validation_data if validation is None else validation
        if data is None:
            return keras.Model.fit(
                self, x, y, batch_size=batch_size, validation_data=validation_data, shuffle=shuffle, **kwargs
            )
        # The dataset shuffles (by length buckets) itself.
        return keras.Model.fit(self, data, validation_data=validation_data, shuffle=False, **kwargs)

    def evaluate(self, x=None, y=None, batch_size=None, **kwargs):
        data = self.text_dataset(x, y, batch_size)
        if data is None:
            return keras.Model.evaluate(self, x, y, batch_size=batch_size, **kwargs)
        return keras.Model.evaluate(self, data, **kwargs)

    def predict(self, x, batch_size=None, **kwargs):
        if _is_empty(x):  # Keras has no batch to run
            return np.zeros((0, self.num_classes), "float32")
        if self._one_batch_of_texts(x, batch_size, kwargs):
            return self._predict_texts(check_texts(x, "x"))
        data = self.text_dataset(x, batch_size=batch_size)
        if data is None:
            return keras.Model.predict(self, x, batch_size=batch_size, **kwargs)
        return keras.Model.predict(self, data, **kwargs)

    def _one_batch_of_texts(self, x, batch_size, kwargs):
        """Whether `predict` can run `x` as one batch in one compiled call (no dataset, callbacks or strategy)."""
        if self.preprocessor is None or not _holds_texts(x) or isinstance(x, (tf.Tensor, tf.RaggedTensor)):
            return False
        count = 1 if isinstance(x, (str, bytes)) else len(x)
        others = {key: value for key, value in kwargs.items() if key != "verbose"}
        return count <= (batch_size or 32) and not any(others.values()) and not tf.distribute.has_strategy()

    def _predict_texts(self, texts):
        """The model's outputs for one batch of texts: tokenizer and model in one `tf.function`.

        Keras' `predict` builds a `tf.data` pipeline and its callbacks for
        every call (~25 ms); one text through this function costs its
        tokenization in the graph and the model's forward pass. The function
        is traced again only when the preprocessor changes (and once more
        for a second shape: `reduce_retracing`).
        """
        compiled = getattr(self, "_text_predict", None)
        if compiled is None or compiled.preprocessor is not self.preprocessor:
            compiled = _TextPredictFunction(self)
            self._text_predict = compiled
        return keras.ops.convert_to_numpy(compiled(texts))

    def preprocess_samples(self, x, y=None, sample_weight=None):
        # KerasHub's `train_on_batch`, `test_on_batch` and `predict_on_batch`
        # preprocess every batch: ids pass as they are, strings are tokenized.
        if self.preprocessor is None or not _holds_texts(x):
            return keras.utils.pack_x_y_sample_weight(x, y, sample_weight)
        return self.preprocessor(check_texts(x, "x"), y, sample_weight)

    def _check_preprocessor(self):
        if self.preprocessor is None:
            raise ValueError(
                "This classifier has no `preprocessor`, so it takes token ids, not strings. "
                "Set `classifier.preprocessor` to the tokenizer or pass ids."
            )


class _TextPredictFunction:
    """A plain holder (neither Keras nor `tf.Module` tracks what it holds, so no SavedModel saves it).

    Texts run through `function` (tokenizer and model); one text on a CPU
    is tokenized by `tokenize`, padded to `bucket(length)` and run by
    `one_text`, XLA-compiled once per bucket.
    """

    SMALLEST_BUCKET = 16

    def __init__(self, model):
        self.preprocessor = preprocessor = model.preprocessor
        self.function = tf.function(lambda texts: model(preprocessor(texts), training=False), reduce_retracing=True)
        self.tokenize = tf.function(preprocessor, reduce_retracing=True)
        self.one_text = tf.function(lambda ids: model(ids, training=False), jit_compile=True)
        # XLA on a GPU would refuse the cuDNN kernel that the LSTMs take there.
        self.uses_xla = not tf.config.list_logical_devices("GPU")

    def __call__(self, texts):
        if len(texts) != 1 or not self.uses_xla:
            return self.function(tf.constant(texts))
        ids = keras.ops.convert_to_numpy(self.tokenize(tf.constant(texts)))
        padding = self.bucket(ids.shape[1]) - ids.shape[1]
        padded = np.pad(ids, [[0, 0], [0, padding]], constant_values=self.preprocessor.padding_id)
        return self.one_text(tf.constant(padded))

    def bucket(self, length):
        """The padded length of `length` ids: the next power of two, at least 16, at most `max_tokens`."""
        bucket = max(self.SMALLEST_BUCKET, 1 << (length - 1).bit_length())
        limit = self.preprocessor.max_tokens
        return bucket if limit is None else max(length, min(bucket, limit))


def _is_empty(x):
    if isinstance(x, (list, tuple)):
        return not x
    return isinstance(x, (np.ndarray, tf.Tensor)) and tuple(x.shape[:1]) == (0,)


def _holds_texts(x):
    """Whether `x` is for the preprocessor rather than token ids.

    Strings, and lists holding a string or `None` (never ids), so that
    `check_texts` names what is not a string; an empty list too, so that
    `fit` and `evaluate` say it holds no text.
    """
    if isinstance(x, (str, bytes)):
        return True
    if isinstance(x, (tf.Tensor, tf.RaggedTensor)):
        return x.dtype == tf.string
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "SU" or x.dtype.kind == "O" and _holds_texts(x.ravel().tolist())
    if isinstance(x, (list, tuple)):
        return not x or any(isinstance(v, (str, bytes)) or v is None for v in x)
    return False
