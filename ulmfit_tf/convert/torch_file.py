"""Reads PyTorch `.pth` state dicts and pickled vocabularies without torch.

Both of torch's serializations are read with numpy:

- the zip format (torch >= 1.6): `NAME/data.pkl`, a pickle whose tensors
  are `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`
  with storages as persistent ids `("storage", torch.FloatStorage, key,
  location, numel)`, and the raw bytes of each storage at `NAME/data/KEY`;
- the legacy format: five pickles in a row (magic number, protocol version,
  system info, the object, the list of storage keys), then per key an int64
  element count and the raw bytes.

Unpickling runs code only through the globals a pickle names, so the
unpickler resolves nothing but the tensor rebuild function, the
`torch.*Storage` types and `collections.OrderedDict` (each replaced by a
numpy stand-in) and refuses every other global before it is called: a file
that would run code when loaded is refused, and its code never runs. This
is safer than `torch.load(..., weights_only=False)`, which fastai uses.
"""

import collections
import io
import os
import pickle
import struct
import zipfile

import numpy as np

from ulmfit_tf.bounded_reading import check_archive
from ulmfit_tf.errors import UserInputError

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_STORAGE_DTYPES = {
    "DoubleStorage": "f8",
    "FloatStorage": "f4",
    "HalfStorage": "f2",
    "BFloat16Storage": "u2",  # widened to float32 below
    "LongStorage": "i8",
    "IntStorage": "i4",
    "ShortStorage": "i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}


def read_state_dict(path):
    """Reads a `.pth` file saved by `torch.save` into numpy arrays.

    Args:
        path: Path to the file, in torch's zip format (torch >= 1.6) or its
            legacy format.

    Returns:
        What was saved, with every tensor a numpy array: for a state dict,
        a dict of parameter name to array (fastai's `Learner.save` gives
        `{"model": state_dict, "opt": ...}`).

    Raises:
        UserInputError: naming the file when it is not a torch file, is
            truncated, or names a global other than those of tensor data.

    Example:

    ```python
    state_dict = read_state_dict("wt103-fwd/lstm_fwd.pth")
    state_dict["0.encoder.weight"].shape  # (60000, 400)
    ```
    """
    path = os.fspath(path)
    try:
        if zipfile.is_zipfile(path):
            check_archive(path, damaged="save or download it again")
            with zipfile.ZipFile(path) as archive:
                return _read_zip(path, archive)
        with open(path, "rb") as f:
            return _read_legacy(path, f)
    except UserInputError:
        raise
    except (pickle.UnpicklingError, EOFError, zipfile.BadZipFile, KeyError, ValueError, TypeError, IndexError) as error:
        raise UserInputError(
            f"{path!r} is not a readable PyTorch file (a `torch.save` state dict): {error}"
        ) from None


def read_vocabulary(path):
    """Reads a pickled list of strings, such as fastai's `itos_wt103.pkl`.

    The unpickler resolves no global at all, so nothing but plain data can
    come out of the file and no code in it runs.

    Args:
        path: Path to the `.pkl` file.

    Returns:
        The list of strings.

    Raises:
        UserInputError: naming the file when it is not a pickled list of
            strings (or would run code).

    Example:

    ```python
    itos = read_vocabulary("wt103-fwd/itos_wt103.pkl")
    itos[:3]  # ['xxunk', 'xxpad', 'xxbos']
    ```
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            tokens = _RestrictedUnpickler(f, path, allowed={}).load()
    except UserInputError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError) as error:
        raise UserInputError(f"{path!r} is not a readable pickle file: {error}") from None
    if not isinstance(tokens, list) or not all(isinstance(token, str) for token in tokens):
        what = type(tokens).__name__
        if isinstance(tokens, list):
            what += " holding a " + next(type(t).__name__ for t in tokens if not isinstance(t, str))
        raise UserInputError(
            f"{path!r} must hold a pickled list of strings (a vocabulary, fastai's `itos`). Received: a {what}"
        )
    return tokens


class _Storage:
    """A torch storage: its dtype name, and its elements once read."""

    def __init__(self, dtype):
        self.dtype = dtype
        self.array = None


class _StorageType:
    def __init__(self, name):
        self.name = name


class _Tensor:
    """`_rebuild_tensor_v2`'s arguments, turned into an array once the storage is read."""

    def __init__(self, storage, offset, size, stride, *unused):
        if not isinstance(storage, _Storage):
            raise pickle.UnpicklingError("a tensor must be built on a storage")
        self.storage, self.offset, self.size, self.stride = storage, int(offset), tuple(size), tuple(stride)

    def to_numpy(self):
        flat = self.storage.array
        if len(self.size) != len(self.stride) or min(self.size + self.stride + (self.offset,), default=0) < 0:
            raise ValueError(f"a tensor has an invalid layout (size {self.size}, stride {self.stride})")
        if 0 in self.size:
            return np.zeros(self.size, flat.dtype)
        last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride))
        if last >= flat.size:
            raise ValueError(f"a tensor reaches element {last} of a storage of {flat.size}")
        strides = [s * flat.itemsize for s in self.stride]
        return np.lib.stride_tricks.as_strided(flat[self.offset :], self.size, strides).copy()


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the globals in `allowed`; refuses every other one before it runs."""

    def __init__(self, file, path, allowed, storages=None):
        super().__init__(file)
        self.path = path
        self.allowed = allowed
        self.storages = storages

    def find_class(self, module, name):
        if (module, name) in self.allowed:
            return self.allowed[(module, name)]
        if module == "torch" and name in _STORAGE_DTYPES and self.storages is not None:
            return _StorageType(name)
        what, fix = ("a state dict of tensors", "save its state dict again")
        if self.storages is None:
            what, fix = ("a list of strings", "pickle the list of strings again")
        raise UserInputError(
            f"{self.path!r} names the global {module}.{name}, which {what} does not need; ulmfit-tf "
            f"refuses to unpickle it (it could run code). If you trust the file, load it where it was made and {fix}."
        )

    def persistent_load(self, pid):
        if self.storages is None or not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
        storage_type, key = pid[1], str(pid[2])
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError("a storage must name a torch storage type")
        if len(pid) > 5 and pid[5] is not None:
            raise pickle.UnpicklingError("storage views (torch < 1.0) are not supported")
        if key not in self.storages:
            self.storages[key] = _Storage(storage_type.name)
        return self.storages[key]


def _tensor_unpickler(file, path, storages):
    allowed = {("torch._utils", "_rebuild_tensor_v2"): _Tensor, ("collections", "OrderedDict"): collections.OrderedDict}
    return _RestrictedUnpickler(file, path, allowed, storages)


def _read_zip(path, archive):
    pickles = [name for name in archive.namelist() if name.endswith("/data.pkl") and name.count("/") == 1]
    if len(pickles) != 1:
        raise ValueError("the zip archive has no single `NAME/data.pkl`")
    prefix = pickles[0][: -len("data.pkl")]
    byteorder = "little"
    if prefix + "byteorder" in archive.namelist():
        byteorder = archive.read(prefix + "byteorder").decode("ascii").strip()
    size = os.path.getsize(path)

    def read(name):
        # torch stores its records uncompressed: one larger than the file is a zip bomb.
        if archive.getinfo(name).file_size > size:
            raise ValueError(f"{name!r} would expand beyond the size of the file")
        return archive.read(name)

    storages = {}
    loaded = _tensor_unpickler(io.BytesIO(read(pickles[0])), path, storages).load()
    for key, storage in storages.items():
        storage.array = _array(read(f"{prefix}data/{key}"), storage.dtype, byteorder == "big")
    return _materialize(loaded)


def _read_legacy(path, f):
    magic = _RestrictedUnpickler(f, path, {}).load()
    if magic != _LEGACY_MAGIC:
        raise ValueError("it is neither torch's zip format nor its legacy format (wrong magic number)")
    _RestrictedUnpickler(f, path, {}).load()  # protocol version
    system = _RestrictedUnpickler(f, path, {}).load()
    big_endian = isinstance(system, dict) and system.get("little_endian") is False
    storages = {}
    loaded = _tensor_unpickler(f, path, storages).load()
    size = os.fstat(f.fileno()).st_size
    for key in _RestrictedUnpickler(f, path, {}).load():
        storage = storages[str(key)]
        (count,) = struct.unpack("<q", f.read(8))
        length = count * np.dtype(_STORAGE_DTYPES[storage.dtype]).itemsize
        if not 0 <= length <= size - f.tell():
            raise ValueError("the file is truncated")
        storage.array = _array(f.read(length), storage.dtype, big_endian)
    return _materialize(loaded)


def _array(data, dtype, big_endian):
    array = np.frombuffer(data, np.dtype(_STORAGE_DTYPES[dtype]).newbyteorder(">" if big_endian else "<"))
    if dtype == "BFloat16Storage":
        return (array.astype("<u4") << 16).view("<f4")
    return array.astype(array.dtype.newbyteorder("="))


def _materialize(value):
    if isinstance(value, _Tensor):
        return value.to_numpy()
    if isinstance(value, dict):
        return type(value)((key, _materialize(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(_materialize(item) for item in value)
    if isinstance(value, _Storage):
        raise ValueError("it holds a bare storage, not tensors")
    return value
