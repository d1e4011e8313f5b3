from ulmfit_tf.convert.fastai import from_fastai
from ulmfit_tf.convert.torch_file import read_state_dict
from ulmfit_tf.convert.torch_file import read_vocabulary

__all__ = ["from_fastai", "read_state_dict", "read_vocabulary"]
