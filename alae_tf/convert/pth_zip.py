"""The zip format of torch checkpoints (torch >= 1.6): `<archive>/data.pkl` and one member per storage."""

import io
import posixpath
import zipfile
import zlib

from alae_tf.convert.official import ConversionError
from alae_tf.convert.pth_pickle import RestrictedUnpickler, corrupt_storage, owned_native


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
            raise corrupt_storage(path, key, storage_type, numel, len(raw), dtype, member)
        return owned_native(raw, dtype)

    return read


def open_zip(path):
    """The checkpoint as a `zipfile.ZipFile`; a `ConversionError` if it is not a readable zip."""
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zlib.error, EOFError) as e:
        raise ConversionError(f"{path}: the torch zip checkpoint is truncated or corrupt ({e})") from e


def zip_data_pkl(path, archive):
    """The name of the zip's one `<archive>/data.pkl`; a `ConversionError` unless there is exactly one."""
    pickles = [n for n in archive.namelist() if posixpath.basename(n) == "data.pkl"]
    if len(pickles) != 1:
        raise ConversionError(
            f"{path}: expected one '<archive>/data.pkl' in the zip, found {pickles or 'none'}: not a torch checkpoint"
        )
    return pickles[0]


def read_zip(path, salvage):
    """The object of a zip-format checkpoint (torch >= 1.6), as `read_pth` returns it."""
    with open_zip(path) as archive:
        data_pkl = zip_data_pkl(path, archive)
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
        return RestrictedUnpickler(io.BytesIO(data), path, source, salvage).load_object(data_pkl)
