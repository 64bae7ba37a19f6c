"""StyleALAE export at the level it trained to: SavedModels (TF2 and the TF1 serve tag),
the TFLite encoder (float and int8, builtins only) and ONNX, against the Keras EMA nets.

The workdir is a faces_tiny-like model (16 px, 3 levels, about 7k weights) saved
as training saves it, with images_seen placing it at level 1: its signatures are 8 px,
half the preset's final resolution. Its nets are randomly initialised and every weight
is moved, so the noise strengths, biases and the learned constant are not at their
initial zeros and ones (the noise must matter). No training: it would add minutes and
check nothing the export depends on.
"""

import json
import pathlib

import keras
import numpy as np
import onnxruntime
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import saved_model_pb2

from alae_tf import atomic, builders, configs, data
from alae_tf import workdir as workdir_lib
from alae_tf.checkpoint import CheckpointManager
from alae_tf.export import onnx, saved_model, serving, signatures, style, tflite
from tests.conftest import FACES, needs_faces
from tests.export.conftest import EXPECTED_SIGNATURES, Export, assert_matches, assert_tf2_load_matches, signature_cases

# Level k lasts 32 images at batch 8; level 1 fades in over images 32-48.
TINY_STYLE = configs.PRESETS["faces_micro"].replace(
    name="faces_export_test", image_shape=(16, 16, 3), layer_count=3, dataset=f"folder:{FACES}"
)
LEVEL_1_DONE = 64  # the last batch (56-64) was level 1 at blend 1
LEVEL_1_MID_FADE_IN = 48  # the last batch (40-48) was level 1 at blend 0.5
LEVEL, RESOLUTION = 1, 8

pytestmark = needs_faces


