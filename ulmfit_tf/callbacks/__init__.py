from ulmfit_tf.callbacks.epoch_checkpoint import EpochCheckpoint
from ulmfit_tf.callbacks.gradual_unfreezing import GradualUnfreezing
from ulmfit_tf.callbacks.gradual_unfreezing import freeze_to
from ulmfit_tf.callbacks.lr_finder import LRFinder
from ulmfit_tf.callbacks.lr_finder import LRFindResult
from ulmfit_tf.callbacks.lr_finder import lr_find
from ulmfit_tf.callbacks.one_run import OneRun
from ulmfit_tf.callbacks.reset_state_each_epoch import ResetStateEachEpoch

__all__ = [
    "EpochCheckpoint",
    "GradualUnfreezing",
    "LRFindResult",
    "LRFinder",
    "OneRun",
    "ResetStateEachEpoch",
    "freeze_to",
    "lr_find",
]
