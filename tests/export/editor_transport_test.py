"""The editor's `transport` signature: a class transport saved in the workdir, baked, served and refused like
the other signatures. The session's tiny trained run (Fashion-MNIST, 10 classes, an 8-d w), no more training."""

import shutil

import numpy as np
import pytest
import tensorflow as tf

from alae_tf import data, editing
from alae_tf import workdir as workdir_lib
from alae_tf.editing import transport_edits
from alae_tf.export import ExportError, artifacts, editor, editor_transport, saved_model, serving
from tests.export.conftest import EXPECTED_SIGNATURES, TINY, Export
from tests.export.editor_test import assert_editor_matches, run_signature, uint8_images

SIGNATURES = sorted([*EXPECTED_SIGNATURES["editor"], "transport"])


@pytest.fixture(scope="module")
def transport_editor(workdir, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("transport_run") / "run"
    shutil.copytree(workdir, run_dir)
    run = workdir_lib.open_run(run_dir)
    transport = transport_edits.fit_class_transport(run, max_images=600)
    transport_edits.save_run_transport(run, transport)
    out = tmp_path_factory.mktemp("transport_serving")
    result = saved_model.export_workdir(run_dir, out, version=1, parts=(editor.PART,))
    return Export(out, result, run.config, run.model), transport


def reference(export, transport, inputs):
    """The editing library's answer: classify E(x), transport it, decode, to uint8."""
    model, pixel_range = export.model, export.config.pixel_range
    w = model.encode(tf.constant(data.to_pixel_range(inputs["image"], pixel_range))).numpy()
    source = transport.classify(w)
    moved = transport.apply(w, source, inputs["target"], inputs["strength"]).astype(np.float32)
    image = data.from_pixel_range(model.decode(tf.constant(moved)), pixel_range).numpy()
    return {"image": image, "source": source.astype(np.int32)}


def test_transport_matches_the_editing_library(transport_editor):
    export, transport = transport_editor
    folder = export.dir(editor.PART)
    loaded = tf.saved_model.load(str(folder))
    images = uint8_images(TINY, 6, seed=21)
    inputs = {
        "image": images,
        "target": np.array([0, 9, 3, 3, 5, 1], np.int32),
        "strength": np.array([1.0, 0.5, 1.25, 0.0, 1.0, 2.0], np.float32),
    }
    got = run_signature(loaded, "transport", **inputs)
    assert_editor_matches(got, reference(export, transport, inputs), "transport")
    # Strength 0 is the reconstruction.
    reconstruction = run_signature(
        loaded,
        "edit",
        image=images,
        direction=np.zeros([1, TINY.latent_size], np.float32),
        strength=np.zeros([6], np.float32),
    )["image"]
    np.testing.assert_array_equal(got["image"][3], reconstruction[3])
    # The asset is the fitted transport; the metadata and the warm-up know the signature.
    baked = editor_transport.read_transport_asset(folder)
    np.testing.assert_array_equal(baked.covariances, transport.covariances)
    assert baked.provenance == transport.provenance and baked.provenance["max_images"] == 600
    meta = artifacts.read_metadata(folder)
    assert meta["signatures"] == SIGNATURES and meta["transport_classes"] == 10
    defs = serving.read_signature_defs(folder)
    requests = {r.model_spec.signature_name: r for r in serving.read_warmup(folder)}
    assert sorted(requests) == [n for n in SIGNATURES if n != "edit_by_index"]  # no directions: no valid index
    response = serving.run_predict_request(loaded, requests["transport"], defs)
    _, request_inputs = serving.validate_predict_request(requests["transport"], defs)
    answer = {key: tf.make_ndarray(proto) for key, proto in response.outputs.items()}
    assert_editor_matches(answer, reference(export, transport, request_inputs), "warm-up transport")


def test_tf1_session_on_the_serve_tag(transport_editor):
    export, transport = transport_editor
    inputs = {
        "image": uint8_images(TINY, 3, seed=22),
        "target": np.array([2, 7, 0], np.int32),
        "strength": np.ones([3], np.float32),
    }
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        meta_graph = tf.compat.v1.saved_model.loader.load(sess, ["serve"], str(export.dir(editor.PART)))
        signature = meta_graph.signature_def["transport"]
        fetches = {k: v.name for k, v in signature.outputs.items()}
        got = sess.run(fetches, {signature.inputs[k].name: v for k, v in inputs.items()})
    assert_editor_matches(got, reference(export, transport, inputs), "transport in a TF1 session")


def test_bad_input_is_refused_at_the_signature(transport_editor):
    export, _ = transport_editor
    loaded = tf.saved_model.load(str(export.dir(editor.PART)))
    good = {
        "image": uint8_images(TINY, 3, seed=23),
        "target": np.array([1, 2, 3], np.int32),
        "strength": np.ones([3], np.float32),
    }
    cases = [
        ({**good, "target": np.array([1, 10, 3], np.int32)}, r"target must be in \[0, 10\)"),
        ({**good, "target": np.array([1, -1, 3], np.int32)}, r"target must be in \[0, 10\)"),
        (
            {**good, "target": np.array([1, 2], np.int32)},
            r"transport: target and strength must be \[B\], one per image",
        ),
        ({**good, "strength": np.ones([2], np.float32)}, r"transport: target and strength must be \[B\]"),
        ({**good, "target": good["target"].astype(np.int64)}, "int32 tensor but is a int64"),
    ]
    for inputs, message in cases:
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            run_signature(loaded, "transport", **inputs)


def test_a_transport_that_does_not_fit_is_refused_before_anything_is_written(exported, tmp_path):
    rng = np.random.default_rng(0)
    other_size = editing.ClassTransport.fit(rng.normal(size=(40, 5)), np.arange(40) % 2)
    missing_class = editing.ClassTransport.fit(rng.normal(size=(40, TINY.latent_size)), np.arange(40) % 3 * 2)
    for transport, message in (
        (other_size, "fitted on codes of 5 numbers; this model's w has 8"),
        (missing_class, r"no codes of classes \[1, 3\]"),
        ("not a transport", "must be an alae_tf.editing.ClassTransport"),
    ):
        out = tmp_path / "out"
        with pytest.raises(ExportError, match=message):
            saved_model.export_saved_models(exported.model, exported.config, out, transport=transport)
        assert not out.exists()


def test_a_corrupt_workdir_transport_is_refused(workdir, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(workdir, run_dir)
    (run_dir / transport_edits.WORKDIR_TRANSPORT).write_bytes(b"not an npz")
    with pytest.raises(ExportError, match="cannot bake the run's class transport into the editor: .*corrupt"):
        saved_model.export_workdir(run_dir, tmp_path / "out", version=1)
    assert not (tmp_path / "out").exists()
