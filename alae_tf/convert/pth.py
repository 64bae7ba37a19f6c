"""Read a torch `.pth` checkpoint (zip format) with numpy only: no torch, no code from the file is ever executed.

`torch.save` writes a zip archive: `<archive>/data.pkl` (a pickle of the saved object), one raw little-endian
storage per tensor in `<archive>/data/<key>`, and small records (`version`, `byteorder`, ...). The pickle names
each storage by a persistent id `('storage', torch.<Type>Storage, key, location, numel)` and rebuilds tensors with
`torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`.

`read_pth` unpickles `data.pkl` with a restricted unpickler. The only globals it resolves are:

- `ALLOWED_CALLABLES`: `collections.OrderedDict` and torch's tensor/parameter rebuild functions, mapped to local
  functions that build numpy arrays from the storages (dtype, offset, size and stride respected; a copy).
- `STORAGE_DTYPES`: the `torch.<Type>Storage` names, mapped to numpy dtypes (only used in persistent ids).
- `INERT_MODULES`: modules of the official ALAE code whose pickled objects are plain data. Their globals resolve
  to `Placeholder` classes: constructing one (REDUCE, NEWOBJ) and restoring its state (BUILD) only record the
  arguments on the instance; the real class is never imported. The official checkpoints need `tracker`
  (`auxiliary['tracker']` holds `tracker.RunningMeanTorch` objects, as `torch.load(weights_only=True)` complains).

Any other global (`os.system`, `builtins.eval`, `subprocess.Popen`, a scheduler class, ...) is refused with a
`ConversionError` as soon as the pickle names it, before it could be called: nothing from the file runs.
"""

import collections
import io
import pickle
import posixpath
import zipfile
import zlib

import numpy as np

from alae_tf.convert.official import ConversionError

try:  # ships with TensorFlow; only needed for bfloat16 tensors
    import ml_dtypes
except ImportError:  # pragma: no cover
    ml_dtypes = None

# torch.<name> storage types -> numpy dtype (native element types; little-endian unless `byteorder` says big).
STORAGE_DTYPES = {
    "DoubleStorage": np.dtype(np.float64),
    "FloatStorage": np.dtype(np.float32),
    "HalfStorage": np.dtype(np.float16),
    "LongStorage": np.dtype(np.int64),
    "IntStorage": np.dtype(np.int32),
    "ShortStorage": np.dtype(np.int16),
    "CharStorage": np.dtype(np.int8),
    "ByteStorage": np.dtype(np.uint8),
    "BoolStorage": np.dtype(np.bool_),
    "ComplexFloatStorage": np.dtype(np.complex64),
    "ComplexDoubleStorage": np.dtype(np.complex128),
    "UntypedStorage": np.dtype(np.uint8),
}
if ml_dtypes is not None:
    STORAGE_DTYPES["BFloat16Storage"] = np.dtype(ml_dtypes.bfloat16)

# Modules whose globals become inert `Placeholder` classes (objects that are only data in the official files).
# `tracker`: the official ALAE `tracker.py` (`RunningMeanTorch`, `RunningMean`, `LossTracker`), pickled in
# `checkpoint['auxiliary']['tracker']`. Keep this list small: each entry is a module whose objects we accept
# without knowing their class; nothing of it is ever imported.
INERT_MODULES = frozenset({"tracker"})

LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"  # pickled magic of torch's pre-1.6 format


class Placeholder:
    """An object of a class from `INERT_MODULES`, never imported: its constructor arguments and state, as data.

    Attributes:
        module, name: the pickled class (`tracker`, `RunningMeanTorch`).
        args, kwargs: what the pickle passed to the constructor (REDUCE) or to `__new__` (NEWOBJ).
        state: what the pickle passed to `__setstate__` (BUILD), usually the object's `__dict__`; None if none.
    """

    module = "?"
    name = "?"

    def __new__(cls, *args, **kwargs):
        obj = object.__new__(cls)
        obj.args, obj.kwargs, obj.state = args, kwargs, None
        return obj

    def __init__(self, *args, **kwargs):
        pass  # `__new__` recorded the arguments

    def __setstate__(self, state):
        self.state = state

    def __repr__(self):
        return f"Placeholder({self.module}.{self.name}, args={self.args!r}, state={self.state!r})"


