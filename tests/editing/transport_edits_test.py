"""`alae-edit --mode=transport` and its workflow on a tiny saved MLP run (labelled toy data, untrained nets)."""

import json

import numpy as np
import pytest

from alae_tf import image_grids as images
from alae_tf import workdir
from alae_tf.editing import EditingError, operations, transport_edits, workflows
from tests.editing.edit_binary_test import run_edit
from tests.editing.workflows_test import _png, mlp_workdir, style_run  # noqa: F401  (style_run: a fixture)


@pytest.fixture(scope="module")
def run_path(tmp_path_factory):
    return mlp_workdir(tmp_path_factory.mktemp("transport"))


@pytest.fixture(scope="module")
def fitted(run_path):
    run = workdir.open_run(run_path)
    return run, transport_edits.fit_class_transport(run, max_images=45)


def test_fit_uses_the_training_split_labels(fitted):
    run, transport = fitted
    assert transport.num_classes == 3 and transport.counts.tolist() == [15, 15, 15]  # labels 0, 1, 2 in turn
    assert transport.provenance["source"].endswith("/train") and transport.provenance["max_images"] == 45
    assert transport.provenance["method"] == "class_transport" and transport.latent_size == run.model.dlatent_size


def test_transport_writes_the_grid_and_each_moved_image(fitted, tmp_path):
    run, transport = fitted
    x, names = workflows.load_split_images(run, "test", 3)
    out = tmp_path / "out"
    written = transport_edits.apply_class_transport(run, x, names, transport, 2, ["0", "0.5", "1"], output_dir=out)
    assert written.grids == [out / "transport_to_2.png"] and len(written.images) == 9
    w = operations.encode(run.model, x).numpy()
    sources = transport.classify(w)
    moved = transport.apply(w, sources, 2, 1.0).astype(np.float32)
    expected = images.to_uint8(run.model.decode(moved).numpy(), run.config.pixel_range)
    np.testing.assert_array_equal(_png(out / "images" / "test_00001__to_2__+1.png"), expected[1])
    reconstruction = images.to_uint8(run.model.decode(w).numpy(), run.config.pixel_range)
    np.testing.assert_array_equal(_png(out / "images" / "test_00002__to_2__+0.png"), reconstruction[2])
    manifest = json.loads((out / "edits.json").read_text())
    assert manifest["mode"] == "transport" and manifest["target_class"] == 2 and manifest["strengths"] == [0, 0.5, 1]
    assert manifest["source_classes"] == dict(zip(names, sources.tolist()))
    assert manifest["source_classes_found_by"] == "classified" and manifest["transport"]["max_images"] == 45


def test_given_sources_and_refusals(fitted, tmp_path):
    run, transport = fitted
    x, names = workflows.load_split_images(run, "test", 2)
    out = tmp_path / "given"
    transport_edits.apply_class_transport(run, x, names, transport, 1, ["1"], sources=0, output_dir=out)
    manifest = json.loads((out / "edits.json").read_text())
    assert (
        manifest["source_classes"] == {"test_00000": 0, "test_00001": 0}
        and manifest["source_classes_found_by"] == "given"
    )
    for target, sources, message in (
        (5, None, "class 5 has no codes; fitted classes: \\[0, 1, 2\\]"),
        (1, 7, "transport: source: class 7 has no codes"),
    ):
        bad = tmp_path / f"bad{target}"
        with pytest.raises(EditingError, match=message):
            transport_edits.apply_class_transport(
                run, x, names, transport, target, ["1"], sources=sources, output_dir=bad
            )
        assert not bad.exists()


def test_data_without_labels_is_refused(style_run):  # noqa: F811
    with pytest.raises(EditingError, match="class transport needs class labels, and folder:.*/train has none"):
        transport_edits.fit_class_transport(style_run)


def test_transport_mode_end_to_end(run_path, tmp_path):
    out = tmp_path / "out"
    result = run_edit(
        "--mode=transport",
        f"--workdir={run_path}",
        "--to_class=1",
        "--split=test",
        "--count=2",
        "--strengths=0,1",
        f"--output_dir={out}",
    )
    assert result.returncode == 0, result.stderr
    assert f"wrote 6 files to {out}" in result.stdout and (out / "images" / "test_00001__to_1__+1.png").is_file()
    for args, message in (
        (["--mode=transport"], "--mode=transport needs --to_class"),
        (["--mode=edit", "--to_class=1"], "--to_class and --from_class act on --mode=transport"),
    ):
        refused = tmp_path / "refused"
        result = run_edit(*args, f"--workdir={run_path}", f"--output_dir={refused}")
        assert result.returncode != 0 and f"alae-edit: error: {message}" in result.stderr
        assert not refused.exists()
