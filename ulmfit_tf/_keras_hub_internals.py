"""The private parts of KerasHub that ulmfit-tf uses, in one place.

KerasHub 0.32 has no public call to register a family's bundled presets:
its own families call `register_presets` from `keras_hub.src`.
`tests/compat_test.py` checks that each is still there with the signature
used, so that an upgrade names what changed.
"""

from keras_hub.src.utils.preset_utils import register_presets

__all__ = ["register_presets"]
