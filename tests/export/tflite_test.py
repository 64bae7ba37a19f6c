"""TFLite encoders (float, float16, dynamic, int8, int16x8) converted with builtins only and run in LiteRT."""

import json

import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from alae_tf import data
from alae_tf.export import ExportError, tflite
from alae_tf.probes import knn_predict
from tests.export.conftest import leftovers

# The 5-NN check runs on a fixed 10k train / 10k test subset: with 2k test images the
# tiny model's int8-vs-float difference moved by up to 2 points from one calibration
# size to another (sampling noise); on 10k it stays within half a point.
KNN_TRAIN, KNN_TEST = 10_000, 10_000
OPTIONS = dict(
    knn_train_images=KNN_TRAIN, knn_test_images=KNN_TEST, check_images=1000, latency_runs=50, representative_images=2000
)


@pytest.fixture(scope="module")
def lite(exported, tmp_path_factory):
    """`{mode: (path, report)}` for every quantize mode of the session's encoder."""
    folder = tmp_path_factory.mktemp("tflite")
    out = {}
    for mode in tflite.QUANTIZE_MODES:
        path = folder / f"encoder_{mode}.tflite"
        report = tflite.export_tflite(exported.dir("encoder"), path, tflite.TFLiteOptions(quantize=mode, **OPTIONS))
        out[mode] = (path, report)
    return out


@pytest.fixture(scope="module")
def fmnist():
    """Fashion-MNIST train and test sets as float images in [0, 1]."""
    sets = {split: data.load_images("fashion_mnist", split) for split in ("train", "test")}
    return {split: (data.to_pixel_range(s.images, (0.0, 1.0)).numpy(), s.labels) for split, s in sets.items()}


def run_litert(path, images):
    """w from a .tflite file through LiteRT's signature runner, 256 images at a time."""
    runner = Interpreter(model_path=str(path), num_threads=1).get_signature_runner("encode_float")
    return np.concatenate([runner(image=images[i : i + 256])["w"] for i in range(0, len(images), 256)])


def saved_model_w(exported, images, signature="encode_float"):
    loaded = tf.saved_model.load(str(exported.dir("encoder")))
    return loaded.signatures[signature](image=tf.constant(images))["w"].numpy()


def test_every_mode_runs_in_litert_with_builtins_only(exported, lite, fmnist):
    images = fmnist["test"][0][:200]
    want = saved_model_w(exported, images)
    scale = float(np.abs(want).max())
    for mode, (path, report) in lite.items():
        assert json.loads(path.with_suffix(".json").read_text()) == report
        assert report["mode"] == mode and report["size_bytes"] == path.stat().st_size
        assert not [op for op in report["ops"] if op.startswith("CUSTOM")], report["ops"]  # no Flex, no custom
        assert "FULLY_CONNECTED" in report["ops"]
        error = float(np.abs(run_litert(path, images) - want).max())
        assert error <= report["max_abs_error_w"] + 1e-7, mode  # these 200 are among the report's 1000
        assert report["latency_us_batch1"] > 0 and report["check_images"] == 1000
    assert lite["none"][1]["max_abs_error_w"] <= 1e-4 * max(1.0, scale)
    assert lite["float16"][1]["max_abs_error_w"] <= 1e-2 * max(1.0, scale)
    assert 0 < lite["int8"][1]["max_abs_error_w"] <= 0.1 * max(1.0, scale)
    sizes = {mode: report["size_bytes"] for mode, (_, report) in lite.items()}
    assert sizes["none"] > sizes["float16"] > sizes["dynamic"] and sizes["int8"] < sizes["float16"]
    assert {"QUANTIZE", "DEQUANTIZE"} <= set(lite["int8"][1]["ops"])  # int8 inside, float32 at the edges
    # 16-bit activations, 8-bit weights: quantized inside, float at the edges, builtins only.
    assert 0 < lite["int16x8"][1]["max_abs_error_w"] <= 0.1 * max(1.0, scale)
    assert {"QUANTIZE", "DEQUANTIZE"} <= set(lite["int16x8"][1]["ops"])


def test_uint8_images_divided_by_255_on_device_match_the_serving_signature(exported, lite):
    pixels = np.random.default_rng(1).integers(0, 256, [16, 28, 28, 1], dtype=np.uint8)
    on_device = run_litert(lite["none"][0], pixels.astype(np.float32) / 255.0)
    served = saved_model_w(exported, pixels, "serving_default")
    np.testing.assert_allclose(on_device, served, rtol=1e-5, atol=1e-5 * max(1.0, float(np.abs(served).max())))


def test_int8_knn5_accuracy_is_within_one_point_of_the_saved_model(exported, lite, fmnist):
    # Recomputed here from the written .tflite file, independently of the report.
    (train, train_labels), (test, test_labels) = fmnist["train"], fmnist["test"]
    train, train_labels, test, test_labels = (
        train[:KNN_TRAIN],
        train_labels[:KNN_TRAIN],
        test[:KNN_TEST],
        test_labels[:KNN_TEST],
    )
    path, report = lite["int8"]
    accuracy = {}
    for name, encode in (
        ("tflite", lambda x: run_litert(path, x)),
        ("saved_model", lambda x: saved_model_w(exported, x)),
    ):
        predicted = knn_predict(encode(train), train_labels, encode(test), k=5)
        accuracy[name] = float(np.mean(predicted == test_labels))
    assert accuracy["tflite"] == pytest.approx(report["knn5_accuracy_tflite"], abs=1e-9)
    assert accuracy["saved_model"] == pytest.approx(report["knn5_accuracy_saved_model"], abs=1e-9)
    assert report["knn_train_images"] == KNN_TRAIN and report["knn_test_images"] == KNN_TEST
    assert abs(accuracy["tflite"] - accuracy["saved_model"]) <= 0.01, accuracy
    assert accuracy["saved_model"] > 0.2  # far above chance (0.1): the check compares real encodings


def test_unknown_quantize_mode_is_refused(exported, tmp_path):
    with pytest.raises(
        ExportError,
        match=r"unknown quantize mode 'int4'; modes are \('none', 'float16', 'dynamic', "
        r"'int8', 'int16x8'\)",
    ):
        tflite.export_tflite(exported.dir("encoder"), tmp_path / "e.tflite", tflite.TFLiteOptions(quantize="int4"))
    assert not list(tmp_path.iterdir())


def test_empty_representative_data_is_refused_and_nothing_written(exported, tmp_path):
    (tmp_path / "empty").mkdir()
    options = tflite.TFLiteOptions(quantize="int8", representative_data=f"folder:{tmp_path / 'empty'}", **OPTIONS)
    with pytest.raises(data.DatasetError, match="no PNG/JPEG"):
        tflite.export_tflite(exported.dir("encoder"), tmp_path / "e.tflite", options)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"] and not leftovers(tmp_path)


def test_existing_output_and_wrong_folder_are_refused(exported, lite, tmp_path):
    path, _ = lite["none"]
    before = path.read_bytes()
    with pytest.raises(ExportError, match="already exists: pass --overwrite"):
        tflite.export_tflite(exported.dir("encoder"), path, tflite.TFLiteOptions(**OPTIONS))
    assert path.read_bytes() == before
    with pytest.raises(ExportError, match="not a SavedModel folder"):
        tflite.export_tflite(exported.out / "encoder", tmp_path / "e.tflite", tflite.TFLiteOptions(**OPTIONS))
    assert not list(tmp_path.iterdir())
