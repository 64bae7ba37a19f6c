"""A real official StyleALAE checkpoint (../shared/fixtures/official/checkpoints/style_tiny.pth) -> a workdir.

Both of torch's formats: `style_tiny.pth` (zip) and `style_tiny_legacy.pth` (the same object re-saved in the
pre-1.6 format of the authors' published models) must convert to the same nets and outputs.

`alae-convert` reads the .pth (with any `import torch` made to fail), infers
its architecture from the tensor shapes and writes a workdir at the checkpoint's level,
which `open_run` reopens; then
every array of `style_tiny_expected.npz` (the official code's outputs at lod 2,
blend 1, for the EMA `*_s` nets and the trained nets) is reproduced within the
manifest's float32 tolerance, max|got - want| <= 1e-4 * max(1e-3, max|want|).

The EMA generator is an ill-conditioned case: its const is still about its
initial value (1 +- 3.5e-5 within a channel), so block 0's first instance norm
divides differences of 1e-5 by sqrt(var + 1e-8) ~ 1e-4, and any float32
rounding there is amplified 1e4-fold. The official numbers carry torch's CPU
rounding, so the generator comparisons run with torch's CPU arithmetic replayed
in G (`torch_cpu_instance_norm`, and a correctly rounded exp in the `noise=False`
branch); that reproduces all of G's arrays to about 3e-7 (tolerance about
2e-5). Without it the trained G still matches and the EMA G misses by ~1e-4,
which `test_ema_generator_in_our_own_float32_arithmetic_stays_within_the_conditioning_bound` bounds.
"""

import contextlib
import math
import os
import pathlib
import subprocess
import sys
import tempfile
from unittest import mock

import numpy as np
import pytest
import tensorflow as tf

from alae_tf import configs
from alae_tf import workdir as workdir_lib
from alae_tf.convert import ConversionError
from alae_tf.convert.architecture import check_config, infer_config
from alae_tf.convert.pth_to_workdir import checkpoint_level, convert_to_workdir, load_torch_checkpoint
from alae_tf.layers import style_modulation
from tests.conftest import FACES, FIXTURES, REPO
from tests.convert.official_style_parity_test import nchw, nhwc

CHECKPOINTS = FIXTURES / "checkpoints"
PTH = CHECKPOINTS / "style_tiny.pth"
LEGACY_PTH = CHECKPOINTS / "style_tiny_legacy.pth"  # the same file re-saved by torch in its pre-1.6 format
EXPECTED = CHECKPOINTS / "style_tiny_expected.npz"
LOD, BLEND = 2, 1.0

pytestmark = pytest.mark.needs_path(PTH, "the official checkpoint of ../shared/fixtures/official/checkpoints")


@pytest.fixture(scope="module")
def state_dicts():
    return load_torch_checkpoint(PTH)


# The same checkpoint in both of torch's formats. The legacy format keeps no record name, so the level the
# zip file's `model_tmp_lod2` records give is passed as a flag.
FORMATS = {"zip": (PTH, ()), "legacy": (LEGACY_PTH, (f"--level={LOD}",))}


@pytest.fixture(scope="module", params=sorted(FORMATS))
def run(request, tmp_path_factory):
    """The workdir `alae-convert` writes from the .pth (this venv has no torch), reopened."""
    pth, flags = FORMATS[request.param]
    workdir = tmp_path_factory.mktemp(f"style_tiny_{request.param}") / "w"
    result = convert_binary("--preset=faces_tiny", "--infer_architecture", f"--workdir={workdir}", *flags, pth=pth)
    assert result.returncode == 0, result.stderr
    run = workdir_lib.open_run(workdir)
    assert run.model.level == LOD and float(run.model.blend.numpy()) == BLEND  # placed by open_run
    return run


@pytest.fixture(scope="module")
def expected():
    return dict(np.load(EXPECTED))


