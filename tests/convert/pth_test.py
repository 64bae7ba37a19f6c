"""The torch-free `.pth` reader (`alae_tf.convert.pth`), zip format: the real official checkpoint, and files it must
refuse. The legacy format: `pth_legacy_test.py`."""

import json
import os
import pickle
import shutil
import subprocess
import zipfile

import numpy as np
import pytest

from alae_tf.convert.official import ConversionError
from alae_tf.convert.pth import Placeholder, read_pth, state_dicts_from_checkpoint
from alae_tf.convert.pth_to_workdir import load_torch_checkpoint
from tests.conftest import FIXTURES, require_path
from tests.convert.torch_files import as_pickle as _pickle
from tests.convert.torch_files import dict_ops as _dict
from tests.convert.torch_files import global_op as _g
from tests.convert.torch_files import tensor_ops as _tensor
from tests.convert.torch_files import value_ops as _v
from tests.convert.torch_files import write_zip as _torch_zip

CHECKPOINTS = FIXTURES / "checkpoints"
STYLE_TINY = CHECKPOINTS / "style_tiny.pth"


@pytest.fixture(scope="module")
def style_tiny():
    require_path(STYLE_TINY, "the official checkpoint of ../shared/fixtures/official/checkpoints")
    expected = json.loads((CHECKPOINTS / "style_tiny_expected.json").read_text())
    return read_pth(STYLE_TINY), expected


# --- the real official checkpoint --------------------------------------------------------------------------------


def test_style_tiny_reads_without_torch_every_tensor_with_its_shape_and_dtype(style_tiny):
    data, expected = style_tiny
    structure = expected["checkpoint"]
    assert list(data) == structure["top_level_keys"]
    assert list(data["models"]) == structure["models_keys"]
    assert list(data["auxiliary"]) == structure["auxiliary_keys"]
    for net, entry in structure["models"].items():
        state = data["models"][net]
        assert [name for name, _, _ in entry["state_dict"]] == list(state), net
        for name, shape, dtype in entry["state_dict"]:
            assert isinstance(state[name], np.ndarray), (net, name)
            assert state[name].shape == tuple(shape) and state[name].dtype == np.dtype(dtype), (net, name)
            assert np.isfinite(state[name]).all(), (net, name)


def test_style_tiny_values_match_the_official_outputs(style_tiny):
    data, _ = style_tiny
    npz = np.load(CHECKPOINTS / "style_tiny_expected.npz")
    # the expected `trained/dlatent_avg` is the checkpoint's `dlatent_avg.buff`, bit for bit
    np.testing.assert_array_equal(data["models"]["dlatent_avg"]["buff"], npz["trained/dlatent_avg"])
    # the blur kernels are fixed buffers: [1, 2, 1] x [1, 2, 1] / 16 per channel
    blur = np.outer([1, 2, 1], [1, 2, 1]).astype(np.float32) / 16
    kernels = data["models"]["discriminator"]["encode_block.1.blur.weight"]
    np.testing.assert_array_equal(kernels, np.broadcast_to(blur, kernels.shape))


def test_style_tiny_auxiliary_comes_back_as_data_and_tracker_placeholders(style_tiny):
    data, expected = style_tiny
    aux = data["auxiliary"]
    for name in ("encoder_optimizer", "decoder_optimizer"):
        want = expected["checkpoint"]["auxiliary"][name]
        assert len(aux[name]["state"]) == want["state_len"]
        steps = {s["step"] for s in aux[name]["state"].values()}
        assert 80 in steps and steps <= {40, 80}  # 80: stepped twice per iteration (40 iterations)
        assert all(s["exp_avg_sq"].dtype == np.float32 for s in aux[name]["state"].values())
        assert [g["lr"] for g in aux[name]["param_groups"]] == [g["lr"] for g in want["param_groups"]]
    assert aux["scheduler"] == {"encoder_optimizer": {"last_epoch": 1}, "decoder_optimizer": {"last_epoch": 1}}
    tracks = aux["tracker"]["tracks"]
    assert list(tracks) == ["loss_d", "loss_g", "lae"]
    for track in tracks.values():
        assert isinstance(track, Placeholder)
        assert (track.module, track.name) == ("tracker", "RunningMeanTorch")
        values = track.state["values"]
        assert len(values) == 40 and all(v.shape == (1,) and v.dtype == np.float32 for v in values)


