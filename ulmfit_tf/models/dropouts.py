"""fastai's AWD-LSTM dropout configurations, under ulmfit-tf's names (formerly `ulmfit_tf.models.presets`).

fastai's `awd_lstm_lm_config` and `awd_lstm_clas_config` name them `embed_p`,
`input_p`, `hidden_p`, `weight_p` and `output_p`; both are scaled by
`dropout_multiplier` (fastai's `drop_mult`).
"""

LANGUAGE_MODEL_DROPOUTS = {
    "embedding_dropout": 0.02,
    "input_dropout": 0.25,
    "hidden_dropout": 0.15,
    "weight_dropout": 0.2,
    "output_dropout": 0.1,
}

CLASSIFIER_DROPOUTS = {
    "embedding_dropout": 0.05,
    "input_dropout": 0.4,
    "hidden_dropout": 0.3,
    "weight_dropout": 0.5,
    "output_dropout": 0.4,
}


def backbone_dropouts(dropouts):
    """Returns the entries of a dropout preset that `AWDLSTMBackbone` takes."""
    return {k: v for k, v in dropouts.items() if k != "output_dropout"}