def _placeholder_class(module, name):
    return type(name, (Placeholder,), {"module": module, "name": name, "__qualname__": f"Placeholder[{module}.{name}]"})


class _StorageType:
    """What `torch.<Type>Storage` resolves to: only a dtype for the persistent ids, not callable."""

    def __init__(self, name, dtype):
        self.name, self.dtype = name, dtype

    def __repr__(self):
        return f"torch.{self.name}"


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    """`torch._utils._rebuild_tensor_v2` as a numpy copy of the strided view of `storage` (a 1-D array)."""
    del requires_grad, backward_hooks, metadata
    if not isinstance(storage, np.ndarray) or storage.ndim != 1:
        raise ConversionError(f"a tensor is rebuilt from {type(storage).__name__}, not from a storage")
    size, stride, offset = tuple(int(s) for s in size), tuple(int(s) for s in stride), int(storage_offset)
    if len(size) != len(stride) or any(s < 0 for s in size + stride) or offset < 0:
        raise ConversionError(f"invalid tensor layout: offset {offset}, size {size}, stride {stride}")
    if 0 in size:
        return np.zeros(size, storage.dtype)
    last = offset + sum((n - 1) * st for n, st in zip(size, stride))
    if last >= storage.size:
        raise ConversionError(
            f"a tensor (offset {offset}, size {size}, stride {stride}) reads past its storage "
            f"of {storage.size} elements"
        )
    view = np.lib.stride_tricks.as_strided(
        storage[offset:], shape=size, strides=tuple(st * storage.itemsize for st in stride), writeable=False
    )
    return np.array(view)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, state=None):
    """`torch._utils._rebuild_parameter[_with_state]`: the parameter's tensor (an array)."""
    del requires_grad, backward_hooks, state
    return data


ALLOWED_CALLABLES = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
}


class _Unpickler(pickle.Unpickler):
    def __init__(self, data, archive, prefix, path, byteorder):
        super().__init__(io.BytesIO(data))
        self._archive, self._prefix, self._path, self._byteorder = archive, prefix, path, byteorder
        self._storages = {}

    def find_class(self, module, name):
        if (module, name) in ALLOWED_CALLABLES:
            return ALLOWED_CALLABLES[module, name]
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name, STORAGE_DTYPES[name])
        if module in INERT_MODULES:
            return _placeholder_class(module, name)
        raise ConversionError(
            f"{self._path}: the checkpoint's pickle refers to {module}.{name}, which a torch checkpoint of tensors "
            "does not need and which it could call; refused, nothing was executed (allowed: tensor rebuilds, "
            f"OrderedDict, torch storages, and objects of the modules {sorted(INERT_MODULES)})"
        )

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise ConversionError(f"{self._path}: unsupported persistent id {pid!r} (expected a torch storage)")
        _, storage_type, key, _location, numel = pid
        if not isinstance(storage_type, _StorageType):
            raise ConversionError(f"{self._path}: storage {key!r} has no torch storage type ({storage_type!r})")
        if key not in self._storages:
            self._storages[key] = self._read_storage(str(key), storage_type, int(numel))
        storage = self._storages[key]
        if storage.dtype != storage_type.dtype:  # one storage seen with two types: reinterpret the bytes
            storage = storage.view(storage_type.dtype)
        return storage

    def _read_storage(self, key, storage_type, numel):
        member = f"{self._prefix}data/{key}"
        dtype = storage_type.dtype.newbyteorder(self._byteorder)
        try:
            raw = self._archive.read(member)
        except KeyError:
            raise ConversionError(f"{self._path}: storage {key!r} ({storage_type!r}) is missing ({member})") from None
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
            raise ConversionError(f"{self._path}: storage {key!r} ({member}) is corrupt or truncated: {e}") from e
        if len(raw) != numel * dtype.itemsize:
            raise ConversionError(
                f"{self._path}: storage {key!r} ({member}) has {len(raw)} bytes, but {numel} elements of "
                f"{storage_type!r} need {numel * dtype.itemsize}: the file is truncated or corrupt"
            )
        return np.frombuffer(raw, dtype).astype(dtype.newbyteorder("="))


