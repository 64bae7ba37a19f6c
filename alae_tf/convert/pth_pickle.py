"""The restricted unpickler of torch checkpoints: which globals a `.pth` pickle may name, and what they become.

Both formats (`pth_zip`, `pth_legacy`) unpickle their object with `RestrictedUnpickler`, which resolves
only `ALLOWED_CALLABLES` (tensor rebuilds, mapped to numpy), the `STORAGE_DTYPES` storage types and
the `INERT_MODULES` classes (inert `Placeholder`s); any other global is refused before it could be
called (or, salvaging, becomes a `Damaged` marker). Storages come from the format's reader, through
`storage_source(key, storage_type, numel)`. See `alae_tf.convert.pth` for the whole story.
"""

import collections
import pickle

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


def placeholder_class(module, name):
    """A `Placeholder` subclass standing for `module.name` (never imported)."""
    return type(name, (Placeholder,), {"module": module, "name": name, "__qualname__": f"Placeholder[{module}.{name}]"})


class StorageType:
    """What `torch.<Type>Storage` resolves to: only a dtype for the persistent ids, not callable."""

    def __init__(self, name, dtype):
        self.name, self.dtype = name, dtype

    def __repr__(self):
        return f"torch.{self.name}"


class Damaged:
    """What `read_pth(..., salvage=True)` leaves where a storage (and so a tensor) could not be read, or where the
    pickle named a global outside the allowed ones (kept inert: never imported, never called).

    Attributes:
        reason: what was wrong, as the strict reader would have said it.
    """

    def __init__(self, reason):
        self.reason = reason

    def __repr__(self):
        return f"Damaged({self.reason!r})"


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
    """`torch._utils._rebuild_tensor_v2`: the strided view of `storage` (a 1-D array) as an array.

    A tensor that is its whole storage, contiguous, is the storage array reshaped (no copy: tensors that share a
    storage share memory, as in torch); any other view is a copy.
    """
    del requires_grad, backward_hooks, metadata
    if isinstance(storage, Damaged):
        return storage
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
    contiguous = tuple(int(np.prod(size[i + 1 :], dtype=np.int64)) for i in range(len(size)))
    if (
        offset == 0
        and last == storage.size - 1
        and all(n == 1 or st == c for n, st, c in zip(size, stride, contiguous))
    ):
        return storage.reshape(size)
    view = np.lib.stride_tricks.as_strided(
        storage[offset:], shape=size, strides=tuple(st * storage.itemsize for st in stride), writeable=False
    )
    return np.array(view)


def _rebuild_tensor(storage, storage_offset, size, stride):
    """`torch._utils._rebuild_tensor`, which files of torch < 0.4 name instead of `_rebuild_tensor_v2`."""
    return _rebuild_tensor_v2(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, state=None):
    """`torch._utils._rebuild_parameter[_with_state]`: the parameter's tensor (an array)."""
    del requires_grad, backward_hooks, state
    return data


ALLOWED_CALLABLES = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
}


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the allowed globals; storages come from `storage_source(key, storage_type, numel)`."""

    def __init__(self, file, path, storage_source, salvage=False):
        super().__init__(file)
        self._path, self._storage_source, self._salvage = path, storage_source, salvage
        self._storages = {}

    def find_class(self, module, name):
        if (module, name) in ALLOWED_CALLABLES:
            return ALLOWED_CALLABLES[module, name]
        if module == "torch" and name in STORAGE_DTYPES:
            return StorageType(name, STORAGE_DTYPES[name])
        if module in INERT_MODULES:
            return placeholder_class(module, name)
        if self._salvage:  # inert: constructing one only makes a `Damaged`; nothing is imported or called
            return refused_class(module, name)
        raise ConversionError(
            f"{self._path}: the checkpoint's pickle refers to {module}.{name}, which a torch checkpoint of tensors "
            "does not need and which it could call; refused, nothing was executed (allowed: tensor rebuilds, "
            f"OrderedDict, torch storages, and objects of the modules {sorted(INERT_MODULES)})"
        )

    def persistent_load(self, pid):
        # zip: ('storage', type, key, location, numel); legacy: the same plus view_metadata (None, or
        # (view key, offset, numel) of a slice of the storage, from torch versions whose storages had views).
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == "storage"):
            raise ConversionError(f"{self._path}: unsupported persistent id {pid!r} (expected a torch storage)")
        storage_type, key, numel = pid[1], str(pid[2]), pid[4]
        view = pid[5] if len(pid) == 6 else None
        if not isinstance(storage_type, StorageType):
            raise ConversionError(f"{self._path}: storage {key!r} has no torch storage type ({storage_type!r})")
        if not isinstance(numel, int) or numel < 0:
            raise ConversionError(f"{self._path}: storage {key!r} has an invalid size {numel!r}")
        if key not in self._storages:
            try:
                self._storages[key] = self._storage_source(key, storage_type, numel)
            except ConversionError as e:
                if not self._salvage:
                    raise
                self._storages[key] = Damaged(str(e).removeprefix(f"{self._path}: "))
        storage = self._storages[key]
        if isinstance(storage, Damaged):
            return storage
        if storage.dtype != storage_type.dtype:  # one storage seen with two types: reinterpret the bytes
            storage = storage.view(storage_type.dtype)
        if view is not None:
            if not (isinstance(view, tuple) and len(view) == 3 and all(isinstance(v, int) for v in view[1:])):
                raise ConversionError(f"{self._path}: storage {key!r} has an invalid view {view!r}")
            _, start, count = view
            if start < 0 or count < 0 or start + count > storage.size:
                raise ConversionError(f"{self._path}: a view of storage {key!r} lies outside it ({view!r})")
            storage = storage[start : start + count]
        return storage

    def load_object(self, what):
        """`load()`, with every failure a `ConversionError` that names the file."""
        try:
            return self.load()
        except ConversionError as e:
            if str(e).startswith(self._path):
                raise
            raise ConversionError(f"{self._path}: {e}") from e
        except Exception as e:  # malformed pickle: UnpicklingError, EOFError, TypeError from a bad REDUCE, ...
            raise ConversionError(f"{self._path}: cannot unpickle {what}: {type(e).__name__}: {e}") from e


class DamagedObject(Damaged):
    """An object of a refused class: constructing it (REDUCE, NEWOBJ) and restoring its state (BUILD) do
    nothing; `reason` is set on the class."""

    def __new__(cls, *args, **kwargs):
        del args, kwargs
        return object.__new__(cls)

    def __init__(self, *args, **kwargs):
        del args, kwargs

    def __setstate__(self, state):
        del state


def refused_class(module, name):
    """A `DamagedObject` subclass standing for the refused `module.name` (salvaging: never imported or called)."""
    reason = f"the pickle refers to {module}.{name} (refused: never imported or called)"
    return type(name, (DamagedObject,), {"reason": reason, "__qualname__": f"Refused[{module}.{name}]"})


def corrupt_storage(path, key, storage_type, numel, got_bytes, dtype, where):
    """The `ConversionError` of a storage whose bytes do not fit its element count and type."""
    return ConversionError(
        f"{path}: storage {key!r} ({where}) has {got_bytes} bytes, but {numel} elements of "
        f"{storage_type!r} need {numel * dtype.itemsize}: the file is truncated or corrupt"
    )


def owned_native(raw, dtype):
    """A writable native-order array of its own from `raw` bytes of `dtype` (one copy)."""
    return np.frombuffer(raw, dtype).astype(dtype.newbyteorder("="))
