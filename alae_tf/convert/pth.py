"""Read a torch `.pth` checkpoint with numpy only: no torch, no code from the file is ever executed.

Both formats `torch.save` has written are read by one `read_pth`:

- **zip** (torch >= 1.6, July 2020): a zip archive with `<archive>/data.pkl` (a pickle of the saved object), one
  raw storage per tensor in `<archive>/data/<key>`, and small records (`version`, `byteorder`, ...). The pickle
  names each storage by a persistent id `('storage', torch.<Type>Storage, key, location, numel)`.
- **legacy** (torch < 1.6, and `_use_new_zipfile_serialization=False`): one stream of pickles, the magic number
  `0x1950a86a20f9469cfc6c`, the protocol version 1001, the writer's `sys_info` (byte order), the saved object
  (persistent ids `('storage', torch.<Type>Storage, key, location, numel, view_metadata)`), the sorted list of
  storage keys, then each storage in that order as an 8-byte element count and its raw bytes. The authors'
  published ALAE models (April 2020) are in this format. It has no checksum: a flipped byte inside a tensor's
  data cannot be seen by any reader (the converter refuses the non-finite values such a flip often makes); flips
  in the pickles, keys or counts are refused here.

In both, tensors are rebuilt with `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`.

`read_pth` unpickles the object with a restricted unpickler. The only globals it resolves are:

- `ALLOWED_CALLABLES`: `collections.OrderedDict` and torch's tensor/parameter rebuild functions, mapped to local
  functions that build numpy arrays from the storages (dtype, offset, size and stride respected).
- `STORAGE_DTYPES`: the `torch.<Type>Storage` names, mapped to numpy dtypes (only used in persistent ids).
- `INERT_MODULES`: modules of the official ALAE code whose pickled objects are plain data. Their globals resolve
  to `Placeholder` classes: constructing one (REDUCE, NEWOBJ) and restoring its state (BUILD) only record the
  arguments on the instance; the real class is never imported. The official checkpoints need `tracker`
  (`auxiliary['tracker']` holds `tracker.RunningMeanTorch` objects, as `torch.load(weights_only=True)` complains).

Any other global (`os.system`, `builtins.eval`, `subprocess.Popen`, a scheduler class, ...) is refused with a
`ConversionError` as soon as the pickle names it, before it could be called: nothing from the file runs.

Memory: each storage is read once, into an array of its own; a tensor that is its whole storage (every tensor
of a state dict) is that array, reshaped, not a copy, so a checkpoint costs about its own size in memory, in
both formats. Other views (a slice, a transpose) are copies.
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


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the allowed globals; storages come from `storage_source(key, storage_type, numel)`."""

    def __init__(self, file, path, storage_source, salvage=False):
        super().__init__(file)
        self._path, self._storage_source, self._salvage = path, storage_source, salvage
        self._storages = {}

    def find_class(self, module, name):
        if (module, name) in ALLOWED_CALLABLES:
            return ALLOWED_CALLABLES[module, name]
        if module == "torch" and name in STORAGE_DTYPES:
            return _StorageType(name, STORAGE_DTYPES[name])
        if module in INERT_MODULES:
            return _placeholder_class(module, name)
        if self._salvage:  # inert: constructing one only makes a `Damaged`; nothing is imported or called
            return _refused_class(module, name)
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
        if not isinstance(storage_type, _StorageType):
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


class _DamagedObject(Damaged):
    """An object of a refused class: constructing it (REDUCE, NEWOBJ) and restoring its state (BUILD) do
    nothing; `reason` is set on the class."""

    def __new__(cls, *args, **kwargs):
        del args, kwargs
        return object.__new__(cls)

    def __init__(self, *args, **kwargs):
        del args, kwargs

    def __setstate__(self, state):
        del state


def _refused_class(module, name):
    reason = f"the pickle refers to {module}.{name} (refused: never imported or called)"
    return type(name, (_DamagedObject,), {"reason": reason, "__qualname__": f"Refused[{module}.{name}]"})


def _corrupt_storage(path, key, storage_type, numel, got_bytes, dtype, where):
    return ConversionError(
        f"{path}: storage {key!r} ({where}) has {got_bytes} bytes, but {numel} elements of "
        f"{storage_type!r} need {numel * dtype.itemsize}: the file is truncated or corrupt"
    )