def _open_zip(path):
    with open(path, "rb") as f:
        head = f.read(len(LEGACY_MAGIC))
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zlib.error, EOFError) as e:
        if head.startswith(b"PK\x03\x04"):
            raise ConversionError(f"{path}: the torch zip checkpoint is truncated or corrupt ({e})") from e
        legacy = " (it looks like torch's legacy pre-1.6 format)" if head.startswith(LEGACY_MAGIC) else ""
        raise ConversionError(
            f"{path}: not a torch zip checkpoint{legacy}; re-save it with a recent torch: "
            "torch.save(torch.load(path, map_location='cpu'), new_path)"
        ) from e


def archive_name(path):
    """The name `torch.save` gave the checkpoint's records: the folder of `<archive>/data.pkl` in the zip.

    It is the file's stem when it was saved (the official trainer's `model_tmp_lod2`), kept through
    renames of the file. Raises like `read_pth` when the file is not a torch zip checkpoint.
    """
    path = str(path)
    with _open_zip(path) as archive:
        pickles = [n for n in archive.namelist() if posixpath.basename(n) == "data.pkl"]
    if len(pickles) != 1:
        raise ConversionError(f"{path}: expected one '<archive>/data.pkl' in the zip, found {pickles or 'none'}")
    return posixpath.dirname(pickles[0])


def read_pth(path):
    """The object saved in a torch zip checkpoint, with tensors as numpy arrays.

    Containers come back as they were pickled (dicts, `OrderedDict`s, lists, ...); tensors and parameters as numpy
    arrays (copies, in their torch dtype and shape); objects of `INERT_MODULES` classes as `Placeholder`s.

    Raises:
        ConversionError: not a torch zip checkpoint, no (or several) `data.pkl`, a truncated or corrupt member or
            storage, or a pickle that refers to anything else (e.g. `os.system`): refused before it could run.
        OSError: the file cannot be opened (e.g. FileNotFoundError).
    """
    path = str(path)
    with _open_zip(path) as archive:
        pickles = [n for n in archive.namelist() if posixpath.basename(n) == "data.pkl"]
        if len(pickles) != 1:
            raise ConversionError(
                f"{path}: expected one '<archive>/data.pkl' in the zip, found {pickles or 'none'}: "
                "not a torch checkpoint"
            )
        prefix = pickles[0][: -len("data.pkl")]
        try:
            data = archive.read(pickles[0])
            names = set(archive.namelist())
            byteorder = (
                archive.read(prefix + "byteorder").decode().strip() if prefix + "byteorder" in names else "little"
            )
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
            raise ConversionError(f"{path}: {pickles[0]} is corrupt or truncated: {e}") from e
        if byteorder not in ("little", "big"):
            raise ConversionError(f"{path}: unknown byteorder {byteorder!r}")
        unpickler = _Unpickler(data, archive, prefix, path, "<" if byteorder == "little" else ">")
        try:
            return unpickler.load()
        except ConversionError as e:
            if str(e).startswith(path):
                raise
            raise ConversionError(f"{path}: {e}") from e
        except Exception as e:  # malformed pickle: UnpicklingError, EOFError, TypeError from a bad REDUCE, ...
            raise ConversionError(f"{path}: cannot unpickle {pickles[0]}: {type(e).__name__}: {e}") from e


def state_dicts_from_checkpoint(obj):
    """`{net name: {parameter name: array}}` from a read checkpoint: its `models` entry (or `obj` itself).

    Raises:
        ConversionError: no dict of state dicts, or a state dict entry that is not a tensor.
    """
    models = obj.get("models", obj) if isinstance(obj, dict) else None
    if not isinstance(models, dict):
        raise ConversionError("expected a dict of state dicts (official checkpoint['models'])")
    out = {}
    for net, state in models.items():
        if not isinstance(state, dict):
            continue
        for name, value in state.items():
            if not isinstance(value, np.ndarray):
                raise ConversionError(f"state dict {net!r}: {name!r} is a {type(value).__name__}, not a tensor")
        out[net] = dict(state)
    return out
