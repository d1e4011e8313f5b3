"""The guard on the keyword arguments a model's constructor passes on to Keras.

KerasHub's `from_preset(preset, **kwargs)` hands every keyword argument to
the constructor (or merges it into the saved config), and a functional
`keras.Model` ignores the ones it does not know: `from_preset(...,
statefull=True)` would load silently without doing what was asked. The
family's constructors pass on only the base arguments Keras and KerasHub
give them and refuse anything else.
"""

import inspect

from ulmfit_tf.errors import UserInputError

# What Keras (`name`, `trainable`), KerasHub's loader (`dtype`) and a
# KerasHub task (`compile`) pass to a model's constructor.
BASE_ARGUMENTS = ("name", "trainable", "dtype")


def check_keyword_arguments(cls, kwargs, allowed=BASE_ARGUMENTS):
    """Refuses keyword arguments that `cls` would hand to Keras unread.

    Args:
        cls: The class whose constructor received `kwargs`.
        kwargs: Dict, the constructor's `**kwargs`.
        allowed: The base arguments that may pass.

    Raises:
        UserInputError: naming the first unknown argument and what `cls`
            takes.

    Example:

    >>> check_keyword_arguments(AWDLSTMBackbone, {"statefull": True})
    Traceback (most recent call last):
    UserInputError: Argument `statefull` is not an argument of AWDLSTMBackbone ...
    """
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        names = [
            name
            for name, parameter in inspect.signature(cls.__init__).parameters.items()
            if name != "self" and parameter.kind is not parameter.VAR_KEYWORD
        ]
        key = unknown[0]
        raise UserInputError(
            f"Argument `{key}` is not an argument of {cls.__name__}, which takes "
            f"{', '.join(names + [name for name in allowed if name not in names])}. Received: {key}={kwargs[key]!r}"
        )