def test_load_torch_checkpoint_reads_style_tiny_as_float32_state_dicts(style_tiny):
    data, expected = style_tiny
    state_dicts = load_torch_checkpoint(STYLE_TINY)
    assert list(state_dicts) == expected["checkpoint"]["models_keys"]
    for net, state in state_dicts.items():
        assert all(type(v) is np.ndarray and v.dtype == np.float32 for v in state.values()), net
    np.testing.assert_array_equal(state_dicts["generator_s"]["const"], data["models"]["generator_s"]["const"])
    assert state_dicts_from_checkpoint(data)["mapping_fl"].keys() == data["models"]["mapping_fl"].keys()


# --- tensors: dtype, offset, stride, shared storages, byte order --------------------------------------------------


def test_tensors_respect_dtype_offset_stride_and_shared_storages(tmp_path):
    storage = np.arange(12, dtype=np.float32)
    longs = np.array([7, -3, 2**40], np.int64)
    body = _dict(
        {
            "transposed": _tensor("0", "FloatStorage", 12, 1, (2, 3), (1, 2)),
            "row": _tensor("0", "FloatStorage", 12, 4, (4,), (1,)),
            "scalar": _tensor("1", "LongStorage", 3, 2, (), ()),
            "longs": _tensor("1", "LongStorage", 3, 0, (3,), (1,)),
            "empty": _tensor("0", "FloatStorage", 12, 0, (0, 5), (5, 1)),
        }
    )
    path = _torch_zip(tmp_path / "t.pth", _pickle(body), {"0": storage.tobytes(), "1": longs.tobytes()})
    got = read_pth(path)
    np.testing.assert_array_equal(got["transposed"], [[1, 3, 5], [2, 4, 6]])
    np.testing.assert_array_equal(got["row"], [4, 5, 6, 7])
    assert got["scalar"].shape == () and got["scalar"] == 2**40 and got["longs"].dtype == np.int64
    np.testing.assert_array_equal(got["longs"], longs)
    assert got["empty"].shape == (0, 5) and got["transposed"].dtype == np.float32
    assert got["transposed"].flags.writeable and got["transposed"].base is None  # a copy, not a view of the zip


def test_big_endian_storages_follow_the_byteorder_record(tmp_path):
    values = np.array([1.5, -2.25, 3.0], np.float32)
    body = _tensor("0", "FloatStorage", 3, 0, (3,), (1,))
    path = _torch_zip(tmp_path / "be.pth", _pickle(body), {"0": values.astype(">f4").tobytes()}, byteorder="big")
    np.testing.assert_array_equal(read_pth(path), values)


def test_a_short_storage_says_which_storage(tmp_path):
    body = _dict({"w": _tensor("7", "FloatStorage", 10, 0, (10,), (1,))})
    path = _torch_zip(tmp_path / "short.pth", _pickle(body), {"7": np.zeros(6, np.float32).tobytes()})
    with pytest.raises(ConversionError, match=r"storage '7' .*24 bytes.*10 elements.*need 40"):
        read_pth(path)


def test_a_tensor_past_its_storage_or_a_missing_storage_is_refused(tmp_path):
    body = _tensor("0", "FloatStorage", 4, 2, (3,), (1,))
    path = _torch_zip(tmp_path / "past.pth", _pickle(body), {"0": np.zeros(4, np.float32).tobytes()})
    with pytest.raises(ConversionError, match=r"past\.pth: a tensor .*past its storage"):
        read_pth(path)
    path = _torch_zip(tmp_path / "missing.pth", _pickle(body))
    with pytest.raises(ConversionError, match="storage '0' .*missing"):
        read_pth(path)


def test_objects_of_inert_modules_are_placeholders_that_only_record(tmp_path):
    reduce = _g("tracker", "RunningMean") + _v((1, "a")) + b"R" + _v({"mean": 2.5}) + b"b"
    newobj = _g("tracker", "LossTracker") + _v(()) + b"\x81" + _v({"tracks": []}) + b"b"
    path = _torch_zip(tmp_path / "inert.pth", _pickle(_dict({"r": reduce, "n": newobj})))
    got = read_pth(path)
    assert isinstance(got["r"], Placeholder) and (got["r"].module, got["r"].name) == ("tracker", "RunningMean")
    assert got["r"].args == (1, "a") and got["r"].state == {"mean": 2.5}
    assert got["n"].name == "LossTracker" and got["n"].args == () and got["n"].state == {"tracks": []}


# --- pickles that would run code ------------------------------------------------------------------------------


class _Evil:
    def __init__(self, call, args):
        self.call, self.args = call, args

    def __reduce__(self):
        return self.call, self.args


