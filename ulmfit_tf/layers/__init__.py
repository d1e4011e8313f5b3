from ulmfit_tf.layers.embedding_dropout import EmbeddingDropout
from ulmfit_tf.layers.rnn_dropout import RNNDropout
from ulmfit_tf.layers.weight_drop_lstm import WeightDropLSTM

__all__ = ["EmbeddingDropout", "RNNDropout", "WeightDropLSTM"]
