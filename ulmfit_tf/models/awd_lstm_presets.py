"""The presets ulmfit-tf ships, in KerasHub's registry format.

Each entry's `metadata` describes it and its `kaggle_handle` is where
KerasHub's loader reads it: here a folder inside the installed package, so
`from_preset("awd_lstm_small_en_uncased")` works offline. `ulmfit_tf.models`
registers them for `AWDLSTMBackbone` (and so for every task and tokenizer
of the family), as KerasHub's own families do.
"""

import os

BUNDLED_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bundled_presets")

backbone_presets = {
    "awd_lstm_small_en_uncased": {
        "metadata": {
            "description": (
                "English AWD-LSTM language model (embedding 128, hidden 320, 3 layers, case-folded SentencePiece "
                "16,000), its embedding started from GloVe 6B vectors, pretrained on 7.5 M words of ten sources "
                "(news, Wikipedia leads, BBC News, tweets, speeches, novels, the King James Bible, WordNet glosses); "
                "the main job's starting point"
            ),
            "params": 3689088,
            "path": "awd_lstm",
        },
        "kaggle_handle": os.path.join(BUNDLED_DIR, "awd_lstm_small_en_uncased"),
    },
}