def test_architecture_is_inferred_from_the_tensor_shapes(state_dicts):
    config = infer_config(state_dicts)
    # The official config: LAYER_COUNT 4, START_CHANNEL_COUNT 8, MAX_CHANNEL_COUNT 32, LATENT_SPACE_SIZE 32,
    # MAPPING_LAYERS 3, CHANNELS 3 (32 px); D (MappingD) has 3 layers.
    assert (config.model, config.layer_count, config.start_channels, config.max_channels) == ("style", 4, 8, 32)
    assert (config.latent_size, config.mapping_layers, config.discriminator_layers) == (32, 3, 3)
    assert config.image_shape == (32, 32, 3)
    base = configs.PRESETS["faces_tiny"]
    assert (config.dataset, config.truncation_psi, config.truncation_cutoff) == (base.dataset, 0.7, 8)
    check_config(config, state_dicts)  # fits: no error
    # A base's wider cap that gives the same channels is kept; an MLP base falls back to faces_tiny.
    assert infer_config(state_dicts, base=base.replace(max_channels=64)).max_channels == 32
    assert infer_config(state_dicts, base=configs.PRESETS["mnist_mlp"]).model == "style"


def test_a_preset_that_does_not_fit_is_refused_with_every_field_named(state_dicts):
    with pytest.raises(ConversionError) as e:
        check_config(configs.PRESETS["ffhq"], state_dicts)
    message = str(e.value)
    for field in ("layer_count", "start_channels", "max_channels", "latent_size", "mapping_layers", "image_shape"):
        assert field in message
    assert "discriminator_layers" not in message and "--infer_architecture" in message


