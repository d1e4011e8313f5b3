import keras
import numpy as np
import tensorflow as tf
from keras import ops

from ulmfit_tf.distribute import DistributeFixes
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.layers.concat_pooling import ConcatPooling
from ulmfit_tf.layers.pooling_classifier_head import PoolingClassifierHead
from ulmfit_tf.models.awd_lstm_backbone import AWDLSTMBackbone
from ulmfit_tf.models.presets import CLASSIFIER_DROPOUTS
from ulmfit_tf.models.presets import backbone_dropouts
from ulmfit_tf.presets import PresetMixin
from ulmfit_tf.text.classification_dataset import PADDING_ID
from ulmfit_tf.text.classification_dataset import classification_dataset
from ulmfit_tf.text.classification_dataset import encode_labels
from ulmfit_tf.text.inputs import check_labels
from ulmfit_tf.text.inputs import check_texts

PROBLEM_TYPES = ("single_label", "multi_label", "regression")


@keras.saving.register_keras_serializable(package="ulmfit_tf")
class LastChunksMask(keras.layers.Layer):
    """The positions BPT3C pools: real tokens of the last chunks of a text.

    fastai's `SentenceEncoder` reads a text of `n` tokens in chunks of
    `bptt` tokens and keeps the outputs of the chunks that start at
    `i >= n - max_len`. Texts are padded after their end with `padding_id`.

    Call arguments:
        token_ids: int tensor `(batch, timesteps)`.

    Returns:
        A boolean tensor `(batch, timesteps)`, `True` where pooled.
    """

    def __init__(self, bptt, max_len, padding_id, **kwargs):
        super().__init__(**kwargs)
        self.bptt = bptt
        self.max_len = max_len
        self.padding_id = padding_id

    def call(self, token_ids):
        real = ops.not_equal(token_ids, self.padding_id)
        if self.max_len is None:
            return real
        lengths = ops.sum(ops.cast(real, "int32"), axis=1, keepdims=True)
        positions = ops.arange(ops.shape(token_ids)[1], dtype="int32")[None, :]
        chunk_starts = (positions // self.bptt) * self.bptt
        return ops.logical_and(real, lengths - chunk_starts <= self.max_len)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"bptt": self.bptt, "max_len": self.max_len, "padding_id": self.padding_id})
        return config


@keras.saving.register_keras_serializable(package="ulmfit_tf")
class SigmoidRange(keras.layers.Layer):
    """`low + sigmoid(x) * (high - low)`: fastai's `SigmoidRange` for bounded regression."""

    def __init__(self, low, high, **kwargs):
        super().__init__(**kwargs)
        self.low = float(low)
        self.high = float(high)

    def call(self, inputs):
        return self.low + ops.sigmoid(inputs) * (self.high - self.low)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"low": self.low, "high": self.high})
        return config


