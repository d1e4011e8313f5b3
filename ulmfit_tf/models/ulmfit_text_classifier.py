import keras
import keras_hub
from keras import ops

from ulmfit_tf.calibration import calibrate
from ulmfit_tf.distribute import distribute_fixes
from ulmfit_tf.errors import UserInputError
from ulmfit_tf.layers.concat_pooling import ConcatPooling
from ulmfit_tf.layers.last_chunks_mask import LastChunksMask
from ulmfit_tf.layers.pooling_classifier_head import PoolingClassifierHead
from ulmfit_tf.layers.sigmoid_range import SigmoidRange
from ulmfit_tf.models.awd_lstm_backbone import AWDLSTMBackbone
from ulmfit_tf.models.dropouts import CLASSIFIER_DROPOUTS
from ulmfit_tf.models.dropouts import backbone_dropouts
from ulmfit_tf.models.keyword_arguments import BASE_ARGUMENTS
from ulmfit_tf.models.keyword_arguments import check_keyword_arguments
from ulmfit_tf.models.preset_writer import AtomicPresetTask
from ulmfit_tf.text.text_classifier_pipeline import TextClassifierPipeline
from ulmfit_tf.text.ulmfit_text_classifier_preprocessor import PADDING_ID
from ulmfit_tf.text.ulmfit_text_classifier_preprocessor import ULMFiTTextClassifierPreprocessor
from ulmfit_tf.thresholds import DEFAULT_THRESHOLD
from ulmfit_tf.thresholds import check_decision_settings
from ulmfit_tf.thresholds import decide

PROBLEM_TYPES = ("single_label", "multi_label", "regression")


