"""ONNX through tf2onnx with the signature named explicitly, checked in onnxruntime."""

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import numpy_helper

from alae_tf.export import ExportError
from alae_tf.export import onnx as onnx_export
from tests.export.conftest import reference

CASES = (("encoder", "serving_default"), ("generator", "decode_float"))


@pytest.fixture(scope="module")
def converted(exported, tmp_path_factory):
    """`{(part, signature): (path, report)}`."""
    folder = tmp_path_factory.mktemp("onnx")
    out = {}
    for part, signature in CASES:
        path = folder / f"{part}_{signature}.onnx"
        out[(part, signature)] = (path, onnx_export.export_onnx(exported.dir(part), signature, path))
    return out


def test_encoder_and_generator_match_the_keras_nets_in_onnxruntime(exported, converted):
    rng = np.random.default_rng(3)
    inputs = {
        "encoder": {"image": rng.integers(0, 256, [9, 28, 28, 1], dtype=np.uint8)},
        "generator": {"w": rng.standard_normal([9, exported.config.latent_size]).astype(np.float32)},
    }
    for (part, signature), (path, report) in converted.items():
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        assert [i.name for i in session.get_inputs()] == list(inputs[part])  # the signature's names
        names = [o.name for o in session.get_outputs()]
        got = dict(zip(names, session.run(names, inputs[part])))
        want = reference(exported.model, exported.config, part, signature, inputs[part])
        for key in want:
            scale = max(1.0, float(np.abs(want[key]).max()))
            assert np.abs(got[key] - want[key]).max() <= 1e-4 * scale, f"{part}/{signature}/{key}"
        # The report's own check against the SavedModel, at batches 1 and 8.
        for key, entry in report["outputs"].items():
            assert entry["max_abs_diff"] <= 1e-4 * max(1.0, entry["max_abs"]), (part, key, entry)
        assert report["signature"] == signature and report["size_bytes"] == path.stat().st_size


def test_unknown_signature_is_refused_and_nothing_written(exported, tmp_path):
    with pytest.raises(
        ExportError,
        match=r"has no signature 'decode'; it has \['decode_float', 'decode_with_seed', "
        r"'serving_default'\]",
    ):
        onnx_export.export_onnx(exported.dir("generator"), "decode", tmp_path / "g.onnx")
    assert not list(tmp_path.iterdir())


def test_check_catches_a_model_that_does_not_match(exported, converted):
    # The encoder's ONNX graph with its weights nudged by 1 %: the check must refuse it.
    path, _ = converted[("encoder", "serving_default")]
    with pytest.raises(ExportError, match="differs from the SavedModel"):
        onnx_export.check_onnx(_scaled(path.read_bytes()), exported.dir("encoder"), "serving_default")


def _scaled(model_content):
    """The ONNX model with every float weight matrix scaled by 1.01: close, but not the same net."""
    model = onnx.load_from_string(model_content)
    for init in model.graph.initializer:
        array = numpy_helper.to_array(init)
        if array.dtype == np.float32 and array.ndim == 2:
            init.CopyFrom(numpy_helper.from_array(array * 1.01, init.name))
    return model.SerializeToString()
