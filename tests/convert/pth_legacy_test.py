"""The torch-free `.pth` reader on torch's legacy (pre-1.6) format, the format of the authors' published models.

`style_tiny_legacy.pth` is `style_tiny.pth` re-saved by torch in that format (see the fixture's README); it must
read exactly as the zip file does. Hand-made files (`tests/convert/torch_files.py`) cover layouts, byte order,
malicious pickles, truncation, flipped bytes and memory.
"""

import collections
import os
import pickle
import pickletools
import shutil
import subprocess
import tracemalloc

import numpy as np
import pytest

from alae_tf import builders
from alae_tf import workdir as workdir_lib
from alae_tf.convert.architecture import infer_config
from alae_tf.convert.official import ConversionError
from alae_tf.convert.pth import Damaged, Placeholder, damaged_parts, read_pth
from alae_tf.convert.pth_to_workdir import import_state_dicts, load_torch_checkpoint
from tests.conftest import FIXTURES, require_path
from tests.convert import torch_files
from tests.convert.style_tiny_pth_test import compare, convert_binary

CHECKPOINTS = FIXTURES / "checkpoints"
ZIP = CHECKPOINTS / "style_tiny.pth"
LEGACY = CHECKPOINTS / "style_tiny_legacy.pth"


@pytest.fixture(scope="module")
def both():
    require_path(LEGACY, "the official checkpoints of ../shared/fixtures/official/checkpoints")
    return read_pth(ZIP), read_pth(LEGACY)


def assert_same_tree(got, want, where="checkpoint"):
    """Equal containers, arrays (dtype, shape, values) and placeholders, recursively."""
    if isinstance(want, np.ndarray):
        assert isinstance(got, np.ndarray), where
        assert (got.dtype, got.shape) == (want.dtype, want.shape), where
        np.testing.assert_array_equal(got, want, err_msg=where)
    elif isinstance(want, Placeholder):
        assert isinstance(got, Placeholder) and (got.module, got.name) == (want.module, want.name), where
        assert_same_tree(got.args, want.args, f"{where}.args")
        assert_same_tree(got.state, want.state, f"{where}.state")
    elif isinstance(want, dict):
        assert type(got) is type(want) and list(got) == list(want), where
        for key in want:
            assert_same_tree(got[key], want[key], f"{where}[{key!r}]")
    elif isinstance(want, (list, tuple)):
        assert type(got) is type(want) and len(got) == len(want), where
        for i, (a, b) in enumerate(zip(got, want)):
            assert_same_tree(a, b, f"{where}[{i}]")
    else:
        assert got == want, where


def test_the_legacy_file_reads_exactly_as_the_zip_file(both):
    from_zip, from_legacy = both
    assert_same_tree(from_legacy, from_zip)
    tracks = from_legacy["auxiliary"]["tracker"]["tracks"]
    assert all((t.module, t.name) == ("tracker", "RunningMeanTorch") for t in tracks.values())


def test_layouts_views_shared_storages_and_byte_order(tmp_path):
    storage = np.arange(12, dtype=np.float32)
    longs = np.array([7, -3, 2**40], np.int64)
    t = torch_files.tensor_ops
    body = torch_files.dict_ops(
        {
            "whole": t("0", "FloatStorage", 12, 0, (3, 4), (4, 1), legacy=True),
            "same": t("0", "FloatStorage", 12, 0, (12,), (1,), legacy=True),
            "transposed": t("0", "FloatStorage", 12, 1, (2, 3), (1, 2), legacy=True),
            # a view of storage 0 from torch versions whose storages had views: elements 4..9
            "view": t("0", "FloatStorage", 12, 1, (2,), (1,), legacy=True, view=("v", 4, 6)),
            "scalar": t("1", "LongStorage", 3, 2, (), (), legacy=True),
            "longs": t("1", "LongStorage", 3, 0, (3,), (1,), legacy=True),
        }
    )
    for little_endian in (True, False):
        path = tmp_path / f"t{little_endian}.pth"
        path.write_bytes(
            torch_files.legacy_bytes(torch_files.as_pickle(body), {"0": storage, "1": longs}, little_endian)
        )
        got = read_pth(path)
        np.testing.assert_array_equal(got["whole"], storage.reshape(3, 4))
        np.testing.assert_array_equal(got["transposed"], [[1, 3, 5], [2, 4, 6]])
        np.testing.assert_array_equal(got["view"], [5, 6])
        assert got["scalar"].shape == () and got["scalar"] == 2**40 and got["longs"].dtype == np.int64
        assert all(a.dtype.isnative and a.flags.writeable for a in got.values())
        # a tensor that is its whole storage is the storage (no copy); as in torch, tensors of one storage share it
        assert np.shares_memory(got["whole"], got["same"]) and not np.shares_memory(got["transposed"], got["whole"])


