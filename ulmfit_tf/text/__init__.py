from ulmfit_tf.text.classification_dataset import classification_dataset
from ulmfit_tf.text.classification_dataset import encode_labels
from ulmfit_tf.text.language_model_dataset import language_model_dataset
from ulmfit_tf.text.language_model_source import LanguageModelSource
from ulmfit_tf.text.sentencepiece_tokenizer import SentencePieceTokenizer
from ulmfit_tf.text.ulmfit_text_classifier_preprocessor import ULMFiTTextClassifierPreprocessor
from ulmfit_tf.text.vocabulary import SPECIAL_TOKENS
from ulmfit_tf.text.vocabulary import Vocabulary
from ulmfit_tf.text.word_tokenizer import WordTokenizer

__all__ = [
    "LanguageModelSource",
    "SPECIAL_TOKENS",
    "SentencePieceTokenizer",
    "ULMFiTTextClassifierPreprocessor",
    "Vocabulary",
    "WordTokenizer",
    "classification_dataset",
    "encode_labels",
    "language_model_dataset",
]
