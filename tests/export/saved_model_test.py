"""SavedModels for TF Serving: layout, signatures, loading as the server does, atomic writes, bf16."""

import json
import subprocess

import keras
import numpy as np
import pytest
import tensorflow as tf

from alae_tf import workdir as workdir_lib
from alae_tf.checkpoint import CheckpointError
from alae_tf.export import ExportError, saved_model, serving, signatures
from tests.conftest import REPO
from tests.export.conftest import (
    EXPECTED_SIGNATURES,
    TINY,
    assert_matches,
    assert_tf2_load_matches,
    digest,
    leftovers,
    reference,
    signature_cases,
    train_tiny,
)


def test_layout_models_config_and_metadata(exported):
    assert saved_model.PARTS == (*signatures.PARTS, "editor")
    for part in saved_model.PARTS:
        folder = exported.out / part / "1"
        assert (folder / "saved_model.pb").is_file() and (folder / "variables").is_dir()
        assert (folder / serving.WARMUP_PATH).is_file()
        meta = json.loads((folder / "assets.extra" / "alae_export.json").read_text())
        assert meta["part"] == part and meta["version"] == 1 and meta["precision"] == "float32"
        assert meta["config"]["name"] == TINY.name and meta["source"]["images_seen"] == 64
        assert meta["signatures"] == EXPECTED_SIGNATURES[part]
    config = serving.read_models_config(exported.out / "models.config")
    entries = {c.name: c for c in config.model_config_list.config}
    assert sorted(entries) == sorted(saved_model.PARTS)
    for part, entry in entries.items():
        assert entry.base_path == str(exported.out / part) and entry.model_platform == "tensorflow"
    assert not leftovers(exported.out)