def test_a_checkpoint_costs_about_its_own_size_in_memory_in_both_formats(tmp_path):
    rng = np.random.default_rng(0)
    nets = {f"net{i}": {f"w{j}": rng.standard_normal((256, 1024), np.float32) for j in range(8)} for i in range(4)}
    size = sum(a.nbytes for net in nets.values() for a in net.values())  # 32 MiB
    legacy = torch_files.write_legacy(tmp_path / "legacy.pth", {"models": nets})
    storages = {}
    body = torch_files.pickle_ops({"models": nets}, storages)
    raw = {key: array.tobytes() for key, array in storages.items()}
    zipped = torch_files.write_zip(tmp_path / "zip.pth", torch_files.as_pickle(body), raw)
    del raw, storages
    for path in (legacy, zipped):
        tracemalloc.start()
        got = read_pth(path)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        np.testing.assert_array_equal(got["models"]["net3"]["w7"], nets["net3"]["w7"])
        assert peak < 1.15 * size, f"{path.name}: peak {peak / size:.2f}x the tensors' size"
        del got


# --- files that must be refused -------------------------------------------------------------------------------


class _Evil:
    def __init__(self, call, args):
        self.call, self.args = call, args

    def __reduce__(self):
        return self.call, self.args


def test_a_legacy_pickle_that_calls_code_is_refused_and_nothing_runs(tmp_path):
    pwned = tmp_path / "pwned"
    evil = {
        "os.system": _Evil(os.system, (f"touch {pwned}",)),
        "eval": _Evil(eval, (f"__import__('os').system('touch {pwned}')",)),
        "subprocess": _Evil(subprocess.call, (["touch", str(pwned)],)),
    }
    for name, payload in evil.items():
        # in the checkpoint's object, as torch would pickle it, and in a header pickle (sys_info)
        as_object = torch_files.legacy_bytes(pickle.dumps({"models": {}, "auxiliary": payload}, 2), {})
        head = torch_files.legacy_bytes(b"", {})
        magic_and_version = pickle.dumps(torch_files.LEGACY_MAGIC_NUMBER, 2) + pickle.dumps(1001, 2)
        as_header = magic_and_version + pickle.dumps(payload, 2) + head[len(magic_and_version) :]
        for where, raw in (("object", as_object), ("header", as_header)):
            path = tmp_path / f"evil_{name}_{where}.pth"
            path.write_bytes(raw)
            with pytest.raises(ConversionError, match=rf"evil_{name}_{where}\.pth: .*refers to"):
                read_pth(path)
            assert not pwned.exists(), (name, where)


def test_a_legacy_file_cut_anywhere_is_refused_as_truncated(both, tmp_path):
    raw = LEGACY.read_bytes()
    for fraction in (0.5, 0.9, 0.999):
        cut = tmp_path / f"cut{fraction}.pth"
        cut.write_bytes(raw[: int(len(raw) * fraction)])
        with pytest.raises(ConversionError, match=rf"cut{fraction}\.pth: .*truncated"):
            read_pth(cut)
    for end in (20, 200, 3000):  # inside the header and the object's pickle
        cut = tmp_path / f"head{end}.pth"
        cut.write_bytes(raw[:end])
        with pytest.raises(ConversionError, match=rf"head{end}\.pth: "):
            read_pth(cut)
    longer = tmp_path / "longer.pth"
    longer.write_bytes(raw + b"\0" * 16)
    with pytest.raises(ConversionError, match="16 bytes follow the last storage"):
        read_pth(longer)