@keras.saving.register_keras_serializable(package="ulmfit_tf")
class ULMFiTTextClassifier(PresetMixin, DistributeFixes, keras.Model):
    """ULMFiT's text classifier: AWD-LSTM encoder, concat pooling, head.

    Token ids `(batch, timesteps)`, padded after the text with `xxpad` (1),
    go through the backbone (which masks the padding), then `ConcatPooling`
    of the last hidden state, the max and the mean over the pooled positions,
    then `PoolingClassifierHead`. The outputs are float32 logits for
    classification (`probabilities()` turns them into softmax or sigmoid
    probabilities), and the predicted values for regression (squashed into
    `y_range` when given).

    BPT3C: fastai's encoder reads a text in chunks of `bptt` tokens carrying
    the LSTM state, and pools only the outputs of the chunks that start
    within the last `max_len` tokens. This model reads the whole text in one
    pass and pools those same positions, which gives exactly fastai's
    outputs (texts of any length, alone or batched with padding); the
    difference is in training, where gradients flow through the whole text
    instead of stopping at chunk boundaries. Memory is bounded by the
    longest text a batch holds (`classification_dataset(max_length=...)`).

    With a `preprocessor` (a tokenizer giving ids, such as
    `SentencePieceTokenizer`, or `WordTokenizer(vocabulary=...)`), `fit`,
    `evaluate` and `predict` also take raw strings (lists or arrays of
    texts, or a `tf.data.Dataset` of string batches; a lone string is one
    text, and anything else among the texts raises a `TypeError` naming its
    index), and `fit`/`evaluate` take class names as labels. Set it to
    `None` to feed ids only. `predict([])` returns an empty
    `(0, num_classes)` array.

    Args:
        backbone: An `AWDLSTMBackbone` with `padding_id` set (1) and
            `stateful=False`; `from_language_model` builds one with the
            classifier's dropouts.
        num_classes: Integer, number of classes (or of regression outputs).
        preprocessor: Optional tokenizer from strings to ids.
        label_names: Optional list of `num_classes` class names, in id order.
        problem_type: String, `"single_label"` (softmax over classes,
            default), `"multi_label"` (one sigmoid per class) or
            `"regression"`.
        y_range: Optional `(low, high)` for regression outputs.
        bptt: Integer, BPT3C chunk length. Defaults to `72`.
        max_len: Optional integer, pooled tokens at the end of a text, in
            whole chunks. Defaults to `1440`; `None` pools every token.
        hidden_dims: Tuple of integers, the head's hidden units. Defaults to
            `(50,)`.
        output_dropout: Float, dropout on the pooled vector (fastai
            `output_p`), multiplied by the backbone's `dropout_multiplier`.
            Defaults to `0.4`.
        seed: Optional integer, seeds the head's dropout.
        **kwargs: Base model keyword arguments, such as `name`.

    Example:

    ```python
    classifier = ULMFiTTextClassifier.from_language_model(
        language_model, num_classes=2, label_names=["neg", "pos"],
        preprocessor=tokenizer,
    )
    classifier.compile(optimizer=keras.optimizers.Adam(1e-3))
    classifier.fit(train_texts, train_labels, batch_size=64, epochs=2)
    probabilities = classifier.probabilities(classifier.predict(["Superb."]))
    ```

    Reference:
        - [Howard & Ruder, 2018](https://arxiv.org/abs/1801.06146)
    """

    def __init__(
        self,
        backbone,
        num_classes,
        preprocessor=None,
        label_names=None,
        problem_type="single_label",
        y_range=None,
        bptt=72,
        max_len=1440,
        hidden_dims=(50,),
        output_dropout=CLASSIFIER_DROPOUTS["output_dropout"],
        seed=None,
        **kwargs,
    ):
        if not isinstance(backbone, AWDLSTMBackbone):
            raise ValueError(f"Argument `backbone` must be an `AWDLSTMBackbone`. Received: backbone={backbone}")
        if backbone.padding_id is None or backbone.stateful:
            raise ValueError(
                "Argument `backbone` must mask padding and keep no state between calls: build it with "
                "`padding_id=1, stateful=False` (or use `ULMFiTTextClassifier.from_language_model`). "
                f"Received: padding_id={backbone.padding_id}, stateful={backbone.stateful}"
            )
        if problem_type not in PROBLEM_TYPES:
            raise ValueError(f"Argument `problem_type` must be one of {PROBLEM_TYPES}. Received: problem_type={problem_type!r}")
        if not isinstance(bptt, int) or bptt < 1:
            raise ValueError(f"Argument `bptt` must be a positive integer. Received: bptt={bptt}")
        if max_len is not None and (not isinstance(max_len, int) or max_len < bptt):
            raise ValueError(f"Argument `max_len` must be None or an integer >= bptt ({bptt}). Received: max_len={max_len}")
        if label_names is not None:
            label_names = [str(name) for name in label_names]
            if len(label_names) != num_classes:
                raise ValueError(
                    f"Argument `label_names` must name each of the {num_classes} classes. "
                    f"Received: label_names={label_names}"
                )
        if y_range is not None:
            if problem_type != "regression" or len(y_range) != 2 or not y_range[0] < y_range[1]:
                raise ValueError(
                    "Argument `y_range` must be `(low, high)` with low < high, for `problem_type='regression'`. "
                    f"Received: y_range={y_range}, problem_type={problem_type!r}"
                )
            y_range = (float(y_range[0]), float(y_range[1]))

        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.pooling_mask = LastChunksMask(bptt, max_len, backbone.padding_id, name="pooling_mask")
        self.pooling = ConcatPooling(name="pooling")
        dropout_rates = [output_dropout * backbone.dropout_multiplier] + [0.1] * len(hidden_dims)
        self.head = PoolingClassifierHead(num_classes, hidden_dims, dropout_rates, seed=seed, name="head")
        self.output_range = None if y_range is None else SigmoidRange(*y_range, dtype="float32", name="output_range")

        # === Functional Model ===
        token_ids = backbone.input
        sequence = backbone(token_ids)["sequence_output"]
        pooled = self.pooling(sequence, mask=self.pooling_mask(token_ids))
        outputs = self.head(pooled)
        if self.output_range is not None:
            outputs = self.output_range(outputs)
        super().__init__(inputs=token_ids, outputs=outputs, **kwargs)

        # === Config ===
        self.num_classes = num_classes
        self.label_names = label_names
        self.problem_type = problem_type
        self.y_range = y_range
        self.bptt = bptt
        self.max_len = max_len
        self.hidden_dims = tuple(hidden_dims)
        self.output_dropout = output_dropout
        self.seed = seed

    @classmethod
    def from_language_model(cls, language_model, num_classes, dropout_multiplier=None, seed=None, **kwargs):
        """A classifier whose encoder starts from a language model's.

        Builds a new backbone of the same sizes with fastai's classifier
        dropouts (`CLASSIFIER_DROPOUTS`), padding masked, no state carried,
        and copies the language model's embedding and LSTM weights into it.

        Args:
            language_model: A `ULMFiTLanguageModel` (or its `AWDLSTMBackbone`).
            num_classes: Integer, number of classes.
            dropout_multiplier: Optional float scaling every dropout. Defaults
                to the language model's.
            seed: Optional integer, seeds the dropouts.
            **kwargs: Other arguments of `ULMFiTTextClassifier`
                (`preprocessor`, `label_names`, `bptt`, ...).
        """
        source = getattr(language_model, "backbone", language_model)
        if not isinstance(source, AWDLSTMBackbone):
            raise ValueError(
                "Argument `language_model` must be a `ULMFiTLanguageModel` or an `AWDLSTMBackbone`. "
                f"Received: language_model={language_model}"
            )
        backbone = AWDLSTMBackbone(
            vocabulary_size=source.vocabulary_size,
            embedding_dim=source.embedding_dim,
            hidden_dim=source.hidden_dim,
            num_layers=source.num_layers,
            dropout_multiplier=source.dropout_multiplier if dropout_multiplier is None else dropout_multiplier,
            padding_id=PADDING_ID,
            seed=seed,
            **backbone_dropouts(CLASSIFIER_DROPOUTS),
        )
        backbone.set_encoder_weights(source)
        return cls(backbone, num_classes, seed=seed, **kwargs)

    def load_encoder(self, language_model):
        """Copies the embedding and LSTM weights of a fine-tuned language model."""
        self.backbone.set_encoder_weights(getattr(language_model, "backbone", language_model))

    def layer_groups(self):
        """fastai's classifier groups, input side first: embedding, each LSTM, head."""
        backbone = self.backbone
        return (
            [[backbone.embedding_dropout_layer]]
            + [[lstm] for lstm in backbone.lstm_layers]
            + [[self.head] + ([self.output_range] if self.output_range else [])]
        )

    def compile(self, optimizer="adam", loss="auto", metrics="auto", **kwargs):
        """`Model.compile` with the loss and metrics of the problem type.

        `loss="auto"`: sparse categorical cross-entropy from logits
        (single-label), binary cross-entropy from logits (multi-label), mean
        squared error (regression). `metrics="auto"`: accuracy (binary
        accuracy at 0.5 for multi-label), or mean absolute error.
        """
        if loss == "auto":
            loss = {
                "single_label": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                "multi_label": keras.losses.BinaryCrossentropy(from_logits=True),
                "regression": keras.losses.MeanSquaredError(),
            }[self.problem_type]
        if metrics == "auto":
            metrics = {
                "single_label": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
                "multi_label": [keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0)],
                "regression": [keras.metrics.MeanAbsoluteError(name="mae")],
            }[self.problem_type]
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def compile_from_config(self, config):
        # Keras skips this for a custom `compile`; ours takes the same arguments.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def probabilities(self, outputs):
        """Softmax (single-label) or sigmoid (multi-label) of the model's logits.

        Regression outputs are returned as they are.
        """
        if self.problem_type == "single_label":
            return ops.softmax(outputs, axis=-1)
        if self.problem_type == "multi_label":
            return ops.sigmoid(outputs)
        return outputs

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
        `TypeError` naming its index.
        """
        if isinstance(x, tf.data.Dataset):
            spec = x.element_spec
            first = spec[0] if isinstance(spec, tuple) else spec
            if getattr(first, "dtype", None) != tf.string:
                return None
            self._check_preprocessor()
            if isinstance(spec, tuple):
                return x.map(lambda texts, *rest: (self._padded_ids(texts), *rest))
            return x.map(self._padded_ids)
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
        if isinstance(validation_data, tuple) and _holds_texts(validation_data[0]):
            validation_data = self.text_dataset(*validation_data[:2], batch_size=batch_size)
        if data is None:
            return super().fit(
                x, y, batch_size=batch_size, validation_data=validation_data, shuffle=shuffle, **kwargs
            )
        # The dataset shuffles (by length buckets) itself.
        return super().fit(data, validation_data=validation_data, shuffle=False, **kwargs)

    def evaluate(self, x=None, y=None, batch_size=None, **kwargs):
        data = self.text_dataset(x, y, batch_size)
        if data is None:
            return super().evaluate(x, y, batch_size=batch_size, **kwargs)
        return super().evaluate(data, **kwargs)

    def predict(self, x, batch_size=None, **kwargs):
        if _is_empty(x):  # Keras has no batch to run
            return np.zeros((0, self.num_classes), "float32")
        data = self.text_dataset(x, batch_size=batch_size)
        if data is None:
            return super().predict(x, batch_size=batch_size, **kwargs)
        return super().predict(data.map(lambda ids, _: ids), **kwargs)

    def _padded_ids(self, texts):
        return self.preprocessor(texts).to_tensor(default_value=PADDING_ID)

    def _check_preprocessor(self):
        if self.preprocessor is None:
            raise ValueError(
                "This classifier has no `preprocessor`, so it takes token ids, not strings. "
                "Set `classifier.preprocessor` to the tokenizer or pass ids."
            )

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "num_classes": self.num_classes,
            "preprocessor": None
            if self.preprocessor is None
            else keras.saving.serialize_keras_object(self.preprocessor),
            "label_names": self.label_names,
            "problem_type": self.problem_type,
            "y_range": self.y_range,
            "bptt": self.bptt,
            "max_len": self.max_len,
            "hidden_dims": list(self.hidden_dims),
            "output_dropout": self.output_dropout,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("backbone", "preprocessor"):
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key], custom_objects=custom_objects)
        return cls(**config)


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