def compare(got, want):
    """(max |got - want|, the manifest's float32 tolerance 1e-4 * max(1e-3, max|want|))."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, f"shape {got.shape} != {want.shape}"
    return float(np.max(np.abs(got - want))), 1e-4 * max(1e-3, float(np.max(np.abs(want))))


def zero_noise(generator, batch):
    return [tf.zeros(shape) for shape in generator.noise_shapes(LOD, batch)]


def torch_cpu_instance_norm(x, epsilon):
    """Instance norm with the float32 arithmetic of torch's CPU kernel (`batch_norm_kernel.cpp`).

    `InstanceNorm2d` runs `batch_norm` on a `[1, B*C, H, W]` view: the mean is summed in double and
    rounded to float, the variance summed in double from float `(x - mean)^2`, `invstd` rounded to
    float, then `out = x * alpha + beta` with `alpha = invstd`, `beta = -(mean * alpha)` in float,
    the vectorised multiply-add compiled to one fused multiply-add (one rounding).
    """
    x64 = tf.cast(x, tf.float64)
    n = float(x.shape[1] * x.shape[2])
    mean = tf.cast(tf.reduce_sum(x64, axis=[1, 2], keepdims=True) / n, tf.float32)
    centred = x - mean
    var_sum = tf.cast(tf.reduce_sum(tf.cast(centred * centred, tf.float64), axis=[1, 2], keepdims=True), tf.float32)
    alpha = tf.cast(tf.cast(1.0, tf.float64) / tf.sqrt(tf.cast(var_sum / n, tf.float64) + epsilon), tf.float32)
    alpha64 = tf.cast(alpha, tf.float64)
    beta = tf.cast(-(tf.cast(mean, tf.float64) * alpha64), tf.float32)
    return tf.cast(x64 * alpha64 + tf.cast(beta, tf.float64), tf.float32)


@contextlib.contextmanager
def official_noise_false(generator):
    """The official `noise=False` branch in place of G's noise injections.

    Block i adds `s * exp(-x^2 / (2 s^2)) / sqrt(2 pi) * 0.8`, s = sqrt(i + 1), where noise would go, in
    torch's order of float32 operations, with a correctly rounded exp (torch's vectorised exp; TF's
    float32 exp is off by an ulp now and then, which block 0's instance norm would amplify).
    """
    with contextlib.ExitStack() as stack:
        for i, block in enumerate(generator.blocks):
            s = math.sqrt(i + 1)

            def deterministic(x, noise=None, seed=None, s=s):
                exponent = -x * x / (2.0 * s * s)
                bump = tf.cast(tf.exp(tf.cast(exponent, tf.float64)), tf.float32)
                return x + s * bump / math.sqrt(2 * math.pi) * 0.8

            for layer in (block.noise_1, block.noise_2):
                stack.enter_context(mock.patch.object(layer, "call", deterministic))
        yield


def generator_outputs(run, expected, prefix, torch_arithmetic=True):
    """{key: got} for G's arrays: zero noise, the official noise=False branch, and (EMA) truncated generation.

    `torch_arithmetic` replays torch's CPU float32 rounding in G's instance norms (see the module doc).
    """
    model, d = run.model, expected
    F, G, _, _ = model.nets(use_ema=prefix == "ema")
    styles = model._kind.styles_from_w(F(d["z"]))
    zeros = zero_noise(G, len(d["z"]))
    with contextlib.ExitStack() as stack:
        if torch_arithmetic:
            stack.enter_context(mock.patch.object(style_modulation, "instance_norm", torch_cpu_instance_norm))
        out = {f"{prefix}/x_from_w": nchw(G(styles, level=LOD, blend=BLEND, noise=zeros))}
        with official_noise_false(G):
            out[f"{prefix}/x_from_w_noise_false"] = nchw(G(styles, level=LOD, blend=BLEND, noise=zeros))
        if prefix == "ema":  # Model.generate with truncation (psi 0.7, cutoff 8) towards the checkpoint's dlatent_avg
            assert (run.config.truncation_psi, model.truncation_cutoff) == (0.7, 8)
            with mock.patch.object(G, "draw_noise", lambda level, batch, seed=None: zeros):
                images = model.generate(d["z"], truncation_psi=run.config.truncation_psi, noise_seed=[1, 2])
            out["ema/x_from_z_truncated"] = nchw(images)
    return out


def assert_all_close(got, expected):
    errors = {key: compare(value, expected[key]) for key, value in got.items()}
    failed = {key: f"{err:.3g} > {tol:.3g}" for key, (err, tol) in errors.items() if err > tol}
    assert not failed, f"max |got - want| over the manifest's tolerance: {failed}"


@pytest.mark.parametrize("prefix", ["ema", "trained"])
def test_mapping_encoder_and_discriminator_outputs(run, expected, prefix):
    model, d = run.model, expected
    F, _, _, D = model.nets(use_ema=prefix == "ema")
    np.testing.assert_array_equal(d["x"], d["x_uint8"].astype(np.float32) / 127.5 - 1)
    w = F(d["z"])
    w_x = model.encode(nhwc(d["x"]), use_ema=prefix == "ema")
    got = {
        f"{prefix}/w_from_z_row0": w,
        f"{prefix}/w_from_z": model._kind.styles_from_w(w),
        f"{prefix}/w_from_x": np.asarray(w_x)[:, None],
        f"{prefix}/d_of_w_from_x": D(w_x),
    }
    if prefix == "trained":  # the checkpoint's dlatent_avg: 8 identical rows, kept as one
        got["trained/dlatent_avg"] = np.tile(model.dlatent_avg.numpy(), (8, 1))
    else:  # official model_s never updates (nor saves) its own buffer; inference pairs *_s with dlatent_avg
        np.testing.assert_array_equal(d["ema/dlatent_avg"], 0.0)
    assert_all_close(got, d)


@pytest.mark.parametrize("prefix", ["ema", "trained"])
def test_generator_outputs(run, expected, prefix):
    assert_all_close(generator_outputs(run, expected, prefix), expected)


def test_trained_generator_matches_with_our_own_arithmetic(run, expected):
    assert_all_close(generator_outputs(run, expected, "trained", torch_arithmetic=False), expected)


def test_ema_generator_in_our_own_float32_arithmetic_stays_within_the_conditioning_bound(run, expected):
    """Without torch's rounding replayed, the ill-conditioned EMA G (block 0's instance norm scales float32
    rounding about 1e4-fold) lands about 10x the tolerance away, as float64 does: a bound of 50x catches a
    real error (a wrong weight or layout moves it by orders more) and lets a better rounding pass."""
    got = generator_outputs(run, expected, "ema", torch_arithmetic=False)
    for key, value in got.items():
        error, tolerance = compare(value, expected[key])
        assert error < 50 * tolerance, (key, error, tolerance)


# Put first on the binary's path: any `import torch` fails, so the conversion provably runs without it.
NO_TORCH = "raise ImportError('torch is blocked: the converter must not need it')\n"


def convert_binary(*flags, pth=PTH):
    blocker = pathlib.Path(tempfile.mkdtemp(prefix="no_torch_"))
    (blocker / "torch.py").write_text(NO_TORCH)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=f"{blocker}{os.pathsep}{REPO}")
    return subprocess.run(
        [sys.executable, "-m", "alae_tf.commands.convert", f"--official_checkpoint={pth}", *flags],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
    )


def test_binary_infers_the_architecture(tmp_path):
    workdir = tmp_path / "w"
    result = convert_binary("--preset=faces_tiny", "--infer_architecture", f"--workdir={workdir}")
    assert result.returncode == 0, result.stderr
    config = workdir_lib.read_config(workdir)
    assert (config.layer_count, config.start_channels, config.max_channels, config.latent_size) == (4, 8, 32, 32)
    assert "trained to 16 px of 32" in result.stdout  # model_tmp_lod2: level 2
    assert workdir_lib.open_run(workdir).model.level == LOD


def test_binary_refuses_a_preset_that_does_not_fit(tmp_path):
    workdir = tmp_path / "w"
    result = convert_binary("--preset=ffhq", f"--workdir={workdir}")
    assert result.returncode != 0
    for field in ("layer_count", "start_channels", "latent_size", "mapping_layers", "image_shape"):
        assert field in result.stderr
    assert "--infer_architecture" in result.stderr
    assert not workdir.exists()


def test_the_checkpoint_level_comes_from_the_record_name_or_the_legacy_file_name(tmp_path):
    # Saved by the official trainer as model_tmp_lod2 and renamed: the zip's records keep the name.
    assert checkpoint_level(PTH) == LOD
    # The legacy format records no name: its file name is all there is.
    assert checkpoint_level(LEGACY_PTH) is None
    (tmp_path / "model_tmp_lod1.pth").symlink_to(LEGACY_PTH)
    assert checkpoint_level(tmp_path / "model_tmp_lod1.pth") == 1


def test_both_formats_hold_the_same_state_dicts(state_dicts):
    legacy = load_torch_checkpoint(LEGACY_PTH)
    assert list(legacy) == list(state_dicts)
    for net, state in state_dicts.items():
        assert list(legacy[net]) == list(state), net
        for name, value in state.items():
            np.testing.assert_array_equal(legacy[net][name], value, err_msg=f"{net}.{name}")


def test_the_converted_workdir_evaluates_exports_and_resumes_growing(state_dicts, tmp_path):
    from alae_tf import evaluation, training
    from alae_tf.export.saved_model import export_workdir

    config = infer_config(state_dicts).replace(dataset=f"folder:{FACES}", images_per_level=64, batch_sizes=(8,))
    workdir = tmp_path / "w"
    convert_to_workdir(state_dicts, config, workdir, level=LOD)
    stamped = workdir_lib.open_run(workdir).meta["images_seen"]
    assert stamped == config.growth_schedule().level_end(LOD)

    metrics = evaluation.evaluate(workdir, ["recon_mse"], split="train", report=False, batch_size=64)
    assert metrics["level"] == LOD and metrics["resolution"] == "16x16"
    assert 0.0 < metrics["recon_mse"] < 2.0

    result = export_workdir(workdir, tmp_path / "export")
    assert result.level == LOD and tuple(result.image_shape) == (16, 16, 3)
    assert all(pathlib.Path(path, "saved_model.pb").exists() for path in result.saved_models.values())

    options = training.TrainOptions(workdir=str(workdir), train_images=stamped + 16, verbose=0)
    model = training.train(config, options)
    # Resumed where level 2 ended: the next batches start level 3 (32 px), fading in from 16 px.
    assert int(model.images_seen.numpy()) == stamped + 16
    assert model.level == LOD + 1 and 0.0 < float(model.blend.numpy()) < 1.0