def structure_size(path):
    """Bytes before the first storage's data: the header, the object pickle, the key list and the first count."""
    with open(path, "rb") as f:
        for _ in range(5):  # magic, protocol version, sys_info, the object, the key list
            for opcode, _, _ in pickletools.genops(f):  # reads opcodes only, runs nothing
                if opcode.name == "STOP":
                    break
        return f.tell() + 8


def test_flipped_bytes_in_the_structure_are_refused_or_leave_the_nets_untouched(both, tmp_path):
    """A flip anywhere in the pickles, key list or counts is refused by the reader or the converter's checks,
    unless it only touches the training state (optimizer, tracker), which conversion does not use."""
    raw = LEGACY.read_bytes()
    end = structure_size(LEGACY)
    original = load_torch_checkpoint(ZIP)
    model = builders.build_model(infer_config(original))
    rng = np.random.default_rng(0)
    outcomes = collections.Counter()
    for position in sorted(rng.choice(end, size=min(end, 150), replace=False)):
        flipped = bytearray(raw)
        flipped[position] ^= 0xFF
        path = tmp_path / "flipped.pth"
        path.write_bytes(bytes(flipped))
        try:
            state_dicts = load_torch_checkpoint(path)
        except ConversionError as e:
            assert str(e).startswith(str(path)), e
            outcomes["refused by the reader"] += 1
            continue
        if state_dicts.keys() == original.keys() and all(
            state.keys() == original[net].keys() and all(np.array_equal(state[k], original[net][k]) for k in state)
            for net, state in state_dicts.items()
        ):
            outcomes["nets untouched"] += 1
            continue
        with pytest.raises(ConversionError):  # a name, shape or layout changed: the converter must see it
            import_state_dicts(model, state_dicts)
        outcomes["refused by the converter"] += 1
    assert outcomes["refused by the reader"] > 50, outcomes


def test_a_flip_that_makes_a_weight_non_finite_is_refused_by_name(tmp_path):
    nets = {"generator_s": {"const": np.ones((1, 4, 4, 4), np.float32), "bias": np.zeros(4, np.float32)}}
    path = torch_files.write_legacy(tmp_path / "nan.pth", {"models": nets})
    raw = bytearray(path.read_bytes())
    # const's last float (1.0, little-endian 00 00 80 3f; then bias's count and data follow) becomes infinite
    raw[-16 - 8 - 1] = 0x7F
    path.write_bytes(bytes(raw))
    with pytest.raises(ConversionError, match=r"nan\.pth: generator_s\.const holds 1 non-finite values"):
        load_torch_checkpoint(path)


# --- inference-only files, and the binary ---------------------------------------------------------------------


def test_an_inference_only_legacy_file_converts_with_the_ema_nets_as_both_sets(both, tmp_path):
    """What the official demo loads: the `_s` nets and `dlatent_avg`, no training state."""
    from tests.convert.style_tiny_pth_test import EXPECTED, LOD, nhwc

    models = both[1]["models"]
    weights_only = {k: v for k, v in models.items() if k.endswith("_s") or k == "dlatent_avg"}
    pth = torch_files.write_legacy(tmp_path / "model_tmp_lod2.pth", {"models": weights_only})
    workdir = tmp_path / "w"
    result = convert_binary("--preset=faces_tiny", "--infer_architecture", f"--workdir={workdir}", pth=pth)
    assert result.returncode == 0, result.stderr
    run = workdir_lib.open_run(workdir)
    assert run.model.level == LOD  # from the file name
    expected = np.load(EXPECTED)
    for use_ema in (True, False):  # the trained nets start as the EMA nets: fine-tuning starts from them
        w = run.model.encode(nhwc(expected["x"]), use_ema=use_ema)
        error, tolerance = compare(np.asarray(w)[:, None], expected["ema/w_from_x"])
        assert error <= tolerance, (use_ema, error, tolerance)
        F = run.model.nets(use_ema=use_ema)[0]
        error, tolerance = compare(F(expected["z"]), expected["ema/w_from_z_row0"])
        assert error <= tolerance, (use_ema, error, tolerance)
    np.testing.assert_array_equal(run.model.dlatent_avg.numpy(), models["dlatent_avg"]["buff"][0])