def test_saved_model_cli_lists_the_signatures(exported):
    cli = str(REPO / ".venv" / "bin" / "saved_model_cli")
    runs = {
        part: subprocess.Popen(
            [cli, "show", "--dir", str(exported.dir(part)), "--all"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for part in saved_model.PARTS
    }
    shown = {part: p.communicate(timeout=120)[0] for part, p in runs.items()}
    for part, names in EXPECTED_SIGNATURES.items():
        for name in names:
            assert f"signature_def['{name}']" in shown[part], part
    encoder = shown["encoder"].split("signature_def['serving_default']")[1]
    assert "inputs['image']" in encoder and "DT_UINT8" in encoder and "(-1, 28, 28, 1)" in encoder
    assert "outputs['w']" in encoder and "(-1, 8)" in encoder
    generator = shown["generator"].split("signature_def['decode_with_seed']")[1].split("signature_def[")[0]
    assert "inputs['seed']" in generator and "DT_INT64" in generator and "inputs['w']" in generator
    assert "outputs['logit']" in shown["discriminator"] and "outputs['w']" in shown["mapping"]
    edit = shown["editor"].split("signature_def['edit_by_index']")[1].split("signature_def[")[0]
    assert "inputs['index']" in edit and "DT_INT32" in edit and "inputs['strength']" in edit


def test_tf2_load_matches_the_keras_ema_nets(exported):
    assert_tf2_load_matches(exported, lambda *case: reference(exported.model, exported.config, *case))


def test_tf1_session_on_the_serve_tag_like_tf_serving(exported):
    # The model server loads the `serve` MetaGraph into a session and runs the
    # SignatureDef's tensor names: the same here, at batch 1.
    for part, name, inputs in signature_cases(exported, batch=1):
        with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
            meta_graph = tf.compat.v1.saved_model.loader.load(sess, ["serve"], str(exported.dir(part)))
            signature = meta_graph.signature_def[name]
            fetches = {k: v.name for k, v in signature.outputs.items()}
            got = sess.run(fetches, {signature.inputs[k].name: v for k, v in inputs.items()})
        assert_matches(got, reference(exported.model, exported.config, part, name, inputs), f"{part}/{name}")


def test_signatures_reject_wrong_dtype_and_shape(exported):
    loaded = tf.saved_model.load(str(exported.dir("encoder")))
    serve = loaded.signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError, match="expected to be a uint8 tensor but is a float"):
        serve(image=tf.zeros([1, 28, 28, 1], tf.float32))
    # Same number of values, wrong shape: would be reshaped silently without EnsureShape.
    with pytest.raises(
        tf.errors.InvalidArgumentError,
        match=r"\[1,28,28\] is not compatible with expected shape "
        r"\[\?,28,28,1\]",
    ):
        serve(image=tf.zeros([1, 28, 28], tf.uint8))
    with pytest.raises(TypeError, match="missing a required argument: 'image'"):
        serve(images=tf.zeros([1, 28, 28, 1], tf.uint8))
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        signature = tf.compat.v1.saved_model.loader.load(sess, ["serve"], str(exported.dir("encoder"))).signature_def
        image = signature["serving_default"].inputs["image"].name
        with pytest.raises(ValueError, match=r"Cannot feed value of shape \(2, 28, 28\) .* \(None, 28, 28, 1\)"):
            sess.run(signature["serving_default"].outputs["w"].name, {image: np.zeros([2, 28, 28], np.uint8)})


def test_generator_default_is_deterministic_and_mlp_ignores_the_seed(exported):
    loaded = tf.saved_model.load(str(exported.dir("generator")))
    w = tf.random.stateless_normal([4, TINY.latent_size], seed=[1, 2])
    first = loaded.signatures["serving_default"](w=w)["image"].numpy()
    np.testing.assert_array_equal(first, loaded.signatures["serving_default"](w=w)["image"].numpy())
    # Alone or in a batch: the same image (up to one grey level where another batch size rounds differently).
    alone = loaded.signatures["serving_default"](w=w[2:3])["image"].numpy()
    assert np.abs(first[2:3].astype(int) - alone.astype(int)).max() <= 1
    seeded = loaded.signatures["decode_with_seed"](w=w, seed=tf.constant([5, 6, 7, 8], tf.int64))["image"]
    np.testing.assert_array_equal(first, seeded.numpy())


class NoisyGenerator(keras.Model):
    """A stand-in for a StyleALAE generator: one per-pixel noise input, added to a dense output."""

    export_noise_shapes = ((28, 28, 1),)

    def __init__(self, latent_size, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(28 * 28)
        self.dense.build((None, latent_size))
        self.built = True

    def call(self, w, noise=None, training=False):
        return keras.ops.reshape(self.dense(w), (-1, 28, 28, 1)) + 0.1 * noise[0]


def test_noise_contract_for_generators_that_take_noise(exported, tmp_path):
    F, _, E, D = exported.model.ema_nets
    nets = signatures.Nets(F, NoisyGenerator(TINY.latent_size), E, D)
    signatures.build_archive("generator", nets, (0.0, 1.0)).write_out(str(tmp_path), verbose=False)
    loaded = tf.saved_model.load(str(tmp_path))
    decode = loaded.signatures["decode_float"]
    with_seed = loaded.signatures["decode_with_seed"]
    w = tf.tile(tf.random.stateless_normal([1, TINY.latent_size], seed=[3, 4]), [3, 1])
    fixed = decode(w=w)["image"].numpy()
    np.testing.assert_array_equal(fixed[0], fixed[2])  # same w, same image, wherever it sits in the batch
    # Another batch size may round the matmul differently, but the noise is the same.
    np.testing.assert_allclose(fixed[:1], decode(w=w[:1])["image"].numpy(), atol=1e-6)
    seeded = loaded.signatures["serving_default"](w=w)["image"].numpy()
    np.testing.assert_array_equal(
        seeded, with_seed(w=w, seed=tf.constant([signatures.NOISE_SEED] * 3, tf.int64))["image"].numpy()
    )
    fresh = with_seed(w=w, seed=tf.constant([1, 2, 1], tf.int64))["image"].numpy()
    np.testing.assert_array_equal(fresh[0], fresh[2])
    assert np.mean(fresh[0] != fresh[1]) > 0.5  # another seed, other noise
    with pytest.raises(tf.errors.InvalidArgumentError, match="one seed per row of w"):
        with_seed(w=w, seed=tf.constant([1, 2], tf.int64))


# ------------------------------------------------------------- versions and failures
def test_existing_version_is_refused_unless_overwrite(exported, workdir, tmp_path):
    before = digest(exported.out)
    with pytest.raises(ExportError, match=r"encoder/1.* already exist.*--overwrite"):
        saved_model.export_workdir(workdir, exported.out, version=1)
    assert digest(exported.out) == before
    out = tmp_path / "out"
    saved_model.export_workdir(workdir, out)
    assert saved_model.export_workdir(workdir, out).version == 2  # next free version by default
    result = saved_model.export_workdir(workdir, out, version=1, overwrite=True)
    assert result.version == 1 and (out / "encoder" / "1" / "saved_model.pb").is_file()
    assert sorted(p.name for p in (out / "encoder").iterdir()) == ["1", "2"] and not leftovers(out)


def test_a_failure_midway_leaves_nothing_behind(exported, workdir, tmp_path, monkeypatch):
    real = serving.write_warmup

    def fail_on_encoder(folder, part, *args):
        if part == "encoder":
            raise RuntimeError("disk full")
        real(folder, part, *args)

    monkeypatch.setattr(serving, "write_warmup", fail_on_encoder)
    out = tmp_path / "new" / "out"
    with pytest.raises(RuntimeError, match="disk full"):
        saved_model.export_workdir(workdir, out)
    assert not (tmp_path / "new").exists()
    # Over an existing version with overwrite: the old version stays whole.
    before = digest(exported.out)
    with pytest.raises(RuntimeError, match="disk full"):
        saved_model.export_workdir(workdir, exported.out, version=1, overwrite=True)
    assert digest(exported.out) == before and not leftovers(exported.out)


def test_workdir_without_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="train into it first"):
        saved_model.export_workdir(tmp_path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_bad_version_and_parts(exported, tmp_path):
    with pytest.raises(ExportError, match="version must be an int >= 1"):
        saved_model.export_saved_models(exported.model, exported.config, tmp_path / "out", version=0)
    with pytest.raises(ExportError, match="unknown parts"):
        saved_model.export_saved_models(exported.model, exported.config, tmp_path / "out", parts=("decoder",))
    assert not (tmp_path / "out").exists()


def test_mixed_bfloat16_model_exports_float32_signatures(tmp_path):
    model = train_tiny(tmp_path / "run", images=32, precision="mixed_bfloat16")
    x = tf.zeros([1, *TINY.image_shape])
    # The trained nets really compute in bf16 (only their outputs are widened to float32).
    assert model.ema_encoder.dense_layers[0](tf.reshape(x, [1, -1])).dtype == tf.bfloat16
    keras.mixed_precision.set_global_policy("mixed_bfloat16")  # as a process that trains would have it
    try:
        result = saved_model.export_saved_models(model, TINY, tmp_path / "out")
    finally:
        keras.mixed_precision.set_global_policy("float32")
    for part, folder in result.saved_models.items():
        for name, signature in serving.read_signature_defs(folder).items():
            for key, info in {**signature.inputs, **signature.outputs}.items():
                assert info.dtype in (
                    tf.float32.as_datatype_enum,
                    tf.uint8.as_datatype_enum,
                    tf.int64.as_datatype_enum,
                    tf.int32.as_datatype_enum,  # the editor's index
                    tf.string.as_datatype_enum,  # the editor's direction names
                ), f"{part}/{name}/{key}"
    run = workdir_lib.open_run(tmp_path / "run")
    _, restored, _ = run.config, run.model, run.meta  # float32 nets, same weights
    loaded = tf.saved_model.load(str(result.saved_models["encoder"]))
    images = np.random.default_rng(0).integers(0, 256, [6, *TINY.image_shape], dtype=np.uint8)
    got = {"w": loaded.signatures["serving_default"](image=tf.constant(images))["w"].numpy()}
    assert_matches(got, reference(restored, TINY, "encoder", "serving_default", {"image": images}), "bf16 encoder")