def _owned_native(raw, dtype):
    """A writable native-order array of its own from `raw` bytes of `dtype` (one copy)."""
    return np.frombuffer(raw, dtype).astype(dtype.newbyteorder("="))


# --- zip format ---------------------------------------------------------------------------------------------------


def _zip_storage_source(archive, prefix, path, byteorder):
    def read(key, storage_type, numel):
        member = f"{prefix}data/{key}"
        dtype = storage_type.dtype.newbyteorder(byteorder)
        try:
            raw = archive.read(member)
        except KeyError:
            raise ConversionError(f"{path}: storage {key!r} ({storage_type!r}) is missing ({member})") from None
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
            raise ConversionError(f"{path}: storage {key!r} ({member}) is corrupt or truncated: {e}") from e
        if len(raw) != numel * dtype.itemsize:
            raise _corrupt_storage(path, key, storage_type, numel, len(raw), dtype, member)
        return _owned_native(raw, dtype)

    return read


def _open_zip(path):
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zlib.error, EOFError) as e:
        raise ConversionError(f"{path}: the torch zip checkpoint is truncated or corrupt ({e})") from e


def _zip_data_pkl(path, archive):
    pickles = [n for n in archive.namelist() if posixpath.basename(n) == "data.pkl"]
    if len(pickles) != 1:
        raise ConversionError(
            f"{path}: expected one '<archive>/data.pkl' in the zip, found {pickles or 'none'}: not a torch checkpoint"
        )
    return pickles[0]


def _read_zip(path, salvage):
    with _open_zip(path) as archive:
        data_pkl = _zip_data_pkl(path, archive)
        prefix = data_pkl[: -len("data.pkl")]
        try:
            data = archive.read(data_pkl)
            names = set(archive.namelist())
            byteorder = (
                archive.read(prefix + "byteorder").decode().strip() if prefix + "byteorder" in names else "little"
            )
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, UnicodeDecodeError) as e:
            raise ConversionError(f"{path}: {data_pkl} is corrupt or truncated: {e}") from e
        if byteorder not in ("little", "big"):
            raise ConversionError(f"{path}: unknown byteorder {byteorder!r}")
        source = _zip_storage_source(archive, prefix, path, "<" if byteorder == "little" else ">")
        return _RestrictedUnpickler(io.BytesIO(data), path, source, salvage).load_object(data_pkl)


# --- legacy format ------------------------------------------------------------------------------------------------

LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION = 1001


class _DataOnlyUnpickler(_RestrictedUnpickler):
    """For the legacy format's small header pickles (magic, version, sys_info, storage keys): plain data only."""

    def __init__(self, file, path):
        super().__init__(file, path, storage_source=None)

    def find_class(self, module, name):
        raise ConversionError(f"{self._path}: a header pickle of the legacy format refers to {module}.{name}")

    def persistent_load(self, pid):
        raise ConversionError(f"{self._path}: a header pickle of the legacy format refers to a storage {pid!r}")


class _ScanUnpickler(_RestrictedUnpickler):
    """First pass over the legacy object pickle: which storages it uses, with their types; builds no tensor.

    It resolves globals exactly as the real pass does (a refused global is refused here already), but the tensor
    rebuilds return None and storages are only recorded, so nothing is read and nothing is allocated.
    """

    def __init__(self, file, path, salvage):
        self.seen = {}
        super().__init__(file, path, storage_source=self._record, salvage=salvage)

    def _record(self, key, storage_type, numel):
        self.seen[key] = (storage_type, numel)
        return np.empty(0, storage_type.dtype)

    def find_class(self, module, name):
        resolved = super().find_class(module, name)
        if (module, name) in ALLOWED_CALLABLES and resolved is not collections.OrderedDict:
            return _ignore
        return resolved

    def persistent_load(self, pid):
        if isinstance(pid, tuple) and len(pid) == 6 and pid[5] is not None:
            pid = pid[:5] + (None,)  # views are checked in the real pass, against the storage's real size
        return super().persistent_load(pid)


def _ignore(*args, **kwargs):
    del args, kwargs


