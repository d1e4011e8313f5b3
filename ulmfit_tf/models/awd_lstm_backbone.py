import keras
import keras_hub
from keras import ops

from ulmfit_tf.layers.embedding_dropout import EmbeddingDropout
from ulmfit_tf.layers.rnn_dropout import RNNDropout
from ulmfit_tf.layers.weight_drop_lstm import WeightDropLSTM
from ulmfit_tf.models.dropouts import LANGUAGE_MODEL_DROPOUTS
from ulmfit_tf.models.keyword_arguments import check_keyword_arguments
from ulmfit_tf.models.preset_writer import write_preset


@keras.saving.register_keras_serializable(package="ulmfit_tf")
class AWDLSTMBackbone(keras_hub.models.Backbone):
    """The AWD-LSTM encoder of ULMFiT.

    Token ids go through an embedding with embedding dropout, locked input
    dropout, then `num_layers` weight-dropped LSTM layers with locked hidden
    dropout between them. The last layer has `embedding_dim` units so that a
    language model decoder can tie its weights to the embedding.

    Padding: when `padding_id` is set (fastai's `xxpad` is 1), positions
    holding it are masked. The LSTM layers carry their state unchanged over
    masked steps, so a padded sequence gives, at its real positions, the same
    outputs as the sequence alone, whether the padding comes before or after
    the text. ulmfit-tf pads after the text, which keeps cuDNN usable on GPU.
    A language model reads an unpadded stream and, like fastai's, masks
    nothing: leave `padding_id=None` there.

    Every dropout rate ends in `_dropout` and is multiplied by
    `dropout_multiplier` (fastai's `drop_mult`). The defaults are fastai's
    `awd_lstm_lm_config`; `dropouts.CLASSIFIER_DROPOUTS` holds its classifier
    config.

    A KerasHub backbone: `keras_hub.models.Backbone.from_preset(preset)`
    loads one from a preset (a bundled name, a folder, `hf://` or
    `kaggle://`), with any constructor argument changed by keyword
    (`stateful=True, batch_size=32`, say); `save_to_preset` writes one.
    Unknown keyword arguments are refused rather than ignored.

    Args:
        vocabulary_size: Integer, number of tokens in the vocabulary.
        embedding_dim: Integer, size of the embeddings and of the last LSTM
            layer's output. Defaults to `400`.
        hidden_dim: Integer, units of the other LSTM layers. Defaults to
            `1152`.
        num_layers: Integer, number of LSTM layers. Defaults to `3`.
        embedding_dropout: Float, fraction of whole words dropped.
        input_dropout: Float, locked dropout on the embeddings.
        hidden_dropout: Float, locked dropout between LSTM layers.
        weight_dropout: Float, DropConnect on each recurrent kernel.
        dropout_multiplier: Float, scales every dropout rate. Defaults to
            `1.0`.
        padding_id: Optional integer, id of the padding token, masked in the
            LSTMs. Defaults to `None` (no masking).
        stateful: Boolean. If `True`, consecutive calls continue from the
            LSTM state left by the previous call (like fastai's language
            model) until `reset_state()`. Requires `batch_size`.
        batch_size: Optional integer, fixed batch size (needed when
            `stateful=True`).
        seed: Optional integer, seeds every dropout mask.
        dtype: Optional dtype or `keras.DTypePolicy` of every layer (the
            ids stay int32). Defaults to Keras' global policy.
        **kwargs: Base model keyword arguments: `name`, `trainable`.

    Returns:
        A dict with `"sequence_output"`, the last layer's output of shape
        `(batch, timesteps, embedding_dim)`, and the lists
        `"raw_outputs"` (each layer's output) and `"dropped_outputs"` (after
        hidden dropout; the last layer's is its raw output), which AR/TAR
        regularisation uses.

    Example:

    >>> backbone = AWDLSTMBackbone(
    ...     vocabulary_size=100, embedding_dim=8, hidden_dim=16, num_layers=2
    ... )
    >>> backbone(np.array([[4, 5, 6, 7]]))["sequence_output"].shape
    (1, 4, 8)

    Reference:
        - [Merity et al., 2017](https://arxiv.org/abs/1708.02182)
        - [Howard & Ruder, 2018](https://arxiv.org/abs/1801.06146)
    """

    # Over 60 lines: KerasHub's backbone layout, layers, functional model
    # and config in one constructor.
    def __init__(
        self,
        vocabulary_size,
        embedding_dim=400,
        hidden_dim=1152,
        num_layers=3,
        embedding_dropout=LANGUAGE_MODEL_DROPOUTS["embedding_dropout"],
        input_dropout=LANGUAGE_MODEL_DROPOUTS["input_dropout"],
        hidden_dropout=LANGUAGE_MODEL_DROPOUTS["hidden_dropout"],
        weight_dropout=LANGUAGE_MODEL_DROPOUTS["weight_dropout"],
        dropout_multiplier=1.0,
        padding_id=None,
        stateful=False,
        batch_size=None,
        seed=None,
        dtype=None,
        **kwargs,
    ):
        # One long constructor, in KerasHub's sections (layers, functional model, config), as its backbones are.
        check_keyword_arguments(type(self), kwargs)
        _check_arguments(vocabulary_size, embedding_dim, hidden_dim, num_layers, dropout_multiplier, stateful, batch_size)

        def seed_for(offset):
            return None if seed is None else seed + offset

        # === Layers ===
        self.token_embedding = keras.layers.ReversibleEmbedding(
            vocabulary_size,
            embedding_dim,
            embeddings_initializer=keras.initializers.RandomUniform(-0.1, 0.1),
            dtype=dtype,
            name="token_embedding",
        )
        self.embedding_dropout_layer = EmbeddingDropout(
            self.token_embedding,
            rate=embedding_dropout * dropout_multiplier,
            seed=seed_for(0),
            dtype=dtype,
            name="embedding_dropout",
        )
        self.input_dropout_layer = RNNDropout(
            input_dropout * dropout_multiplier,
            seed=seed_for(1),
            dtype=dtype,
            name="input_dropout",
        )
        self.lstm_layers = [
            WeightDropLSTM(
                embedding_dim if i == num_layers - 1 else hidden_dim,
                weight_dropout=weight_dropout * dropout_multiplier,
                return_sequences=True,
                stateful=stateful,
                seed=seed_for(10 + i),
                dtype=dtype,
                name=f"lstm_{i}",
            )
            for i in range(num_layers)
        ]
        self.hidden_dropout_layers = [
            RNNDropout(
                hidden_dropout * dropout_multiplier,
                seed=seed_for(20 + i),
                dtype=dtype,
                name=f"hidden_dropout_{i}",
            )
            for i in range(num_layers - 1)
        ]

        # === Functional Model ===
        token_ids = keras.Input(
            shape=(None,), batch_size=batch_size, dtype="int32", name="token_ids"
        )
        mask = None if padding_id is None else ops.not_equal(token_ids, padding_id)
        x = self.input_dropout_layer(self.embedding_dropout_layer(token_ids))
        raw_outputs, dropped_outputs = [], []
        for i, lstm in enumerate(self.lstm_layers):
            x = lstm(x, mask=mask)
            raw_outputs.append(x)
            if i < num_layers - 1:
                x = self.hidden_dropout_layers[i](x)
            dropped_outputs.append(x)
        super().__init__(
            inputs=token_ids,
            outputs={
                "sequence_output": raw_outputs[-1],
                "raw_outputs": raw_outputs,
                "dropped_outputs": dropped_outputs,
            },
            dtype=dtype,
            **kwargs,
        )

        # === Config ===
        self.vocabulary_size = vocabulary_size
        self.embedding_dim = embedding_dim
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.embedding_dropout = embedding_dropout
        self.input_dropout = input_dropout
        self.hidden_dropout = hidden_dropout
        self.weight_dropout = weight_dropout
        self.dropout_multiplier = dropout_multiplier
        self.padding_id = padding_id
        self.stateful = stateful
        self.batch_size = batch_size
        self.seed = seed

    def reset_state(self):
        """Zeroes the carried LSTM state of a `stateful` backbone."""
        for lstm in self.lstm_layers:
            if lstm.stateful:
                lstm.reset_state()

    def encoder_variables(self):
        """The embedding and LSTM variables, in a fixed order."""
        variables = [self.token_embedding.embeddings]
        for lstm in self.lstm_layers:
            variables += [lstm.cell.kernel, lstm.cell.recurrent_kernel, lstm.cell.bias]
        return variables

    def set_encoder_weights(self, source):
        """Copies the weights of another backbone of the same sizes.

        Dropout rates, padding and statefulness may differ: this is how a
        stateful language model's encoder moves into a classifier, or into a
        language model with another batch size.

        Args:
            source: An `AWDLSTMBackbone` with the same vocabulary size,
                embedding and hidden dims and number of layers.
        """
        sizes = ("vocabulary_size", "embedding_dim", "hidden_dim", "num_layers")
        mine = {name: getattr(self, name) for name in sizes}
        theirs = {name: getattr(source, name, None) for name in sizes}
        if mine != theirs:
            raise ValueError(
                f"Argument `source` must be an AWDLSTMBackbone of the same sizes {mine}. Received: sizes {theirs}"
            )
        for target, value in zip(self.encoder_variables(), source.encoder_variables()):
            target.assign(value)

    def save_to_preset(self, preset_dir, max_shard_size=10, model_card=None, overwrite=False):
        """Writes this backbone as a KerasHub preset folder, all at once.

        `config.json`, `model.weights.h5` and `metadata.json` (KerasHub's),
        ulmfit-tf's manifest and a model card (`README.md`); see
        `ulmfit_tf.models.preset_writer.write_preset`.

        Args:
            preset_dir: The folder: missing, empty, or (with `overwrite`) a
                preset ulmfit-tf wrote.
            max_shard_size: KerasHub's weight shard size, in GB.
            model_card: Optional dict of the card's fields.
            overwrite: Boolean, replace an existing preset folder.

        Returns:
            The folder, as a string.
        """
        base = super(AWDLSTMBackbone, self)
        return write_preset(
            self, preset_dir, lambda folder: base.save_to_preset(folder, max_shard_size), model_card, overwrite
        )

    def get_config(self):
        config = super().get_config()
        # The dtype of the weights, not a mixed policy: mixed precision is a run setting (`--dtype-policy`), and
        # a model trained under `mixed_bfloat16` (float32 weights) loads in float32 unless a run asks again.
        config["dtype"] = keras.dtype_policies.serialize(keras.DTypePolicy(self.dtype_policy.variable_dtype))
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "embedding_dim": self.embedding_dim,
                "hidden_dim": self.hidden_dim,
                "num_layers": self.num_layers,
                "embedding_dropout": self.embedding_dropout,
                "input_dropout": self.input_dropout,
                "hidden_dropout": self.hidden_dropout,
                "weight_dropout": self.weight_dropout,
                "dropout_multiplier": self.dropout_multiplier,
                "padding_id": self.padding_id,
                "stateful": self.stateful,
                "batch_size": self.batch_size,
                "seed": self.seed,
            }
        )
        return config


def _check_arguments(vocabulary_size, embedding_dim, hidden_dim, num_layers, dropout_multiplier, stateful, batch_size):
    """Refuses sizes, a multiplier or a statefulness that cannot build a backbone."""
    for name, value in (
        ("vocabulary_size", vocabulary_size),
        ("embedding_dim", embedding_dim),
        ("hidden_dim", hidden_dim),
        ("num_layers", num_layers),
    ):
        if not isinstance(value, int) or value < 1:
            raise ValueError(
                f"Argument `{name}` must be a positive integer. "
                f"Received: {name}={value}"
            )
    if dropout_multiplier < 0:
        raise ValueError(
            "Argument `dropout_multiplier` must be >= 0. "
            f"Received: dropout_multiplier={dropout_multiplier}"
        )
    if stateful and batch_size is None:
        raise ValueError(
            "Argument `batch_size` must be set when `stateful=True`. "
            f"Received: batch_size={batch_size}"
        )
