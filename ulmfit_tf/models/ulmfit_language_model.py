import keras
import numpy as np
from keras import ops

from ulmfit_tf.distribute import distribute_fixes
from ulmfit_tf.layers.activation_regularization import ActivationRegularization
from ulmfit_tf.layers.rnn_dropout import RNNDropout
from ulmfit_tf.models.awd_lstm_backbone import AWDLSTMBackbone
from ulmfit_tf.models.dropouts import LANGUAGE_MODEL_DROPOUTS
from ulmfit_tf.presets import PresetMixin
from ulmfit_tf.text.vocabulary import Vocabulary
from ulmfit_tf.text.word_tokenizer import WordTokenizer


@keras.saving.register_keras_serializable(package="ulmfit_tf")
class DecoderBias(keras.layers.Layer):
    """Adds the language model decoder's own bias to the tied logits."""

    def build(self, input_shape):
        self.bias = self.add_weight(
            shape=(input_shape[-1],), initializer="zeros", name="bias"
        )

    def call(self, inputs):
        return inputs + self.bias

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="ulmfit_tf")
@distribute_fixes
class ULMFiTLanguageModel(PresetMixin, keras.Model):
    """AWD-LSTM language model with a decoder tied to the embedding.

    The backbone's last output goes through locked output dropout and is
    projected onto the vocabulary by the transpose of the backbone's
    embedding matrix (one shared variable) plus a bias of its own. During
    training, AR and TAR penalties are added to the loss. The model maps
    token ids `(batch, timesteps)` to next-token logits
    `(batch, timesteps, vocabulary_size)` (float32, also under mixed
    precision), so it trains with plain `model.fit` on `(ids, next_ids)`.

    `ULMFiTLanguageModel.from_preset(preset)` loads a pretrained one (a
    preset, a model folder or a fastai pretrained folder such as
    `wt103-fwd/`), `save_to_preset(directory)` writes one, and
    `with_vocabulary(tokens)` moves it onto another vocabulary as fastai's
    `match_embeds` does.

    Args:
        backbone: An `AWDLSTMBackbone`. Make it `stateful` (with a fixed
            `batch_size`) to carry the LSTM state between consecutive
            batches, as fastai's language model does.
        output_dropout: Float, locked dropout before the decoder, multiplied
            by the backbone's `dropout_multiplier`. Defaults to `0.1`.
        ar_alpha: Float, weight of activation regularization. Defaults to
            `2.0`.
        tar_beta: Float, weight of temporal activation regularization.
            Defaults to `1.0`.
        vocabulary: Optional list of `vocabulary_size` strings, the token of
            each id (fastai's `itos`). Saved with the model. Defaults to the
            preprocessor's vocabulary.
        preprocessor: Optional tokenizer from strings to ids (e.g.
            `SentencePieceTokenizer`), saved with the model so that the
            later stages tokenize text exactly as this model was trained.
        seed: Optional integer, seed of the output dropout.
        **kwargs: Base model keyword arguments, such as `name`.

    Example:

    >>> backbone = AWDLSTMBackbone(
    ...     vocabulary_size=100, embedding_dim=8, hidden_dim=16, num_layers=2
    ... )
    >>> model = ULMFiTLanguageModel(backbone)
    >>> model.compile(
    ...     optimizer="adam",
    ...     loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    ... )
    >>> ids = np.random.randint(2, 100, size=(4, 11))
    >>> history = model.fit(ids[:, :-1], ids[:, 1:], verbose=0)
    >>> model.predict(ids[:, :-1], verbose=0).shape
    (4, 10, 100)

    Reference:
        - [Howard & Ruder, 2018](https://arxiv.org/abs/1801.06146)
    """

    def __init__(
        self,
        backbone,
        output_dropout=LANGUAGE_MODEL_DROPOUTS["output_dropout"],
        ar_alpha=2.0,
        tar_beta=1.0,
        vocabulary=None,
        preprocessor=None,
        seed=None,
        **kwargs,
    ):
        if vocabulary is None and preprocessor is not None:
            vocabulary = preprocessor.get_vocabulary()
        if not isinstance(backbone, AWDLSTMBackbone):
            raise ValueError(
                "Argument `backbone` must be an `AWDLSTMBackbone`. "
                f"Received: backbone={backbone}"
            )
        if vocabulary is not None:
            vocabulary = [str(token) for token in vocabulary]
            if len(vocabulary) != backbone.vocabulary_size:
                raise ValueError(
                    "Argument `vocabulary` must hold one token per id, "
                    f"{backbone.vocabulary_size} tokens. "
                    f"Received: a vocabulary of {len(vocabulary)} tokens"
                )

        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.output_dropout_layer = RNNDropout(
            output_dropout * backbone.dropout_multiplier,
            seed=seed,
            name="output_dropout",
        )
        self.activation_regularization = ActivationRegularization(
            ar_alpha, tar_beta, name="activation_regularization"
        )
        self.decoder_bias = DecoderBias(dtype="float32", name="decoder_bias")

        # === Functional Model ===
        token_ids = backbone.input
        raw = backbone(token_ids)["sequence_output"]
        dropped = self.output_dropout_layer(raw)
        dropped = self.activation_regularization([raw, dropped])
        logits = backbone.token_embedding(dropped, reverse=True)
        logits = self.decoder_bias(logits)
        super().__init__(inputs=token_ids, outputs=logits, **kwargs)

        # === Config ===
        self.output_dropout = output_dropout
        self.ar_alpha = ar_alpha
        self.tar_beta = tar_beta
        self.vocabulary = vocabulary
        self.seed = seed

    def reset_state(self):
        """Zeroes the carried LSTM state of a `stateful` language model."""
        self.backbone.reset_state()

    def with_vocabulary(self, tokens):
        """A copy of this language model over another vocabulary, as fastai's `match_embeds`.

        A token of `tokens` found in this model's `vocabulary` keeps its
        embedding row (shared by the tied decoder) and its decoder bias (a
        token listed there twice, such as `xxfake`, takes its last id, as in
        fastai); any other token gets the mean row and the mean bias. The
        LSTM weights and every setting are copied; the new model's
        `preprocessor` is a `WordTokenizer` over `tokens` (keeping `add_bos`
        and `reverse` of this model's preprocessor). This is how fastai
        starts from a pretrained language model on a corpus of your own.

        Args:
            tokens: List of strings (the token of each new id, `xxunk`
                first) or a `Vocabulary`.

        Returns:
            A new `ULMFiTLanguageModel`; this one is left unchanged.

        Example:

        ```python
        language_model = ULMFiTLanguageModel.from_preset("wt103-fwd/")
        tokens = WordTokenizer()(texts).to_list()
        language_model = language_model.with_vocabulary(Vocabulary.from_corpus(tokens))
        ```
        """
        if self.vocabulary is None:
            raise ValueError(
                "This language model has no `vocabulary` to match the new tokens to; build it with "
                "`vocabulary=` (the token of each id) or a preprocessor that has one."
            )
        tokenizer = WordTokenizer(
            add_bos=getattr(self.preprocessor, "add_bos", True),
            vocabulary=tokens if isinstance(tokens, Vocabulary) else [str(token) for token in tokens],
            reverse=getattr(self.preprocessor, "reverse", False),
        )
        old_ids = {token: i for i, token in enumerate(self.vocabulary)}
        rows = [old_ids.get(token, -1) for token in tokenizer.get_vocabulary()]
        # Row -1 of the stacked arrays is the mean, fastai's value for new tokens.
        embeddings = ops.convert_to_numpy(self.backbone.token_embedding.embeddings)
        embeddings = np.concatenate([embeddings, embeddings.mean(0, keepdims=True)])[rows]
        bias = ops.convert_to_numpy(self.decoder_bias.bias)
        bias = np.append(bias, bias.mean())[rows]
        backbone = AWDLSTMBackbone.from_config(dict(self.backbone.get_config(), vocabulary_size=len(rows)))
        model = ULMFiTLanguageModel(
            backbone,
            output_dropout=self.output_dropout,
            ar_alpha=self.ar_alpha,
            tar_beta=self.tar_beta,
            preprocessor=tokenizer,
            seed=self.seed,
            name=self.name,
        )
        for target, value in zip(backbone.encoder_variables(), [embeddings] + self.backbone.encoder_variables()[1:]):
            target.assign(value)
        model.decoder_bias.bias.assign(bias)
        return model

    def layer_groups(self):
        """fastai's layer groups, input side first, for discriminative rates.

        One group per LSTM layer, then the embedding with the tied decoder
        (the top group, trained at the full rate).
        """
        backbone = self.backbone
        return [[lstm] for lstm in backbone.lstm_layers] + [
            [backbone.embedding_dropout_layer, self.decoder_bias]
        ]

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "output_dropout": self.output_dropout,
            "ar_alpha": self.ar_alpha,
            "tar_beta": self.tar_beta,
            "vocabulary": self.vocabulary,
            "preprocessor": None
            if self.preprocessor is None
            else keras.saving.serialize_keras_object(self.preprocessor),
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("backbone", "preprocessor"):
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key], custom_objects=custom_objects)
        return cls(**config)
