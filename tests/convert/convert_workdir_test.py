"""Official checkpoint dicts -> a workdir (the library behind `alae-convert`), without torch."""

import os
import subprocess
import sys

import numpy as np
import pytest

from alae_tf import builders, configs
from alae_tf import workdir as workdir_lib
from alae_tf.convert import ConversionError, export_official
from alae_tf.convert.pth_to_workdir import convert_to_workdir, import_state_dicts, parameter_map
from tests.conftest import FIXTURES, REPO

NETS = {"encoder": "discriminator", "decoder": "generator", "mapping_f": "mapping_fl", "mapping_d": "mapping_tl"}


def fixture_config(entry):
    """faces_tiny with the architecture of the fixture's official config."""
    model = entry["config"]["MODEL"]
    layers = model["LAYER_COUNT"]
    resolution = 4 * 2 ** (layers - 1)
    return configs.PRESETS["faces_tiny"].replace(
        name="fixture",
        latent_size=model["LATENT_SPACE_SIZE"],
        layer_count=layers,
        start_channels=model["START_CHANNEL_COUNT"],
        max_channels=model["MAX_CHANNEL_COUNT"],
        mapping_layers=model["MAPPING_LAYERS"],
        image_shape=(resolution, resolution, model["CHANNELS"]),
        images_per_level=16,
        batch_sizes=(8,),
        train_images=80,
    )


@pytest.fixture(scope="module")
def official(official_manifest):
    """A checkpoint's `models` dict as numpy: the fixture's parameters, EMA copies scaled by 0.5, plus buffers."""
    entry = official_manifest["fixtures"]["style_small.npz"]
    data = np.load(FIXTURES / "style_small.npz")
    state_dicts = {}
    for key in entry["params"]:
        net, name = key.split("/", 1)
        state_dicts.setdefault(NETS[net], {})[name] = data[key]
        state_dicts.setdefault(NETS[net] + "_s", {})[name] = data[key] * 0.5
    # Fixed blur kernels are buffers in the official state dicts: ignored, not an error.
    state_dicts["generator"]["decode_block.1.blur.weight"] = np.ones((32, 1, 3, 3), np.float32)
    latent = entry["config"]["MODEL"]["LATENT_SPACE_SIZE"]
    state_dicts["dlatent_avg"] = {"buff": np.tile(np.arange(latent, dtype=np.float32), (8, 1))}
    return entry, state_dicts


def exported(model, nets):
    """Our variables as official tensors, by official name."""
    return export_official(parameter_map(model, nets))


def test_convert_writes_a_workdir_with_trained_and_ema_nets_at_the_last_level(official, tmp_path):
    entry, state_dicts = official
    config = fixture_config(entry)
    convert_to_workdir(state_dicts, config, tmp_path)
    run = workdir_lib.open_run(tmp_path)
    restored_config, model, meta = run.config, run.model, run.meta
    assert restored_config == config
    assert model.level == config.layer_count - 1 and float(model.blend.numpy()) == 1.0
    assert meta["images_seen"] >= config.train_images
    trained, ema = exported(model, model.training_nets), exported(model, model.ema_nets)
    for p in parameter_map(model, model.training_nets):
        net, name = p.name.split("/", 1)
        want = np.asarray(state_dicts[NETS[net]][name])
        want = want if p.rows is None else want[p.rows]  # D keeps only the logit's row
        np.testing.assert_allclose(trained[p.name], want, rtol=1e-6, atol=1e-7, err_msg=p.name)
        np.testing.assert_allclose(ema[p.name], 0.5 * want, rtol=1e-6, atol=1e-7, err_msg=p.name)
    np.testing.assert_array_equal(model.dlatent_avg.numpy(), np.arange(config.latent_size))
    with pytest.raises(ConversionError, match="already holds checkpoints"):
        convert_to_workdir(state_dicts, config, tmp_path)


def test_missing_ema_copies_start_from_the_trained_nets_and_aliases_are_accepted(official):
    entry, state_dicts = official
    plain = {alias: state_dicts[name] for alias, name in NETS.items()}  # encoder/decoder/mapping_f/mapping_d
    model = builders.build_model(fixture_config(entry))
    assert import_state_dicts(model, plain) == {"trained": True, "ema": False}
    for net, ema in zip(model.training_nets, model.ema_nets):
        for a, b in zip(net.weights, ema.weights):
            np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_mlp_checkpoint_imports_into_the_mnist_mlp_preset(official_manifest):
    entry = official_manifest["fixtures"]["mlp_mnist.npz"]
    data = np.load(FIXTURES / "mlp_mnist.npz")
    nets = {"encoder": "discriminator", "decoder": "generator", "mapping_fl": "mapping_fl", "mapping_tl": "mapping_tl"}
    state_dicts = {}
    for key in entry["params"]:
        net, name = key.split("/", 1)
        state_dicts.setdefault(nets[net], {})[name] = data[key]
    state_dicts["discriminator"]["bn_2.running_mean"] = np.zeros(1024, np.float32)  # unused BatchNorm statistics
    model = builders.build_model(configs.PRESETS["mnist_mlp"])
    import_state_dicts(model, state_dicts)
    got = exported(model, model.ema_nets)
    for p in parameter_map(model, model.ema_nets):
        want = data[p.name] if p.rows is None else data[p.name][p.rows]
        np.testing.assert_allclose(got[p.name], want, rtol=1e-6, atol=1e-7, err_msg=p.name)


def test_wrong_architecture_or_missing_net_is_a_clear_error(official):
    entry, state_dicts = official
    model = builders.build_model(fixture_config(entry).replace(max_channels=16))
    with pytest.raises(ConversionError, match="shape"):
        import_state_dicts(model, state_dicts)
    incomplete = {k: v for k, v in state_dicts.items() if k != "mapping_tl"}
    with pytest.raises(ConversionError, match="mapping_tl"):
        import_state_dicts(builders.build_model(fixture_config(entry)), incomplete)


def test_binary_reads_the_training_flagfile_and_refuses_a_file_that_is_not_a_checkpoint(tmp_path):
    # No torch needed (alae_tf.convert.pth); a file that is not a torch zip is named and nothing is written.
    bad = tmp_path / "model.pth"
    bad.write_bytes(np.random.default_rng(0).bytes(4096))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "alae_tf.commands.convert",
            f"--official_checkpoint={bad}",
            "--flagfile=flags/ffhq.cfg",
            f"--workdir={tmp_path / 'w'}",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
    )
    assert result.returncode != 0
    assert "not a torch checkpoint" in result.stderr and str(bad) in result.stderr
    assert not (tmp_path / "w").exists()