def test_the_binary_refuses_a_damaged_legacy_file_and_writes_nothing(both, tmp_path):
    cut = tmp_path / "model_157.pth"
    raw = LEGACY.read_bytes()
    cut.write_bytes(raw[: len(raw) // 2])
    evil = tmp_path / "evil.pth"
    evil.write_bytes(torch_files.legacy_bytes(pickle.dumps({"models": _Evil(os.system, ("true",))}, 2), {}))
    for path, cause in ((cut, "truncated"), (evil, "refers to posix.system|refers to os.system")):
        workdir = tmp_path / f"w_{path.stem}"
        result = convert_binary("--preset=faces_tiny", "--infer_architecture", f"--workdir={workdir}", pth=path)
        assert result.returncode != 0
        assert str(path) in result.stderr and any(c in result.stderr for c in cause.split("|")), result.stderr
        assert not workdir.exists()
    shutil.rmtree(tmp_path / "w_model_157", ignore_errors=True)


# --- salvage: damaged training state, intact nets ---------------------------------------------------------------


def test_salvage_keeps_the_intact_nets_of_a_file_whose_training_state_is_cut_off(both, tmp_path):
    raw = LEGACY.read_bytes()
    cut = tmp_path / "cut.pth"
    cut.write_bytes(raw[: int(len(raw) * 0.9)])  # the last storages are optimizer state (exp_avg_sq)
    with pytest.raises(ConversionError, match="truncated"):
        read_pth(cut)
    salvaged = read_pth(cut, salvage=True)
    assert_same_tree(salvaged["models"], both[0]["models"])
    damaged = damaged_parts(salvaged)
    assert damaged and all(where.startswith("checkpoint['auxiliary']") for where, _ in damaged)
    assert all("truncated" in reason for _, reason in damaged)
    # cut into the nets: salvage cannot help, and says which tensor is damaged
    half = tmp_path / "half.pth"
    half.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ConversionError, match=r"half\.pth: state dict '\w+': '[\w.]+' is damaged: storage .*truncated"):
        load_torch_checkpoint(half, salvage=True)


def test_salvage_never_runs_a_refused_class_and_keeps_it_inert(tmp_path):
    pwned = tmp_path / "pwned"
    nets = {"generator_s": {"const": np.ones((1, 2, 4, 4), np.float32)}}
    storages = {}
    body = torch_files.dict_ops(
        {
            "models": torch_files.pickle_ops(nets, storages, legacy=True),
            "auxiliary": pickle.dumps(_Evil(os.system, (f"touch {pwned}",)), 2)[2:-1],
        }
    )
    path = tmp_path / "evil_aux.pth"
    path.write_bytes(torch_files.legacy_bytes(torch_files.as_pickle(body), storages))
    with pytest.raises(ConversionError, match="refers to"):
        read_pth(path)
    salvaged = read_pth(path, salvage=True)
    np.testing.assert_array_equal(salvaged["models"]["generator_s"]["const"], 1.0)
    assert isinstance(salvaged["auxiliary"], Damaged) and "system" in salvaged["auxiliary"].reason
    assert not pwned.exists()


def test_the_binary_suggests_salvage_only_when_the_nets_are_intact_and_salvage_converts(both, tmp_path):
    raw = LEGACY.read_bytes()
    cut = tmp_path / "model_tmp_lod2.pth"
    cut.write_bytes(raw[: int(len(raw) * 0.9)])
    flags = ("--preset=faces_tiny", "--infer_architecture")
    result = convert_binary(*flags, f"--workdir={tmp_path / 'strict'}", pth=cut)
    assert result.returncode != 0 and "truncated" in result.stderr and "--salvage converts the nets" in result.stderr
    assert not (tmp_path / "strict").exists()
    result = convert_binary(*flags, "--salvage", f"--workdir={tmp_path / 'w'}", pth=cut)
    assert result.returncode == 0, result.stderr
    assert "ignored, damaged: checkpoint['auxiliary']" in result.stderr
    run = workdir_lib.open_run(tmp_path / "w")
    np.testing.assert_array_equal(run.model.dlatent_avg.numpy(), both[0]["models"]["dlatent_avg"]["buff"][0])
    half = tmp_path / "half.pth"
    half.write_bytes(raw[: len(raw) // 2])
    result = convert_binary(*flags, f"--workdir={tmp_path / 'half'}", pth=half)
    assert result.returncode != 0 and "--salvage" not in result.stderr
