"""Writes files in torch's two `.pth` layouts without torch, for the reader's tests.

The pickles name `torch._utils._rebuild_tensor_v2` and `torch.*Storage`
exactly as `torch.save` does; stand-in modules under those names exist only
while a file is written. `torch_save(obj, path)` takes numpy arrays where
torch would take tensors.
"""

import collections
import io
import pickle
import struct
import sys
import types
import zipfile

import numpy as np

_STORAGES = {"float32": "FloatStorage", "float64": "DoubleStorage", "int64": "LongStorage", "bool": "BoolStorage"}
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_ABSENT = object()


class StridedTensor:
    def __init__(self, key, array, offset, size, stride):
        self.key, self.array, self.offset, self.size, self.stride = key, array, offset, size, stride

    def __reduce__(self):
        storage = (_StorageRef(self.key, self.array),)
        return sys.modules["torch._utils"]._rebuild_tensor_v2, storage + (
            self.offset, self.size, self.stride, False, collections.OrderedDict()
        )


class _StorageRef:
    def __init__(self, key, array):
        self.key, self.array = key, array


class _Pickler(pickle.Pickler):
    def __init__(self, file, legacy):
        super().__init__(file, protocol=2)
        self.legacy = legacy
        self.storages = {}

    def persistent_id(self, obj):
        if not isinstance(obj, _StorageRef):
            return None
        self.storages[obj.key] = obj.array
        storage_type = getattr(sys.modules["torch"], _STORAGES[obj.array.dtype.name])
        pid = ("storage", storage_type, obj.key, "cpu", obj.array.size)
        return pid + (None,) if self.legacy else pid


def tensors(obj):
    """`obj` with each numpy array replaced by a tensor over its own storage."""
    counter = iter(range(1 << 30))

    def convert(value):
        if isinstance(value, np.ndarray):
            flat = np.ascontiguousarray(value).ravel()
            stride = tuple(int(np.prod(value.shape[i + 1 :])) for i in range(value.ndim))
            return StridedTensor(str(next(counter)), flat, 0, value.shape, stride)
        if isinstance(value, dict):
            return type(value)((k, convert(v)) for k, v in value.items())
        if isinstance(value, (list, tuple)):
            return type(value)(convert(v) for v in value)
        return value

    return convert(obj)


def torch_save(obj, path, legacy=False, name="archive"):
    """Writes `obj` (numpy arrays or `StridedTensor`s inside) as `torch.save` would."""
    obj = tensors(obj)
    torch = types.ModuleType("torch")
    for storage in _STORAGES.values():
        setattr(torch, storage, type(storage, (), {"__module__": "torch"}))
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):
        raise AssertionError("only named in the pickle")

    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    torch._utils = utils
    saved = {module: sys.modules.get(module, _ABSENT) for module in ("torch", "torch._utils")}
    sys.modules.update({"torch": torch, "torch._utils": utils})
    try:
        data = io.BytesIO()
        pickler = _Pickler(data, legacy)
        pickler.dump(obj)
    finally:
        for module, value in saved.items():
            if value is _ABSENT:
                sys.modules.pop(module, None)
            else:
                sys.modules[module] = value
    storages = pickler.storages
    if legacy:
        with open(path, "wb") as f:
            for header in (LEGACY_MAGIC, 1001, {"protocol_version": 1001, "little_endian": True}):
                pickle.dump(header, f, protocol=2)
            f.write(data.getvalue())
            keys = sorted(storages)
            pickle.dump(keys, f, protocol=2)
            for key in keys:
                f.write(struct.pack("<q", storages[key].size))
                f.write(storages[key].astype(storages[key].dtype.newbyteorder("<")).tobytes())
        return
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{name}/data.pkl", data.getvalue())
        archive.writestr(f"{name}/byteorder", "little")
        for key, array in storages.items():
            archive.writestr(f"{name}/data/{key}", array.tobytes())
        archive.writestr(f"{name}/version", "3\n")


def zip_with_pickle(path, pickled, name="archive"):
    """A zip `.pth` whose `data.pkl` holds the given pickle bytes."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{name}/data.pkl", pickled)
        archive.writestr(f"{name}/version", "3\n")
