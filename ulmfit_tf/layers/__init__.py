from ulmfit_tf.layers.activation_regularization import ActivationRegularization
from ulmfit_tf.layers.concat_pooling import ConcatPooling
from ulmfit_tf.layers.embedding_dropout import EmbeddingDropout
from ulmfit_tf.layers.last_chunks_mask import LastChunksMask
from ulmfit_tf.layers.pooling_classifier_head import PoolingClassifierHead
from ulmfit_tf.layers.rnn_dropout import RNNDropout
from ulmfit_tf.layers.sigmoid_range import SigmoidRange
from ulmfit_tf.layers.weight_drop_lstm import WeightDropLSTM

__all__ = [
    "ActivationRegularization",
    "ConcatPooling",
    "EmbeddingDropout",
    "LastChunksMask",
    "PoolingClassifierHead",
    "RNNDropout",
    "SigmoidRange",
    "WeightDropLSTM",
]