def _legacy_header(path, f):
    """Reads the magic number, protocol version and sys_info pickles; returns the storages' byte order."""
    head = _DataOnlyUnpickler(f, path)
    magic = head.load_object("the magic number")
    if magic != LEGACY_MAGIC_NUMBER:
        raise ConversionError(f"{path}: the legacy torch magic number is wrong ({magic!r}): the file is corrupt")
    version = _DataOnlyUnpickler(f, path).load_object("the protocol version")
    if version != LEGACY_PROTOCOL_VERSION:
        raise ConversionError(
            f"{path}: legacy torch format protocol {version!r} (expected {LEGACY_PROTOCOL_VERSION}): "
            "corrupt, or from a torch version this reader does not know"
        )
    sys_info = _DataOnlyUnpickler(f, path).load_object("the sys_info record")
    if not isinstance(sys_info, dict) or not isinstance(sys_info.get("little_endian"), bool):
        raise ConversionError(f"{path}: the legacy sys_info record is corrupt ({sys_info!r})")
    return "<" if sys_info["little_endian"] else ">"


def _legacy_storage_offsets(path, f, keys, seen, byteorder, file_size, salvage):
    """`{key: file offset of its data, or the ConversionError that says why it cannot be read}`, from the
    element counts that precede each storage, checked against the types and sizes the object pickle gave
    (`seen`) and against the file's size. Strict (`salvage` False): the first problem is raised, before any
    tensor is read. Salvaging: the storages after a wrong count or past the end are marked, the rest kept."""
    offsets, problem = {}, None
    position = f.tell()
    for key in keys:
        if key not in seen:
            problem = ConversionError(
                f"{path}: the storage list names {key!r}, which no tensor uses: the file is corrupt"
            )
            break
        storage_type, numel = seen[key]
        f.seek(position)
        count = f.read(8)
        if len(count) != 8:
            problem = ConversionError(
                f"{path}: the file ends at byte {file_size} where storage {key!r} should start: it is truncated"
            )
            break
        count = int(np.frombuffer(count, byteorder + "i8")[0])
        if count != numel:
            problem = ConversionError(
                f"{path}: storage {key!r} is stored with {count} elements but used with {numel}: the file is corrupt"
            )
            break
        end = position + 8 + numel * storage_type.dtype.itemsize
        if end > file_size:
            problem = ConversionError(
                f"{path}: storage {key!r} needs bytes up to {end}, but the file ends at {file_size}: it is truncated"
            )
            break
        offsets[key], position = position + 8, end
    missing = sorted(set(seen) - set(offsets))
    if problem is None and missing:
        problem = ConversionError(f"{path}: the storage list lacks {missing[:5]} that tensors use: the file is corrupt")
    if problem is None and position != file_size:
        problem = ConversionError(
            f"{path}: {file_size - position} bytes follow the last storage: the file is corrupt or not one checkpoint"
        )
    if problem is not None and not salvage:
        raise problem
    for key in missing:  # salvaging: unreadable from the first problem on
        offsets[key] = problem
    return offsets


def _legacy_storage_source(path, f, offsets, byteorder):
    def read(key, storage_type, numel):
        if isinstance(offsets[key], ConversionError):
            raise offsets[key]
        dtype = storage_type.dtype.newbyteorder(byteorder)
        f.seek(offsets[key])
        storage = np.empty(numel, dtype)
        got = f.readinto(memoryview(storage).cast("B")) if numel else 0
        if got != storage.nbytes:
            raise _corrupt_storage(path, key, storage_type, numel, got, dtype, f"at byte {offsets[key]}")
        return storage if dtype.isnative else storage.byteswap().view(dtype.newbyteorder("="))

    return read


def _read_legacy(path, salvage):
    with open(path, "rb") as f:
        file_size = f.seek(0, 2)
        f.seek(0)
        byteorder = _legacy_header(path, f)
        object_start = f.tell()
        scan = _ScanUnpickler(f, path, salvage)
        scan.load_object("the checkpoint's object")
        object_end = f.tell()
        keys = _DataOnlyUnpickler(f, path).load_object("the storage key list")
        if not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)):
            raise ConversionError(f"{path}: the legacy storage key list is corrupt ({type(keys).__name__})")
        offsets = _legacy_storage_offsets(path, f, keys, scan.seen, byteorder, file_size, salvage)
        # The object pickle is small (the tensors' data follow it): unpickle it from memory, since reading a
        # storage moves the file's position.
        f.seek(object_start)
        pickled = io.BytesIO(f.read(object_end - object_start))
        source = _legacy_storage_source(path, f, offsets, byteorder)
        return _RestrictedUnpickler(pickled, path, source, salvage).load_object("the checkpoint's object")


