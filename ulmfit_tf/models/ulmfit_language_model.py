import keras
import keras_hub
import numpy as np
from keras import ops

from ulmfit_tf.distribute import distribute_fixes
from ulmfit_tf.layers.activation_regularization import ActivationRegularization
from ulmfit_tf.layers.rnn_dropout import RNNDropout
from ulmfit_tf.models.awd_lstm_backbone import AWDLSTMBackbone
from ulmfit_tf.models.dropouts import LANGUAGE_MODEL_DROPOUTS
from ulmfit_tf.models.keyword_arguments import BASE_ARGUMENTS
from ulmfit_tf.models.keyword_arguments import check_keyword_arguments
from ulmfit_tf.models.lstm_state_generation import LSTMStateGeneration
from ulmfit_tf.models.preset_writer import AtomicPresetTask
from ulmfit_tf.models.ulmfit_causal_lm_preprocessor import ULMFiTCausalLMPreprocessor
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
class ULMFiTLanguageModel(AtomicPresetTask, LSTMStateGeneration, keras_hub.models.CausalLM):
    """AWD-LSTM language model with a decoder tied to the embedding.

    The backbone's last output goes through locked output dropout and is
    projected onto the vocabulary by the transpose of the backbone's
    embedding matrix (one shared variable) plus a bias of its own. During
    training, AR and TAR penalties are added to the loss. The model maps
    token ids `(batch, timesteps)` to next-token logits
    `(batch, timesteps, vocabulary_size)` (float32, also under mixed
    precision), so it trains with plain `model.fit` on `(ids, next_ids)`.

    It is a KerasHub `CausalLM`: `generate(prompts, max_length)` writes
    text with the sampler given to `compile(sampler=...)` (`"greedy"`,
    `"top_k"` (the default), `"top_p"`, `"beam"`, `"random"`,
    `"contrastive"` or a `keras_hub.samplers.Sampler`), carrying the LSTM
    states from token to token as its cache. Generation leaves a `stateful`
    model's carried state as it was.

    A KerasHub task: `keras_hub.models.CausalLM.from_preset(preset)` loads
    one (a bundled name such as `"awd_lstm_small_en_uncased"`, a preset folder, a
    `hf://` or `kaggle://` handle), `save_to_preset(folder)` writes one;
    `ulmfit_tf.presets.load_language_model` also reads command-line model
    folders and fastai's pretrained folders. `with_vocabulary(tokens)`
    moves it onto another vocabulary as fastai's `match_embeds` does.

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
            tokenizer's vocabulary.
        preprocessor: Optional `ULMFiTCausalLMPreprocessor`, or the
            tokenizer to wrap in one (`SentencePieceTokenizer`,
            `WordTokenizer` with a vocabulary). Saved with the model, so
            that the later stages tokenize text exactly as this model was
            trained; `generate` needs it to take strings.
        seed: Optional integer, seed of the output dropout.
        compile: Boolean, compile with `compile()`'s defaults. Defaults to
            `True`, as KerasHub's tasks.
        **kwargs: Base model keyword arguments: `name`, `trainable`,
            `dtype` (the backbone's is used).

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

    With a tokenizer, it writes text:

    ```python
    language_model = ULMFiTLanguageModel.from_preset("awd_lstm_small_en_uncased")
    language_model.compile(sampler="top_p")
    language_model.generate("The film is", max_length=40)
    ```

    Reference:
        - [Howard & Ruder, 2018](https://arxiv.org/abs/1801.06146)
    """

    backbone_cls = AWDLSTMBackbone
    preprocessor_cls = ULMFiTCausalLMPreprocessor

    def __init__(
        self,
        backbone,
        output_dropout=LANGUAGE_MODEL_DROPOUTS["output_dropout"],
        ar_alpha=2.0,
        tar_beta=1.0,
        vocabulary=None,
        preprocessor=None,
        seed=None,
        compile=True,
        **kwargs,
    ):
        check_keyword_arguments(type(self), kwargs, BASE_ARGUMENTS)
        kwargs.pop("dtype", None)  # the backbone's policy, as in KerasHub's tasks
        preprocessor = _causal_lm_preprocessor(preprocessor)
        vocabulary = _checked_vocabulary(backbone, vocabulary, preprocessor)

        # === Layers ===
        dtype = backbone.dtype_policy
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.output_dropout_layer = RNNDropout(
            output_dropout * backbone.dropout_multiplier,
            seed=seed,
            dtype=dtype,
            name="output_dropout",
        )
        self.activation_regularization = ActivationRegularization(
            ar_alpha, tar_beta, dtype=dtype, name="activation_regularization"
        )
        # Logits stay float32 under mixed precision.
        self.decoder_bias = DecoderBias(dtype="float32", name="decoder_bias")

        # === Functional Model ===
        token_ids = backbone.input
        raw = backbone(token_ids)["sequence_output"]
        dropped = self.output_dropout_layer(raw)
        dropped = self.activation_regularization([raw, dropped])
        logits = backbone.token_embedding(dropped, reverse=True)
        logits = self.decoder_bias(logits)
        super().__init__(inputs=token_ids, outputs=logits, compile=False, **kwargs)

        # === Config ===
        self.output_dropout = output_dropout
        self.ar_alpha = ar_alpha
        self.tar_beta = tar_beta
        self.vocabulary = vocabulary
        self.seed = seed
        if compile:
            self.compile()

    @property
    def preprocessor(self):
        """The `ULMFiTCausalLMPreprocessor` holding the tokenizer, or `None`.

        Setting a bare tokenizer wraps it.
        """
        return getattr(self, "_preprocessor", None)

    @preprocessor.setter
    def preprocessor(self, value):
        self._preprocessor = _causal_lm_preprocessor(value)

    # KerasHub's `PipelineModel` turns the inputs of these into batched
    # datasets run through the preprocessor (one padded text per row); this
    # model reads streams of ids whose rows continue from batch to batch
    # (stateful BPTT), so they are `keras.Model`'s.
    fit = keras.Model.fit
    evaluate = keras.Model.evaluate
    predict = keras.Model.predict
    train_on_batch = keras.Model.train_on_batch
    test_on_batch = keras.Model.test_on_batch
    predict_on_batch = keras.Model.predict_on_batch

    def compile(self, optimizer="auto", loss="auto", *, weighted_metrics=None, sampler="top_k", **kwargs):
        """`CausalLM.compile` without its default weighted accuracy.

        KerasHub adds one for its padded texts; this model trains on
        unpadded streams and reports only the `metrics` it is given.

        Args:
            optimizer: As `keras_hub.models.CausalLM.compile`.
            loss: As `keras_hub.models.CausalLM.compile`.
            weighted_metrics: Optional list of metrics. Defaults to `None`.
            sampler: A sampler name or `keras_hub.samplers.Sampler`, used
                by `generate`. Defaults to `"top_k"`.
            **kwargs: Any other argument of `keras.Model.compile`.
        """
        super().compile(optimizer=optimizer, loss=loss, weighted_metrics=weighted_metrics, sampler=sampler, **kwargs)

    def compile_from_config(self, config):
        # Keras skips this for a custom `compile`; ours takes the same arguments.
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

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
        tokenizer is a `WordTokenizer` over `tokens` (keeping `add_bos` and
        `reverse` of this model's tokenizer). This is how fastai
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
        tokenizer = getattr(self.preprocessor, "tokenizer", None)
        tokenizer = WordTokenizer(
            add_bos=getattr(tokenizer, "add_bos", True),
            vocabulary=tokens if isinstance(tokens, Vocabulary) else [str(token) for token in tokens],
            reverse=getattr(tokenizer, "reverse", False),
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
            preprocessor=ULMFiTCausalLMPreprocessor(
                tokenizer, sequence_length=getattr(self.preprocessor, "sequence_length", 1024)
            ),
            seed=self.seed,
            name=self.name,
        )
        for target, value in zip(backbone.encoder_variables(), [embeddings] + self.backbone.encoder_variables()[1:]):
            target.assign(value)
        model.decoder_bias.bias.assign(bias)
        return model

    def rebuilt(self, seed=None, **backbone_settings):
        """A copy with this model's weights and settings on a backbone built with other `backbone_settings`.

        How a stage gets a stateful model of its batch size (or other
        dropouts) from any language model, e.g. the bundled preset, which
        keeps no state.

        Args:
            seed: Optional integer, seeds the copy's dropouts. Defaults to
                this model's seed.
            **backbone_settings: `AWDLSTMBackbone` arguments to change
                (`stateful`, `batch_size`, `dropout_multiplier`, ...).

        Returns:
            A new `ULMFiTLanguageModel`; this one is left unchanged.

        Example:

        ```python
        streaming = ULMFiTLanguageModel.from_preset("awd_lstm_small_en_uncased").rebuilt(stateful=True, batch_size=32)
        ```
        """
        seed = self.seed if seed is None else seed
        config = dict(self.backbone.get_config(), seed=seed)
        config.pop("dtype")  # the policy in force (a stage's `dtype_policy`) unless `dtype=` is given
        backbone = AWDLSTMBackbone.from_config(dict(config, **backbone_settings))
        model = ULMFiTLanguageModel(
            backbone, output_dropout=self.output_dropout, ar_alpha=self.ar_alpha, tar_beta=self.tar_beta,
            vocabulary=self.vocabulary, preprocessor=self.preprocessor, seed=seed,
        )
        backbone.set_encoder_weights(self.backbone)
        model.decoder_bias.bias.assign(self.decoder_bias.bias)
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
        config = super().get_config()
        config.update(
            {
                "output_dropout": self.output_dropout,
                "ar_alpha": self.ar_alpha,
                "tar_beta": self.tar_beta,
                "vocabulary": self.vocabulary,
                "seed": self.seed,
            }
        )
        return config


def _causal_lm_preprocessor(preprocessor):
    """`preprocessor` itself, or a bare tokenizer wrapped in a `ULMFiTCausalLMPreprocessor`."""
    if preprocessor is None or isinstance(preprocessor, keras_hub.models.CausalLMPreprocessor):
        return preprocessor
    return ULMFiTCausalLMPreprocessor(preprocessor)


def _checked_vocabulary(backbone, vocabulary, preprocessor):
    """The token of each id (the tokenizer's by default), once `backbone` and it are checked."""
    if not isinstance(backbone, AWDLSTMBackbone):
        raise ValueError(f"Argument `backbone` must be an `AWDLSTMBackbone`. Received: backbone={backbone}")
    if vocabulary is None and preprocessor is not None:
        vocabulary = preprocessor.tokenizer.get_vocabulary()
    if vocabulary is None:
        return None
    vocabulary = [str(token) for token in vocabulary]
    if len(vocabulary) != backbone.vocabulary_size:
        raise ValueError(
            f"Argument `vocabulary` must hold one token per id, {backbone.vocabulary_size} tokens. "
            f"Received: a vocabulary of {len(vocabulary)} tokens"
        )
    return vocabulary
