"""Write torch `.pth` files without torch, for the reader's tests: both of torch.save's formats, byte for byte.

`pickle_ops(obj)` assembles protocol-2 pickle opcodes for a tree of dicts, `OrderedDict`s, lists, tuples, plain
values and numpy arrays; each array becomes a tensor (`torch._utils._rebuild_tensor_v2`) over a storage of its
own, named by a persistent id as torch names it. `write_zip` and `write_legacy` lay the pickle and the storages
out as torch's two formats do (see `alae_tf.convert.pth`). The pieces (`global_op`, `value_ops`, `tensor_ops`,
`dict_ops`) also build hand-made pickles: views, shared storages, globals that must be refused.
"""

import collections
import pickle
import zipfile

import numpy as np

LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION = 1001
STORAGE_TYPES = {
    np.dtype(np.float32): "FloatStorage",
    np.dtype(np.float64): "DoubleStorage",
    np.dtype(np.float16): "HalfStorage",
    np.dtype(np.int64): "LongStorage",
    np.dtype(np.int32): "IntStorage",
    np.dtype(np.uint8): "ByteStorage",
    np.dtype(np.bool_): "BoolStorage",
}


def global_op(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def value_ops(obj):
    """Opcodes pushing a plain value (protocol 2 body, without PROTO and STOP)."""
    return pickle.dumps(obj, protocol=2)[2:-1]


def storage_pid_ops(key, storage_type, numel, legacy=False, view=None):
    fields = value_ops("storage") + global_op("torch", storage_type) + value_ops(key) + value_ops("cpu")
    fields += value_ops(numel) + (value_ops(view) if legacy else b"")
    return b"(" + fields + b"tQ"


def tensor_ops(key, storage_type, numel, offset, size, stride, legacy=False, view=None):
    hooks = global_op("collections", "OrderedDict") + b")R"
    args = storage_pid_ops(key, storage_type, numel, legacy, view)
    args += value_ops(offset) + value_ops(tuple(size)) + value_ops(tuple(stride)) + value_ops(False) + hooks
    return global_op("torch._utils", "_rebuild_tensor_v2") + b"(" + args + b"tR"


def dict_ops(items):
    """Opcodes for a dict of already-assembled values: {key: opcodes}."""
    return b"}(" + b"".join(value_ops(k) + v for k, v in items.items()) + b"u"


def as_pickle(body):
    return b"\x80\x02" + body + b"."


def pickle_ops(obj, storages, legacy=False):
    """Opcodes for `obj`; arrays get storages appended to `storages` ({key: array}) under keys "0", "1", ..."""
    if isinstance(obj, np.ndarray):
        key = str(len(storages))
        array = np.ascontiguousarray(obj)
        storages[key] = array
        stride = tuple(s // array.itemsize for s in array.strides) if array.size else (1,) * array.ndim
        return tensor_ops(key, STORAGE_TYPES[array.dtype], array.size, 0, array.shape, stride, legacy)
    if isinstance(obj, collections.OrderedDict):
        items = b"".join(value_ops(k) + pickle_ops(v, storages, legacy) for k, v in obj.items())
        return global_op("collections", "OrderedDict") + b")R(" + items + b"u"
    if isinstance(obj, dict):
        return dict_ops({k: pickle_ops(v, storages, legacy) for k, v in obj.items()})
    if isinstance(obj, list):
        return b"](" + b"".join(pickle_ops(v, storages, legacy) for v in obj) + b"e"
    if isinstance(obj, tuple):
        return b"(" + b"".join(pickle_ops(v, storages, legacy) for v in obj) + b"t"
    return value_ops(obj)


def write_zip(path, data_pkl, storages=(), byteorder="little", archive="archive"):
    """A zip-format file from a pickle and {key: raw bytes}."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{archive}/data.pkl", data_pkl)
        z.writestr(f"{archive}/byteorder", byteorder)
        for key, raw in dict(storages).items():
            z.writestr(f"{archive}/data/{key}", raw)
        z.writestr(f"{archive}/version", "3\n")
    return path


def legacy_bytes(object_pickle, storages, little_endian=True, keys=None):
    """The legacy format: magic, protocol, sys_info, the object pickle, the sorted keys, then each storage as an
    8-byte element count and its bytes. `storages`: {key: array}; `keys` overrides the key list."""
    order = "<" if little_endian else ">"
    sys_info = {"protocol_version": LEGACY_PROTOCOL_VERSION, "little_endian": little_endian}
    sys_info["type_sizes"] = {"short": 2, "int": 4, "long": 4}
    out = [pickle.dumps(LEGACY_MAGIC_NUMBER, 2), pickle.dumps(LEGACY_PROTOCOL_VERSION, 2), pickle.dumps(sys_info, 2)]
    keys = sorted(storages) if keys is None else keys
    out += [object_pickle, pickle.dumps(keys, 2)]
    for key in sorted(storages):
        array = np.ascontiguousarray(storages[key])
        out += [np.array([array.size], order + "i8").tobytes(), array.astype(array.dtype.newbyteorder(order)).tobytes()]
    return b"".join(out)


def write_legacy(path, obj, little_endian=True):
    """`obj` (a tree with numpy arrays as tensors) as torch.save(..., _use_new_zipfile_serialization=False)."""
    storages = {}
    body = pickle_ops(obj, storages, legacy=True)
    path.write_bytes(legacy_bytes(as_pickle(body), storages, little_endian))
    return path
