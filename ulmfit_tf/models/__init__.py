"""The ulmfit-tf model family, registered with KerasHub on import.

After `import ulmfit_tf.models`, `keras_hub.models.Backbone`,
`keras_hub.models.TextClassifier`, `keras_hub.models.CausalLM` and
`keras_hub.tokenizers.Tokenizer` load the family's presets (folders,
`hf://`, `kaggle://` handles, and the bundled names in
`awd_lstm_presets.backbone_presets`).
"""

from ulmfit_tf._keras_hub_internals import register_presets
from ulmfit_tf.models.awd_lstm_backbone import AWDLSTMBackbone
from ulmfit_tf.models.awd_lstm_presets import backbone_presets
from ulmfit_tf.models.dropouts import CLASSIFIER_DROPOUTS
from ulmfit_tf.models.dropouts import LANGUAGE_MODEL_DROPOUTS
from ulmfit_tf.models.ulmfit_causal_lm_preprocessor import ULMFiTCausalLMPreprocessor
from ulmfit_tf.models.ulmfit_language_model import ActivationRegularization
from ulmfit_tf.models.ulmfit_language_model import ULMFiTLanguageModel
from ulmfit_tf.models.ulmfit_text_classifier import ULMFiTTextClassifier
from ulmfit_tf.text.sentencepiece_tokenizer import SentencePieceTokenizer
from ulmfit_tf.text.ulmfit_text_classifier_preprocessor import ULMFiTTextClassifierPreprocessor
from ulmfit_tf.text.word_tokenizer import WordTokenizer

# KerasHub finds a family's tokenizer and preprocessor through their
# `backbone_cls`; they live in `ulmfit_tf.text`, which the models import, so
# the link is made here rather than there.
for _cls in (SentencePieceTokenizer, WordTokenizer, ULMFiTTextClassifierPreprocessor):
    _cls.backbone_cls = AWDLSTMBackbone
register_presets(backbone_presets, AWDLSTMBackbone)

__all__ = [
    "AWDLSTMBackbone",
    "ActivationRegularization",
    "CLASSIFIER_DROPOUTS",
    "LANGUAGE_MODEL_DROPOUTS",
    "ULMFiTCausalLMPreprocessor",
    "ULMFiTLanguageModel",
    "ULMFiTTextClassifier",
]