@keras.saving.register_keras_serializable(package="ulmfit_tf")
@distribute_fixes
class ULMFiTTextClassifier(AtomicPresetTask, TextClassifierPipeline, keras_hub.models.TextClassifier):
    """ULMFiT's text classifier: AWD-LSTM encoder, concat pooling, head.

    Token ids `(batch, timesteps)`, padded after the text with the
    backbone's `padding_id` (fastai's `xxpad`, 1), go through the backbone
    (which masks the padding), then `ConcatPooling` of the last hidden
    state, the max and the mean over the pooled positions (`LastChunksMask`),
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
    longest text a batch holds (the preprocessor's `max_tokens`).

    With a `preprocessor` (a `ULMFiTTextClassifierPreprocessor`: raw
    strings to padded ids), `fit`, `evaluate` and `predict` also take raw
    strings (lists or arrays of texts, or a `tf.data.Dataset` of string
    batches; a lone string is one text, and anything else among the texts
    raises a `TypeError` naming its index), and `fit`/`evaluate` take class
    names as labels (`TextClassifierPipeline`). Set it to `None` to feed ids
    only. `predict([])` returns an empty `(0, num_classes)` array.

    A KerasHub task: `keras_hub.models.TextClassifier.from_preset(preset,
    num_classes=2)` builds one on a language model's preset (the encoder's
    weights, a new head), and loads a saved classifier (head included)
    when `num_classes` is left out; `save_to_preset(folder)` writes one.
    Keyword arguments of `from_preset` are this constructor's; others are
    refused. The model is compiled on construction (`compile=False`
    skips it), as KerasHub's tasks are.

    Args:
        backbone: An `AWDLSTMBackbone`. A language model's (no `padding_id`,
            or `stateful`) is re-made as a classifier's: the same sizes and
            weights, fastai's classifier dropouts (`CLASSIFIER_DROPOUTS`,
            scaled by its `dropout_multiplier`), padding (fastai's 1)
            masked, no state carried; `from_language_model` does the same
            with a dropout multiplier and seed of your choice.
        num_classes: Integer, number of classes (or of regression outputs).
        preprocessor: Optional `ULMFiTTextClassifierPreprocessor` padding
            with the backbone's `padding_id`, or a tokenizer from strings to
            ids (`SentencePieceTokenizer`, `WordTokenizer(vocabulary=...)`),
            which becomes `ULMFiTTextClassifierPreprocessor(tokenizer,
            padding_id=backbone.padding_id)`.
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
        temperature: Float > 0, divides the logits before the softmax or
            sigmoid of `probabilities()` (and of every export): temperature
            scaling, fitted on validation texts by `calibrate`. Defaults to
            `1.0`.
        thresholds: Optional list of one float in [0, 1] a label, the
            multi-label decision thresholds (`decide`); `None` is 0.5 for
            every label.
        compile: Boolean, compile with `compile()`'s defaults. Defaults to
            `True`.
        **kwargs: Base model keyword arguments: `name`, `trainable`,
            `dtype` (the backbone's is used).

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

    backbone_cls = AWDLSTMBackbone
    preprocessor_cls = ULMFiTTextClassifierPreprocessor

    def __init__(
        self,
        backbone,
        num_classes=None,
        preprocessor=None,
        label_names=None,
        problem_type="single_label",
        y_range=None,
        bptt=72,
        max_len=1440,
        hidden_dims=(50,),
        output_dropout=CLASSIFIER_DROPOUTS["output_dropout"],
        seed=None,
        temperature=1.0,
        thresholds=None,
        compile=True,
        **kwargs,
    ):
        check_keyword_arguments(type(self), kwargs, BASE_ARGUMENTS)
        temperature, thresholds = check_decision_settings(temperature, thresholds, problem_type, num_classes)
        kwargs.pop("dtype", None)  # the backbone's policy, as in KerasHub's tasks
        if not isinstance(backbone, AWDLSTMBackbone):
            raise ValueError(f"Argument `backbone` must be an `AWDLSTMBackbone`. Received: backbone={backbone}")
        if not isinstance(num_classes, int) or num_classes < 1:
            raise UserInputError(
                "Argument `num_classes` must be a positive integer (to build a classifier on a language model's "
                f"preset, pass `num_classes=`). Received: num_classes={num_classes}"
            )
        if backbone.padding_id is None or backbone.stateful:
            backbone = _classifier_backbone(backbone, backbone.dropout_multiplier, backbone.seed)
        label_names, y_range = _checked_settings(num_classes, label_names, problem_type, y_range, bptt, max_len)

        # === Layers ===
        dtype = backbone.dtype_policy
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.pooling_mask = LastChunksMask(bptt, max_len, backbone.padding_id, dtype=dtype, name="pooling_mask")
        self.pooling = ConcatPooling(dtype=dtype, name="pooling")
        dropout_rates = [output_dropout * backbone.dropout_multiplier] + [0.1] * len(hidden_dims)
        self.head = PoolingClassifierHead(num_classes, hidden_dims, dropout_rates, seed=seed, dtype=dtype, name="head")
        # Regression outputs stay float32 under mixed precision.
        self.output_range = None if y_range is None else SigmoidRange(*y_range, dtype="float32", name="output_range")
        # `compile` reads the problem type.
        self.problem_type = problem_type

        # === Functional Model ===
        token_ids = backbone.input
        sequence = backbone(token_ids)["sequence_output"]
        pooled = self.pooling(sequence, mask=self.pooling_mask(token_ids))
        outputs = self.head(pooled)
        if self.output_range is not None:
            outputs = self.output_range(outputs)
        super().__init__(inputs=token_ids, outputs=outputs, compile=False, **kwargs)

        # === Config ===
        self.num_classes = num_classes
        self.label_names = label_names
        self.y_range = y_range
        self.bptt = bptt
        self.max_len = max_len
        self.hidden_dims = tuple(hidden_dims)
        self.output_dropout = output_dropout
        self.seed = seed
        self.temperature = temperature
        self.thresholds = thresholds
        if compile:
            self.compile()

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
                (`preprocessor`, by default the language model's tokenizer;
                `label_names`, `bptt`, ...).
        """
        source = getattr(language_model, "backbone", language_model)
        if not isinstance(source, AWDLSTMBackbone):
            raise ValueError(
                "Argument `language_model` must be a `ULMFiTLanguageModel` or an `AWDLSTMBackbone`. "
                f"Received: language_model={language_model}"
            )
        if "preprocessor" not in kwargs:
            preprocessor = getattr(language_model, "preprocessor", None)
            kwargs["preprocessor"] = getattr(preprocessor, "tokenizer", preprocessor)
        multiplier = source.dropout_multiplier if dropout_multiplier is None else dropout_multiplier
        return cls(_classifier_backbone(source, multiplier, seed), num_classes, seed=seed, **kwargs)

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
        """Softmax (single-label) or sigmoid (multi-label) of the model's logits divided by its `temperature`.

        Regression outputs are returned as they are.
        """
        if self.problem_type == "single_label":
            return ops.softmax(outputs / self.temperature, axis=-1)
        if self.problem_type == "multi_label":
            return ops.sigmoid(outputs / self.temperature)
        return outputs

    def decide(self, probabilities, top_k=None):
        """The labels of each text, as booleans `(texts, labels)`: multi-label at the `thresholds`, then `top_k`.

        Single-label: the most probable class (or the `top_k` most
        probable). See `ulmfit_tf.thresholds.decide`.
        """
        if self.problem_type == "regression":
            raise ValueError("Argument `probabilities` must come from a classifier: this one is a regression.")
        if self.problem_type == "single_label":
            return decide(probabilities, 0.0, top_k or 1)
        return decide(probabilities, DEFAULT_THRESHOLD if self.thresholds is None else self.thresholds, top_k)

    def calibrate(self, texts, labels, batch_size=64):
        """Fits `temperature` (and multi-label `thresholds`) on held-out texts: `ulmfit_tf.calibration.calibrate`.

        Example:

        ```python
        classifier.calibrate(validation_texts, validation_labels)
        ```
        """
        return calibrate(self, texts, labels, batch_size)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_classes": self.num_classes,
                "label_names": self.label_names,
                "problem_type": self.problem_type,
                "y_range": self.y_range,
                "bptt": self.bptt,
                "max_len": self.max_len,
                "hidden_dims": list(self.hidden_dims),
                "output_dropout": self.output_dropout,
                "seed": self.seed,
                "temperature": self.temperature,
                "thresholds": self.thresholds,
            }
        )
        return config


def _classifier_backbone(source, dropout_multiplier, seed):
    """A classifier's encoder with `source`'s sizes and weights: fastai's classifier dropouts, padding masked."""
    backbone = AWDLSTMBackbone(
        vocabulary_size=source.vocabulary_size,
        embedding_dim=source.embedding_dim,
        hidden_dim=source.hidden_dim,
        num_layers=source.num_layers,
        dropout_multiplier=dropout_multiplier,
        padding_id=PADDING_ID,
        seed=seed,
        dtype=source.dtype_policy,
        **backbone_dropouts(CLASSIFIER_DROPOUTS),
    )
    backbone.set_encoder_weights(source)
    return backbone


def _checked_settings(num_classes, label_names, problem_type, y_range, bptt, max_len):
    """`label_names` and `y_range` as the classifier keeps them; refuses settings that do not fit together."""
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
    return label_names, y_range
