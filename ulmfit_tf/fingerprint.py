"""Fingerprints of training runs: what made a checkpoint or a model folder.

A fingerprint is a flat dict of JSON values (settings, the seed, the model's
config) and digests (`"sha256:..."`) of the data and the tokenizer. A run
resumes from a checkpoint, and the pipeline reuses a stage folder, only
when the fingerprints match; otherwise `fingerprint_changes` names what
changed, for the one-line refusal.
"""

import hashlib
import json

import numpy as np


def digest(value):
    """A `"sha256:..."` digest of texts, labels, arrays, bytes or JSON values.

    Lists are hashed item by item with their lengths, so `["ab", "c"]` and
    `["a", "bc"]` differ.

    Example:

    ```python
    digest(["A fine film.", "Dull."]) == digest(["A fine film.", "Dull."])  # True
    ```
    """
    hasher = hashlib.sha256()
    _update(hasher, value)
    return "sha256:" + hasher.hexdigest()[:32]


def _update(hasher, value):
    if isinstance(value, (list, tuple)):
        hasher.update(f"[{len(value)}".encode())
        for item in value:
            _update(hasher, item)
        hasher.update(b"]")
    elif isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        if array.dtype == object:
            _update(hasher, array.tolist())
            return
        hasher.update(f"a{array.dtype.str}{array.shape}".encode())
        hasher.update(array.tobytes())
    elif isinstance(value, (bytes, bytearray)):
        hasher.update(b"b%d:" % len(value))
        hasher.update(value)
    elif isinstance(value, str):
        data = value.encode("utf-8", "surrogatepass")
        hasher.update(b"s%d:" % len(data))
        hasher.update(data)
    else:
        data = json.dumps(value, sort_keys=True, default=str).encode()
        hasher.update(b"j%d:" % len(data))
        hasher.update(data)


def fingerprint_changes(recorded, current):
    """What differs between two fingerprints, as a short phrase ("" when they match).

    A folder written without a fingerprint matches only a run that gives
    none.

    Example:

    ```python
    fingerprint_changes({"seed": 1, "texts": "sha256:aa"}, {"seed": 2, "texts": "sha256:bb"})
    # "seed 1 -> 2; texts changed"
    ```
    """
    if recorded == current:
        return ""
    if recorded is None or current is None:
        return "one of them records no fingerprint"
    changed = []
    for key in sorted(set(recorded) | set(current)):
        old, new = recorded.get(key), current.get(key)
        if old == new:
            continue
        if any(isinstance(v, dict) or (isinstance(v, str) and v.startswith("sha256:")) for v in (old, new)):
            changed.append(f"{key} changed")
        else:
            changed.append(f"{key} {old!r} -> {new!r}")
    return "; ".join(changed)