# --- both ---------------------------------------------------------------------------------------------------------

ZIP_MAGIC = b"PK\x03\x04"


def _format(path):
    """'zip' or 'legacy', from the file's first bytes; anything else is refused."""
    with open(path, "rb") as f:
        head = f.read(len(LEGACY_MAGIC))
    if head.startswith(ZIP_MAGIC):
        return "zip"
    if head == LEGACY_MAGIC:
        return "legacy"
    what = "empty" if not head else "neither torch's zip format nor its legacy (pre-1.6) format"
    raise ConversionError(
        f"{path}: not a torch checkpoint ({what}); give the .pth file that torch.save wrote (the official "
        "training_artifacts/*.pth, or a model_tmp_lodN.pth / model_final.pth of an official run)"
    )


def archive_name(path):
    """The name `torch.save` gave the checkpoint's records (zip format only), or None for a legacy file.

    In the zip format it is the folder of `<archive>/data.pkl`: the file's stem when it was saved (the official
    trainer's `model_tmp_lod2`), kept through renames of the file. The legacy format records no name.
    Raises like `read_pth` when the file is not a torch checkpoint.
    """
    path = str(path)
    if _format(path) == "legacy":
        return None
    with _open_zip(path) as archive:
        return posixpath.dirname(_zip_data_pkl(path, archive))


def read_pth(path, salvage=False):
    """The object saved in a torch checkpoint (zip or legacy format), with tensors as numpy arrays.

    Containers come back as they were pickled (dicts, `OrderedDict`s, lists, ...); tensors and parameters as numpy
    arrays (in their torch dtype and shape, native byte order, writable; see the module doc on memory); objects
    of `INERT_MODULES` classes as `Placeholder`s.

    Raises:
        ConversionError: not a torch checkpoint, a truncated or corrupt file (the message names the file and
            what is wrong), or a pickle that refers to anything else (e.g. `os.system`): refused before it
            could run.
        OSError: the file cannot be opened (e.g. FileNotFoundError).

    With `salvage`, a storage that cannot be read (a truncated legacy file, a zip member with a bad CRC) and an
    object of a refused class become `Damaged` markers instead of errors (a refused class is still never
    imported or called), so the parts that are intact can be used: `state_dicts_from_checkpoint` still refuses
    a damaged tensor in the nets, and `damaged_parts` lists the rest. A file whose pickles cannot be parsed at
    all is refused either way.
    """
    path = str(path)
    return (_read_legacy if _format(path) == "legacy" else _read_zip)(path, salvage)


def damaged_parts(obj, where="checkpoint"):
    """`[(path, reason)]` of every `Damaged` marker in a tree `read_pth(..., salvage=True)` returned."""
    if isinstance(obj, Damaged):
        return [(where, obj.reason)]
    if isinstance(obj, Placeholder):
        return damaged_parts(obj.args, f"{where}.args") + damaged_parts(obj.state, f"{where}.state")
    if isinstance(obj, dict):
        return [d for key, value in obj.items() for d in damaged_parts(value, f"{where}[{key!r}]")]
    if isinstance(obj, (list, tuple)):
        return [d for i, value in enumerate(obj) for d in damaged_parts(value, f"{where}[{i}]")]
    return []


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
        if isinstance(state, Damaged):
            raise ConversionError(f"state dict {net!r} is damaged: {state.reason}")
        if not isinstance(state, dict):
            continue
        for name, value in state.items():
            if isinstance(value, Damaged):
                raise ConversionError(f"state dict {net!r}: {name!r} is damaged: {value.reason}")
            if not isinstance(value, np.ndarray):
                raise ConversionError(f"state dict {net!r}: {name!r} is a {type(value).__name__}, not a tensor")
        out[net] = dict(state)
    return out
