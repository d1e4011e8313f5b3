from ulmfit_tf.text.sentencepiece_tokenizer import SentencePieceTokenizer

__all__ = ["SentencePieceTokenizer"]
