from ulmfit_tf.models.awd_lstm_backbone import AWDLSTMBackbone
from ulmfit_tf.models.dropouts import CLASSIFIER_DROPOUTS
from ulmfit_tf.models.dropouts import LANGUAGE_MODEL_DROPOUTS
from ulmfit_tf.models.ulmfit_language_model import ActivationRegularization
from ulmfit_tf.models.ulmfit_language_model import ULMFiTLanguageModel
from ulmfit_tf.models.ulmfit_text_classifier import ULMFiTTextClassifier

__all__ = [
    "AWDLSTMBackbone",
    "ActivationRegularization",
    "CLASSIFIER_DROPOUTS",
    "LANGUAGE_MODEL_DROPOUTS",
    "ULMFiTLanguageModel",
    "ULMFiTTextClassifier",
]
