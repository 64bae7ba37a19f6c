"""What a full-size export depends on, on a tiny StyleALAE: each weight stored once, the fixed
noise stored once, and a lower level's encoder (the 256 px encoder of a 1024 px model).

The workdir is `style_export_test`'s (16 px config, trained to level 1 = 8 px, every weight moved).
"""

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter
from tensorflow.core.protobuf import saved_model_pb2

from alae_tf import data
from alae_tf import workdir as workdir_lib
from alae_tf.export import ExportError, litert_check, saved_model, signatures, tflite
from tests.conftest import FACES, REPO, needs_faces
from tests.export.style_export_test import LEVEL_1_DONE, TINY_STYLE, make_workdir

pytestmark = needs_faces


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return make_workdir(tmp_path_factory.mktemp("size_run"), LEVEL_1_DONE)


@pytest.fixture(scope="module")
def run(run_dir):
    return workdir_lib.open_run(run_dir)


def _stored_values(folder):
    reader = tf.train.load_checkpoint(str(folder / "variables" / "variables"))
    return sum(int(np.prod(shape)) for shape in reader.get_variable_to_shape_map().values())


def _constant_shapes(folder):
    """The shapes of every constant in the SavedModel's graphs."""
    model = saved_model_pb2.SavedModel()
    model.ParseFromString((folder / "saved_model.pb").read_bytes())
    graph = model.meta_graphs[0].graph_def
    nodes = [n for f in graph.library.function for n in f.node_def] + list(graph.node)
    return [tuple(d.size for d in n.attr["value"].tensor.tensor_shape.dim) for n in nodes if n.op == "Const"]


def test_every_weight_and_the_fixed_noise_are_stored_once(run, tmp_path):
    result = saved_model.export_saved_models(run.model, run.config, tmp_path, version=1)
    F, G, E, D = run.model.ema_nets
    level = run.model.level
    noise = sum(int(np.prod(s[1:])) for s in G.noise_shapes(level, 1))
    # At most the nets' weights (those of unused levels are left out) plus one copy of the noise maps;
    # Keras' ExportArchive.track stored each weight twice.
    limits = {
        "encoder": E.count_params(),
        "generator": G.count_params() + noise,
        "alae": F.count_params() + G.count_params() + E.count_params() + D.count_params() + noise,
        "editor": G.count_params() + E.count_params(),
    }
    for part, limit in limits.items():
        stored = _stored_values(result.saved_models[part])
        assert 0.5 * limit < stored <= limit, (part, stored, limit)
    # The noise maps live in the variables, not as constants in every signature's graph.
    # (Before, each signature's graph held them as constants: 4 copies in the generator, 8 in alae.)
    noise_shapes = {tuple(s) for s in G.noise_shapes(level, 1)}
    for part in ("generator", "alae"):
        assert not noise_shapes & set(_constant_shapes(result.saved_models[part])), part


def test_a_lower_level_exports_at_its_resolution_and_matches_the_nets(run, tmp_path):
    result = saved_model.export_saved_models(run.model, run.config, tmp_path, version=1, resolution=4)
    assert result.image_shape == (4, 4, 3) and result.level == 0
    metadata = json.loads((result.saved_models["encoder"] / "assets.extra" / "alae_export.json").read_text())
    assert (metadata["level"], metadata["blend"], metadata["resolution"]) == (0, 1.0, 4)
    images = np.random.default_rng(0).uniform(-1, 1, (3, 4, 4, 3)).astype(np.float32)
    loaded = tf.saved_model.load(str(result.saved_models["encoder"]))
    got = loaded.signatures["encode_float"](image=tf.constant(images))["w"].numpy()
    want = run.model.ema_encoder(tf.constant(images), level=0, blend=1.0).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * float(np.abs(want).max()))
    generator = tf.saved_model.load(str(result.saved_models["generator"]))
    assert generator.signatures["decode_float"](w=tf.constant(got))["image"].shape == (3, 4, 4, 3)


@pytest.mark.parametrize("resolution", [16, 6, 2])
def test_a_resolution_without_a_trained_level_is_refused_and_nothing_written(run, tmp_path, resolution):
    with pytest.raises(ExportError, match=r"no level .* resolutions are \[4, 8\]"):
        saved_model.export_saved_models(run.model, run.config, tmp_path / "out", version=1, resolution=resolution)
    assert not (tmp_path / "out").exists()


def test_the_level_it_trained_is_the_default_and_the_same_as_its_resolution(run):
    assert signatures.export_level(run.model) == signatures.export_level(run.model, 8) == (1, 1.0)


def test_tflite_from_a_workdir_at_a_lower_resolution(run_dir, run, tmp_path):
    output = tmp_path / "encoder4.tflite"
    options = tflite.TFLiteOptions(quantize="float16", eval_data=f"folder:{FACES}", check_images=16, latency_runs=2)
    report = tflite.export_tflite_from_workdir(run_dir, output, options, resolution=4)
    assert report["input"]["shape"] == [-1, 4, 4, 3] and report["exported_at"] == {"resolution": 4, "level": 0}
    assert report["check_images"] == 16 and report["knn5_skipped"] == "no labels"
    assert json.loads(output.with_suffix(".json").read_text())["exported_at"]["resolution"] == 4
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # the temp SavedModel is gone
    images = data.load_images(TINY_STYLE.dataset, "test", resolution=16, channels=3).images[:8]
    images = data.to_pixel_range(workdir_lib.pool_to_resolution(images, 4), TINY_STYLE.pixel_range).numpy()
    got = Interpreter(model_path=str(output)).get_signature_runner("encode_float")(image=images)["w"]
    want = run.model.ema_encoder(tf.constant(images), level=0, blend=1.0).numpy()
    assert float(np.abs(got - want).max()) <= 1e-2 * max(1.0, float(np.abs(want).max()))


def test_tflite_binary_takes_workdir_and_resolution_and_refuses_resolution_alone(run_dir, tmp_path):
    output = tmp_path / "e.tflite"
    common = [sys.executable, "export/tflite.py", f"--output={output}", "--quantize=dynamic"]
    bad = subprocess.run(
        [*common, f"--saved_model={tmp_path}", "--resolution=4"], cwd=REPO, capture_output=True, text=True
    )
    assert bad.returncode != 0 and "--resolution needs --workdir" in bad.stderr and not output.exists()
    both = subprocess.run(
        [*common, f"--saved_model={tmp_path}", f"--workdir={run_dir}"], cwd=REPO, capture_output=True, text=True
    )
    assert both.returncode != 0 and "exactly one of --saved_model and --workdir" in both.stderr
    ok = subprocess.run(
        [
            *common,
            f"--workdir={run_dir}",
            "--resolution=4",
            f"--eval_data=folder:{FACES}",
            "--check_images=8",
            "--latency_runs=2",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert json.loads(output.with_suffix(".json").read_text())["input"]["shape"] == [-1, 4, 4, 3]


def test_unlabelled_check_images_load_only_as_many_as_the_check_compares(run):
    # A folder has no labels, so no 5-NN: the 10k 5-NN test images are not made float (at 1024 px, 12.6 MB each).
    images, labels = litert_check.load_check_images(
        run.config, (8, 8, 3), f"folder:{FACES}", "test", None, 10_000, "check data", unlabelled_limit=5
    )
    assert images.shape == (5, 8, 8, 3) and images.dtype == np.float32 and labels is None
    everything, _ = litert_check.load_check_images(run.config, (8, 8, 3), f"folder:{FACES}", "test", None, 10_000, "x")
    assert len(everything) == 146
