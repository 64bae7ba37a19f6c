"""The legacy format of torch checkpoints (torch < 1.6): one stream of pickles, then the storages' bytes.

The magic number, the protocol version, `sys_info` (byte order), the saved object, the sorted list of
storage keys, then each storage in that order as an 8-byte element count and its raw bytes. The
object pickle is read twice: a scan that only records which storages it uses (`_ScanUnpickler`), so
the counts and sizes are checked against the file before any tensor is read, then the real pass.
"""

import collections
import io

import numpy as np

from alae_tf.convert.official import ConversionError
from alae_tf.convert.pth_pickle import ALLOWED_CALLABLES, RestrictedUnpickler, corrupt_storage

LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION = 1001


class _DataOnlyUnpickler(RestrictedUnpickler):
    """For the legacy format's small header pickles (magic, version, sys_info, storage keys): plain data only."""

    def __init__(self, file, path):
        super().__init__(file, path, storage_source=None)

    def find_class(self, module, name):
        raise ConversionError(f"{self._path}: a header pickle of the legacy format refers to {module}.{name}")

    def persistent_load(self, pid):
        raise ConversionError(f"{self._path}: a header pickle of the legacy format refers to a storage {pid!r}")


class _ScanUnpickler(RestrictedUnpickler):
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
            raise corrupt_storage(path, key, storage_type, numel, got, dtype, f"at byte {offsets[key]}")
        return storage if dtype.isnative else storage.byteswap().view(dtype.newbyteorder("="))

    return read


def read_legacy(path, salvage):
    """The object of a legacy-format checkpoint (torch < 1.6), as `read_pth` returns it."""
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
        return RestrictedUnpickler(pickled, path, source, salvage).load_object("the checkpoint's object")
