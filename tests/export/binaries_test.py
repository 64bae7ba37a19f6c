"""The three export binaries, run the way a user runs them: `python export/<tool>.py ...`.

Each process spends most of its time importing TensorFlow, so the fast test runs the
happy path of every binary plus one refusal; the other refusals, whose messages the
library tests already check, run through the binaries in the slow test.
"""

import json

import pytest

from tests.export.conftest import digest, finish, leftovers, start_binary


def test_binaries_export_convert_and_check(workdir, tmp_path):
    out = tmp_path / "out"
    (ok, stdout, stderr), no_checkpoint = finish(
        [
            start_binary("saved_model.py", f"--workdir={workdir}", f"--output_dir={out}"),
            start_binary("saved_model.py", f"--workdir={tmp_path / 'none'}", f"--output_dir={tmp_path / 'x'}"),
        ]
    )
    assert ok == 0, stderr[-3000:]
    assert f"encoder: {out / 'encoder' / '1'}" in stdout and (out / "models.config").is_file()
    assert no_checkpoint[0] != 0 and "alae-export-saved-model: error:" in no_checkpoint[2]
    assert "train into it first" in no_checkpoint[2] and not (tmp_path / "x").exists()

    lite, onnx = finish(
        [
            start_binary(
                "tflite.py",
                f"--saved_model={out / 'encoder' / '1'}",
                "--quantize=dynamic",
                f"--output={tmp_path / 'encoder.tflite'}",
                "--knn_train_images=2000",
                "--knn_test_images=500",
                "--check_images=100",
                "--latency_runs=20",
            ),
            # Named onnx_model.py: an onnx.py in export/ would stand in for the real `onnx` package.
            start_binary(
                "onnx_model.py",
                f"--saved_model={out / 'generator' / '1'}",
                "--signature=serving_default",
                f"--output={tmp_path / 'generator.onnx'}",
            ),
        ]
    )
    assert lite[0] == 0, lite[2][-3000:]
    report = json.loads((tmp_path / "encoder.json").read_text())
    assert report["mode"] == "dynamic" and report["knn_test_images"] == 500 and (tmp_path / "encoder.tflite").is_file()
    assert json.loads(lite[1][lite[1].index("{") :]) == report
    assert onnx[0] == 0, onnx[2][-3000:]
    report = json.loads((tmp_path / "generator.json").read_text())
    assert report["outputs"]["image"]["dtype"] == "uint8" and report["outputs"]["image"]["max_abs_diff"] <= 1
    assert not leftovers(tmp_path)


@pytest.mark.slow
def test_binaries_refuse_bad_input_and_write_nothing(exported, workdir, tmp_path):
    (tmp_path / "empty").mkdir()
    before = digest(exported.out)
    encoder = str(exported.dir("encoder"))
    existing, bad_mode, empty_data, bad_signature = finish(
        [
            start_binary("saved_model.py", f"--workdir={workdir}", f"--output_dir={exported.out}", "--version=1"),
            start_binary(
                "tflite.py", f"--saved_model={encoder}", "--quantize=int4", f"--output={tmp_path / 'a.tflite'}"
            ),
            start_binary(
                "tflite.py",
                f"--saved_model={encoder}",
                "--quantize=int8",
                f"--output={tmp_path / 'b.tflite'}",
                f"--representative_data=folder:{tmp_path / 'empty'}",
            ),
            start_binary(
                "onnx_model.py", f"--saved_model={encoder}", "--signature=nope", f"--output={tmp_path / 'c.onnx'}"
            ),
        ]
    )
    assert existing[0] != 0 and "alae-export-saved-model: error:" in existing[2] and "already exist" in existing[2]
    assert digest(exported.out) == before
    assert bad_mode[0] != 0 and "--quantize=int4" in bad_mode[2] and "none|float16|dynamic|int8" in bad_mode[2]
    assert empty_data[0] != 0 and "alae-export-tflite: error:" in empty_data[2] and "no PNG/JPEG" in empty_data[2]
    assert bad_signature[0] != 0 and "alae-export-onnx: error:" in bad_signature[2]
    assert "no signature 'nope'" in bad_signature[2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]
