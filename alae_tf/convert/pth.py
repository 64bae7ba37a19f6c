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

Modules: `pth_pickle` (the restricted unpickler and what the allowed globals become), `pth_zip` and
`pth_legacy` (the two formats' readers); here, `read_pth` picks the format and the helpers read its result.

Memory: each storage is read once, into an array of its own; a tensor that is its whole storage (every tensor
of a state dict) is that array, reshaped, not a copy, so a checkpoint costs about its own size in memory, in
both formats. Other views (a slice, a transpose) are copies.
"""

import posixpath

import numpy as np

from alae_tf.convert.official import ConversionError
from alae_tf.convert.pth_legacy import read_legacy
from alae_tf.convert.pth_pickle import ALLOWED_CALLABLES, INERT_MODULES, STORAGE_DTYPES, Damaged, Placeholder
from alae_tf.convert.pth_zip import open_zip, read_zip, zip_data_pkl

# What the module doc names: the readers' results and the pickle's allowed globals (from `pth_pickle`).
__all__ = [
    "ALLOWED_CALLABLES",
    "INERT_MODULES",
    "STORAGE_DTYPES",
    "Damaged",
    "Placeholder",
    "archive_name",
    "damaged_parts",
    "read_pth",
    "state_dicts_from_checkpoint",
]

LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"  # pickled magic of torch's pre-1.6 format

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
    with open_zip(path) as archive:
        return posixpath.dirname(zip_data_pkl(path, archive))


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
    return (read_legacy if _format(path) == "legacy" else read_zip)(path, salvage)


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