def make_workdir(workdir, images_seen, seed=4):
    """A TINY_STYLE workdir whose newest checkpoint says `images_seen`, with every EMA weight moved."""
    model = builders.build_compiled_model(TINY_STYLE, seed=seed)
    rng = np.random.default_rng(seed)
    for net in model.ema_nets:
        for variable in net.weights:
            variable.assign(variable.numpy() + 0.3 * rng.standard_normal(variable.shape).astype(np.float32))
    model.images_seen.assign(images_seen)
    model.step.assign(images_seen // TINY_STYLE.batch_size)
    CheckpointManager(workdir, model, TINY_STYLE).save()
    atomic.write_text(pathlib.Path(workdir) / "config.json", TINY_STYLE.to_json())
    return workdir


@pytest.fixture(scope="module")
def style_workdir(tmp_path_factory):
    return make_workdir(tmp_path_factory.mktemp("style_run"), LEVEL_1_DONE)


@pytest.fixture(scope="module")
def style_exported(style_workdir, tmp_path_factory):
    out = tmp_path_factory.mktemp("style_serving")
    result = saved_model.export_workdir(style_workdir, out, version=1)
    run = workdir_lib.open_run(style_workdir)
    config, model, _ = run.config, run.model, run.meta
    assert (model.level, float(model.blend.numpy())) == (LEVEL, 1.0)
    return Export(out, result, config, model)


@pytest.fixture(scope="module")
def faces():
    """Faces as the level-1 nets are judged on them: float [N, 8, 8, 3] in [-1, 1], pooled from 16 px to
    uint8 (`workdir.pool_to_resolution`, what evaluation and the TFLite check read)."""
    images = data.load_images(TINY_STYLE.dataset, "test", resolution=16, channels=3).images
    return data.to_pixel_range(workdir_lib.pool_to_resolution(images, RESOLUTION), TINY_STYLE.pixel_range).numpy()


# ------------------------------------------------------------------ references
def expected_noise(model, batch, seeds=None):
    """The noise the export documents: map k standard normal keyed by (seed, k), NOISE_SEED by default."""
    shapes = [shape[1:] for shape in model.ema_generator.noise_shapes(model.level, 1)]
    if seeds is None:
        return [
            tf.repeat(tf.random.stateless_normal([1, *shape], seed=[signatures.NOISE_SEED, k]), batch, axis=0)
            for k, shape in enumerate(shapes)
        ]
    return [
        tf.stack([tf.random.stateless_normal(shape, seed=[int(s), k]) for s in seeds]) for k, shape in enumerate(shapes)
    ]


def style_reference(model, config, part, signature, inputs):
    """What a StyleALAE export's `signature` must return: the Keras EMA nets at the model's level and blend."""
    F, G, E, D = model.ema_nets
    to_uint8 = lambda x: data.from_pixel_range(x, config.pixel_range).numpy()  # noqa: E731

    def decode(w, seeds=None):
        styles = tf.repeat(w[:, None], G.num_styles, axis=1)
        return G(styles, level=model.level, blend=model.blend, noise=expected_noise(model, len(w), seeds))

    def encode(images):
        return model.run_encoder(E, tf.constant(images)).numpy()

    def encode_uint8(images):
        return encode(data.to_pixel_range(images, config.pixel_range))

    table = {
        ("mapping", "serving_default"): lambda: {"w": F(inputs["z"]).numpy()},
        ("generator", "serving_default"): lambda: {"image": to_uint8(decode(inputs["w"]))},
        ("generator", "decode_float"): lambda: {"image": decode(inputs["w"]).numpy()},
        ("generator", "decode_with_seed"): lambda: {"image": to_uint8(decode(inputs["w"], inputs["seed"]))},
        ("encoder", "serving_default"): lambda: {"w": encode_uint8(inputs["image"])},
        ("encoder", "encode_float"): lambda: {"w": encode(inputs["image"])},
        ("discriminator", "serving_default"): lambda: {"logit": D(inputs["w"]).numpy()},
        ("alae", "generate"): lambda: {"image": to_uint8(decode(F(inputs["z"])))},
        ("alae", "encode"): lambda: {"w": encode_uint8(inputs["image"])},
        ("alae", "decode"): lambda: {"image": to_uint8(decode(inputs["w"]))},
        ("alae", "reconstruct"): lambda: {"image": to_uint8(decode(encode_uint8(inputs["image"])))},
        ("alae", "serving_default"): lambda: {"image": to_uint8(decode(encode_uint8(inputs["image"])))},
    }
    return table[(part, signature)]()


# ----------------------------------------------------------------- SavedModels
def test_signatures_are_at_the_trained_level_and_the_metadata_says_so(style_exported):
    assert style_exported.result.image_shape == (RESOLUTION, RESOLUTION, 3) and style_exported.result.level == LEVEL
    for part in signatures.PARTS:
        meta = json.loads((style_exported.dir(part) / "assets.extra" / "alae_export.json").read_text())
        assert meta["level"] == LEVEL and meta["resolution"] == RESOLUTION and meta["blend"] == 1.0
        assert meta["image_shape"] == [RESOLUTION, RESOLUTION, 3] and meta["config"]["image_shape"] == [16, 16, 3]
        assert meta["precision"] == "float32" and meta["signatures"] == EXPECTED_SIGNATURES[part]
    # The SignatureDefs as the model server (and `saved_model_cli show`) reads them.
    image = [-1, RESOLUTION, RESOLUTION, 3]
    alae = serving.read_signature_defs(style_exported.dir("alae"))
    assert sorted(alae) == EXPECTED_SIGNATURES["alae"]
    for name, key, signature_def in (
        ("generate", "image", alae["generate"].outputs),
        ("encode", "image", alae["encode"].inputs),
        ("reconstruct", "image", alae["reconstruct"].outputs),
    ):
        info = signature_def[key]
        assert info.dtype == tf.uint8.as_datatype_enum and [d.size for d in info.tensor_shape.dim] == image, name
    decode = serving.read_signature_defs(style_exported.dir("generator"))["decode_with_seed"]
    assert sorted(decode.inputs) == ["seed", "w"] and [d.size for d in decode.inputs["w"].tensor_shape.dim] == [-1, 8]


def test_tf2_load_matches_the_keras_ema_nets_at_the_trained_level(style_exported):
    assert_tf2_load_matches(
        style_exported, lambda *case: style_reference(style_exported.model, style_exported.config, *case)
    )


def test_tf1_session_on_the_serve_tag_like_tf_serving(style_exported):
    # The model server loads the `serve` MetaGraph into a session and runs the
    # SignatureDefs' tensor names: the same here, one load per part.
    cases = list(signature_cases(style_exported, batch=2))
    results = []
    for part in signatures.PARTS:
        with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
            meta_graph = tf.compat.v1.saved_model.loader.load(sess, ["serve"], str(style_exported.dir(part)))
            for _, name, inputs in (case for case in cases if case[0] == part):
                signature = meta_graph.signature_def[name]
                fetches = {k: v.name for k, v in signature.outputs.items()}
                results.append(
                    (part, name, inputs, sess.run(fetches, {signature.inputs[k].name: v for k, v in inputs.items()}))
                )
    for part, name, inputs, got in results:  # the Keras nets run eagerly, outside the sessions' graphs
        assert_matches(
            got, style_reference(style_exported.model, style_exported.config, part, name, inputs), f"{part}/{name}"
        )


def test_generator_noise_is_fixed_by_default_per_image_with_seeds_and_matters(style_exported):
    loaded = tf.saved_model.load(str(style_exported.dir("generator")))
    w = tf.tile(tf.random.stateless_normal([1, TINY_STYLE.latent_size], seed=[3, 4]), [3, 1])
    default = loaded.signatures["serving_default"](w=w)["image"].numpy()
    np.testing.assert_array_equal(default[0], default[2])  # same w, same image, wherever it sits in a batch
    seeded = loaded.signatures["decode_with_seed"]
    np.testing.assert_array_equal(
        default, seeded(w=w, seed=tf.constant([signatures.NOISE_SEED] * 3, tf.int64))["image"].numpy()
    )
    fresh = seeded(w=w, seed=tf.constant([1, 2, 1], tf.int64))["image"].numpy()
    np.testing.assert_array_equal(fresh[0], fresh[2])
    assert np.mean(fresh[0] != fresh[1]) > 0.5  # other noise, other image: the noise strengths are not zero
    # The fixed noise is a constant of the graph: no random op outside decode_with_seed.
    random_ops = {op.type for op in loaded.signatures["decode_float"].graph.get_operations() if "Random" in op.type}
    assert not random_ops, random_ops


def test_a_run_stopped_in_a_fade_in_exports_its_blend(tmp_path):
    run = workdir_lib.open_run(make_workdir(tmp_path / "run", LEVEL_1_MID_FADE_IN))
    config, model, _ = run.config, run.model, run.meta
    blend = float(model.blend.numpy())
    assert model.level == LEVEL and 0.4 < blend < 0.6
    result = saved_model.export_saved_models(model, config, tmp_path / "out", parts=("generator", "encoder"))
    meta = json.loads((result.saved_models["encoder"] / "assets.extra" / "alae_export.json").read_text())
    assert meta["blend"] == blend and meta["level"] == LEVEL
    export = Export(tmp_path / "out", result, config, model)
    decode = tf.saved_model.load(str(export.dir("generator")))
    encode = tf.saved_model.load(str(export.dir("encoder")))
    rng = np.random.default_rng(5)
    w = rng.standard_normal([4, TINY_STYLE.latent_size]).astype(np.float32)
    images = rng.uniform(-1, 1, [4, RESOLUTION, RESOLUTION, 3]).astype(np.float32)
    for part, loaded, name, inputs in (
        ("generator", decode, "decode_float", {"w": w}),
        ("encoder", encode, "encode_float", {"image": images}),
    ):
        got = {k: v.numpy() for k, v in loaded.signatures[name](**inputs).items()}
        assert_matches(got, style_reference(model, config, part, name, inputs), f"{part}/{name}")
    # The fade-in really is in the graph: at blend 1 the nets give something else.
    model.blend.assign(1.0)
    assert (
        np.abs(style_reference(model, config, "encoder", "encode_float", {"image": images})["w"] - got["w"]).max()
        > 1e-3
    )


def bfloat16_ops(saved_model_dir):
    """Ops of the SavedModel's graphs and functions that have a bfloat16 type attribute."""
    proto = saved_model_pb2.SavedModel.FromString((pathlib.Path(saved_model_dir) / "saved_model.pb").read_bytes())
    found = set()
    for meta_graph in proto.meta_graphs:
        graph = meta_graph.graph_def
        for node in [*graph.node, *(n for function in graph.library.function for n in function.node_def)]:
            if any(a.type == types_pb2.DT_BFLOAT16 or types_pb2.DT_BFLOAT16 in a.list.type for a in node.attr.values()):
                found.add(node.op)
    return sorted(found)


def test_a_bfloat16_model_exports_float32_graphs(style_exported, tmp_path):
    keras.mixed_precision.set_global_policy("mixed_bfloat16")  # as a process that trains would have it
    try:
        model = builders.build_model(TINY_STYLE, seed=4)
        for target, source in zip(model.weights, style_exported.model.weights):
            target.assign(source)
        model.set_level(LEVEL)
        assert model.ema_encoder.compute_dtype == "bfloat16"
        result = saved_model.export_saved_models(model, TINY_STYLE, tmp_path, parts=("generator", "encoder"))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    rng = np.random.default_rng(6)
    cases = (
        ("generator", "decode_float", {"w": rng.standard_normal([3, TINY_STYLE.latent_size]).astype(np.float32)}),
        ("encoder", "encode_float", {"image": rng.uniform(-1, 1, [3, RESOLUTION, RESOLUTION, 3]).astype(np.float32)}),
    )
    for part, name, inputs in cases:
        assert not bfloat16_ops(result.saved_models[part]), part
        loaded = tf.saved_model.load(str(result.saved_models[part]))
        got = {k: v.numpy() for k, v in loaded.signatures[name](**inputs).items()}
        # The same weights in float32: the float32 model's numbers.
        assert_matches(got, style_reference(style_exported.model, style_exported.config, part, name, inputs), part)


def test_wrappers_refuse_a_level_or_blend_the_nets_would_refuse(style_exported):
    _, G, E, _ = style_exported.model.ema_nets
    with pytest.raises(ValueError, match=r"level must be in \[0, 2\], got 3"):
        style.StyleGeneratorAtLevel(G, 3)
    with pytest.raises(ValueError, match="blend < 1 needs level > 0"):
        style.StyleEncoderAtLevel(E, 0, blend=0.5)
    at_level = style.StyleGeneratorAtLevel(G, 2)
    assert at_level.export_noise_shapes == ((4, 4, 1),) * 2 + ((8, 8, 1),) * 2 + ((16, 16, 1),) * 2
    assert at_level.image_shape == (16, 16, 3) and style.StyleEncoderAtLevel(E, 0).image_shape == (4, 4, 3)


# ---------------------------------------------------------------------- TFLite
@pytest.fixture(scope="module")
def lite(style_exported, tmp_path_factory):
    """`{mode: (path, report)}` for the float and int8 encoders, calibrated on the model's own faces."""
    folder = tmp_path_factory.mktemp("style_tflite")
    options = dict(check_images=200, latency_runs=5)  # all 146 faces
    return {
        mode: (
            folder / f"encoder_{mode}.tflite",
            tflite.export_tflite(
                style_exported.dir("encoder"),
                folder / f"encoder_{mode}.tflite",
                tflite.TFLiteOptions(quantize=mode, **options),
            ),
        )
        for mode in ("none", "int8")
    }


def test_tflite_encoder_float_and_int8_run_in_litert_with_builtins_only(style_exported, lite, faces):
    loaded = tf.saved_model.load(str(style_exported.dir("encoder")))
    want = loaded.signatures["encode_float"](image=tf.constant(faces))["w"].numpy()
    keras_w = style_reference(style_exported.model, style_exported.config, "encoder", "encode_float", {"image": faces})[
        "w"
    ]
    np.testing.assert_allclose(want, keras_w, rtol=1e-5, atol=1e-5 * float(np.abs(keras_w).max()))
    spread = float(want.max() - want.min())
    errors = {}
    for mode, (path, report) in lite.items():
        assert report["input"]["shape"] == [-1, RESOLUTION, RESOLUTION, 3] and report["knn5_skipped"] == "no labels"
        assert report["check_images"] == len(faces) == 146 and report["size_bytes"] == path.stat().st_size
        assert not [op for op in report["ops"] if op.startswith("CUSTOM") or "VAR" in op], report["ops"]
        # Conv + 2x2 pooling lowers as one stride-2 CONV_2D (layers/convolution.py).
        assert {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"} <= set(report["ops"]), report["ops"]
        runner = Interpreter(model_path=str(path), num_threads=1).get_signature_runner("encode_float")
        got = runner(image=faces)["w"]
        errors[mode] = float(np.abs(got - want).max())
        assert errors[mode] == pytest.approx(report["max_abs_error_w"], rel=1e-3, abs=1e-6), mode
    assert lite["int8"][1]["representative_images"] == 146  # the faces, pooled to 8 px
    assert {"QUANTIZE", "DEQUANTIZE"} <= set(lite["int8"][1]["ops"])
    assert lite["int8"][1]["size_bytes"] < lite["none"][1]["size_bytes"]
    assert errors["none"] <= 1e-4 * max(1.0, float(np.abs(want).max())), errors
    # int8 changes the numbers, but stays a small fraction of the range w spans over these faces.
    assert 0 < errors["int8"] <= 0.1 * spread, (errors, spread)


# ------------------------------------------------------------------------ ONNX
def test_onnx_encoder_and_generator_match_the_keras_nets_in_onnxruntime(style_exported, tmp_path):
    rng = np.random.default_rng(3)
    cases = (
        ("encoder", "encode_float", {"image": rng.uniform(-1, 1, [6, RESOLUTION, RESOLUTION, 3]).astype(np.float32)}),
        ("generator", "decode_float", {"w": rng.standard_normal([6, TINY_STYLE.latent_size]).astype(np.float32)}),
    )
    for part, signature, inputs in cases:
        path = tmp_path / f"{part}.onnx"
        report = onnx.export_onnx(style_exported.dir(part), signature, path)
        for key, entry in report["outputs"].items():  # its own check against the SavedModel, batches 1 and 8
            assert entry["max_abs_diff"] <= 1e-4 * max(1.0, entry["max_abs"]), (part, key, entry)
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        assert [i.name for i in session.get_inputs()] == list(inputs)
        names = [o.name for o in session.get_outputs()]
        got = dict(zip(names, session.run(names, inputs)))
        want = style_reference(style_exported.model, style_exported.config, part, signature, inputs)
        for key in want:
            scale = max(1.0, float(np.abs(want[key]).max()))
            assert np.abs(got[key] - want[key]).max() <= 1e-4 * scale, f"{part}/{signature}/{key}"