@pytest.mark.parametrize("protocol", [2, 4])
@pytest.mark.parametrize("how", ["os.system", "builtins.eval", "subprocess.call"])
def test_a_pickle_that_calls_code_is_refused_and_nothing_runs(tmp_path, protocol, how):
    pwned = tmp_path / "pwned"
    evil = {
        "os.system": _Evil(os.system, (f"touch {pwned}",)),
        "builtins.eval": _Evil(eval, (f"__import__('os').system('touch {pwned}')",)),
        "subprocess.call": _Evil(subprocess.call, (["touch", str(pwned)],)),
    }[how]
    payload = pickle.dumps({"models": {}, "auxiliary": evil}, protocol=protocol)
    module, name = how.split(".")
    # protocol 2 writes Python 2 names (`__builtin__`, `commands`); they are refused as they are, never mapped
    module = {"os": "posix|nt|os", "builtins": "builtins|__builtin__", "subprocess": "subprocess|commands"}[module]
    path = _torch_zip(tmp_path / "evil.pth", payload)
    with pytest.raises(ConversionError, match=rf"evil\.pth: .*refers to ({module})\.{name}.*nothing was executed"):
        read_pth(path)
    with pytest.raises(ConversionError, match="refers to"):
        load_torch_checkpoint(path)
    assert not pwned.exists()


def test_a_non_allowed_global_in_a_storage_type_is_refused(tmp_path):
    body = _tensor("0", "FloatStorage", 1, 0, (1,), (1,)).replace(b"FloatStorage", b"NotAStorage")
    path = _torch_zip(tmp_path / "odd.pth", _pickle(body), {"0": b"\0" * 4})
    with pytest.raises(ConversionError, match=r"torch\.NotAStorage"):
        read_pth(path)


# --- files that are not (whole) torch zip checkpoints ----------------------------------------------------------


def test_a_truncated_checkpoint_is_refused(style_tiny, tmp_path):
    raw = STYLE_TINY.read_bytes()
    cut = tmp_path / "cut.pth"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ConversionError, match=r"cut\.pth: .*truncated or corrupt"):
        read_pth(cut)
    with pytest.raises(ConversionError, match="truncated or corrupt"):
        load_torch_checkpoint(cut)


def test_a_corrupt_storage_is_refused(style_tiny, tmp_path):
    corrupt = tmp_path / "corrupt.pth"
    shutil.copy(STYLE_TINY, corrupt)
    with zipfile.ZipFile(STYLE_TINY) as z:
        info = z.getinfo("model_tmp_lod2/data/0")
    with open(corrupt, "r+b") as f:  # flip a byte of the storage's data (stored uncompressed): bad CRC
        f.seek(info.header_offset + 26)
        name_len, extra_len = np.frombuffer(f.read(4), "<u2")  # the local header's own lengths (torch pads)
        f.seek(info.header_offset + 30 + int(name_len) + int(extra_len) + info.file_size // 2)
        byte = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ConversionError, match=r"storage '0' .*corrupt or truncated.*CRC"):
        read_pth(corrupt)


def test_random_bytes_text_and_empty_files_are_not_torch_checkpoints(tmp_path):
    cases = {
        "random.pth": np.random.default_rng(0).bytes(4096),
        "text.pth": b"not a checkpoint\n",
        "empty.pth": b"",
        "numpy.pth": b"\x93NUMPY\x01\x00" + b"\0" * 64,
    }
    for name, raw in cases.items():
        (tmp_path / name).write_bytes(raw)
        with pytest.raises(ConversionError, match=rf"{name}: not a torch checkpoint.*give the \.pth file"):
            read_pth(tmp_path / name)


def test_a_zip_without_data_pkl_or_a_missing_file_is_refused(tmp_path):
    path = tmp_path / "other.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/weights.npy", b"123")
    with pytest.raises(ConversionError, match=r"other\.zip: expected one '<archive>/data\.pkl'.*none"):
        read_pth(path)
    with pytest.raises(FileNotFoundError):
        read_pth(tmp_path / "absent.pth")


def test_a_malformed_pickle_is_a_conversion_error(tmp_path):
    path = _torch_zip(tmp_path / "bad.pth", b"\x80\x02}q\x00(")  # ends mid-dict
    with pytest.raises(ConversionError, match=r"bad\.pth: cannot unpickle"):
        read_pth(path)
    path = _torch_zip(tmp_path / "call.pth", _pickle(_v(5) + _v(()) + b"R"))  # calls an int
    with pytest.raises(ConversionError, match="cannot unpickle"):
        read_pth(path)
    with pytest.raises(ConversionError, match="dict of state dicts"):
        load_torch_checkpoint(_torch_zip(tmp_path / "list.pth", _pickle(_v([1, 2]))))
