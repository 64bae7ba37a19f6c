"""The `editor` SavedModel: edits, style mixing and baked directions against the editing library, served
as TF Serving would (TF2 load, TF1 session on the serve tag, PredictRequests, warm-up), and bad input.

The MLP editor comes from `export_workdir` on a copy of the session's tiny trained run with directions
saved in `WORKDIR/directions/`; the session's own export (a run without directions) is the editor with
none. The style editor is the faces_tiny-like model of `style_export_test` at level 1 (8 px), exported
with directions passed to `export_saved_models`. No training beyond the session's tiny run.
"""

import json
import shutil

import numpy as np
import pytest
import tensorflow as tf

from alae_tf import data, editing
from alae_tf import workdir as workdir_lib
from alae_tf.export import ExportError, artifacts, editor, saved_model, serving
from tests.conftest import FACES, FACES_WHAT, require_path
from tests.export.conftest import EXPECTED_SIGNATURES, TINY, Export
from tests.export.style_export_test import LEVEL, LEVEL_1_DONE, RESOLUTION, TINY_STYLE, make_workdir

LATENT = TINY.latent_size  # 8, also TINY_STYLE's
STYLE_SIGNATURES = sorted([*EXPECTED_SIGNATURES["editor"], "mix"])
NUM_STYLES = 2 * TINY_STYLE.layer_count  # every style input; 4 of the 6 are drawn at level 1


def random_directions(seed, count_classes=3):
    """Class-mean directions on random codes (the editing library's), plus one made by hand."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal([60, LATENT]).astype(np.float32)
    labels = rng.integers(0, count_classes, 60)
    found = editing.class_mean_directions(w, labels, source=0, provenance={"codes": "random", "seed": seed})
    return [*found, editing.Direction("hand_made", rng.standard_normal(LATENT), {"method": "by hand"})]


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def mlp_directions():
    return random_directions(seed=11)  # class_mean_0_to_1, class_mean_0_to_2, hand_made: file-name order


@pytest.fixture(scope="module")
def mlp_editor(workdir, mlp_directions, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("editor_run") / "run"
    shutil.copytree(workdir, run_dir)
    editing.save_directions(run_dir / "directions", mlp_directions)
    out = tmp_path_factory.mktemp("editor_serving")
    result = saved_model.export_workdir(run_dir, out, version=1)
    run = workdir_lib.open_run(run_dir)
    return Export(out, result, run.config, run.model)


@pytest.fixture(scope="module")
def style_directions():
    return random_directions(seed=12)


@pytest.fixture(scope="module")
def style_editor(style_directions, tmp_path_factory):
    require_path(FACES, FACES_WHAT)
    run = workdir_lib.open_run(make_workdir(tmp_path_factory.mktemp("style_editor_run"), LEVEL_1_DONE))
    assert run.model.level == LEVEL
    out = tmp_path_factory.mktemp("style_editor_serving")
    result = saved_model.export_saved_models(
        run.model, run.config, out, parts=(editor.PART,), directions=style_directions
    )
    return Export(out, result, run.config, run.model)


def load(export):
    return tf.saved_model.load(str(export.dir(editor.PART)))


def uint8_images(config, batch, seed, shape=None):
    return np.random.default_rng(seed).integers(0, 256, [batch, *(shape or config.image_shape)], dtype=np.uint8)


# ---------------------------------------------------------------- references
def library_reference(export, baked, name, inputs):
    """What the editor's `name` must return for `inputs`: the editing library on the model's EMA nets."""
    model, pixel_range = export.model, export.config.pixel_range
    x = lambda key: data.to_pixel_range(inputs[key], pixel_range)  # noqa: E731
    out = lambda images: {"image": data.from_pixel_range(images, pixel_range).numpy()}  # noqa: E731
    if name in ("edit", "serving_default"):
        direction, strength = inputs["direction"], inputs["strength"]
        if len(direction) == 1:  # one direction for the batch, a strength per image: [B, 1]
            return out(editing.edit(model, x("image"), direction, strength[:, None]))
        return out(editing.edit(model, x("image"), direction, np.diag(strength)))  # one direction per image
    if name == "edit_by_index":
        strengths = np.zeros([len(inputs["index"]), len(baked)], np.float32)  # [B, K]: one nonzero per row
        strengths[np.arange(len(inputs["index"])), inputs["index"]] = inputs["strength"]
        return out(editing.edit(model, x("image"), baked, strengths))
    if name == "mix":
        return out(editing.style_mix(model, x("image_a"), x("image_b"), int(inputs["cutoff"])))
    assert name == "directions", name
    return {
        "directions": editing.direction_matrix(baked) if baked else np.zeros([0, LATENT], np.float32),
        "names": np.array([d.name.encode() for d in baked], object),
    }


def assert_editor_matches(got, want, what):
    """uint8 images: at most one grey level off (a float on a rounding boundary); directions: equal."""
    assert set(got) == set(want), what
    for key, w in want.items():
        g = np.asarray(got[key])
        assert g.dtype == w.dtype and g.shape == w.shape, f"{what}/{key}: {g.dtype}{g.shape} vs {w.dtype}{w.shape}"
        if w.dtype == np.uint8:
            assert np.abs(g.astype(int) - w.astype(int)).max() <= 1, f"{what}/{key}"
        else:
            np.testing.assert_array_equal(g, w, err_msg=f"{what}/{key}")


def editor_cases(export, baked, batch, seed):
    """`(signature, inputs)` for every signature of the editor, integer inputs in their valid ranges."""
    ranges = {"index": (0, len(baked)), "cutoff": (0, NUM_STYLES + 1)}
    defs = serving.read_signature_defs(export.dir(editor.PART))
    for name in sorted(defs):
        yield name, serving.example_inputs(defs[name], batch, export.config.pixel_range, seed, int_ranges=ranges)


def run_signature(loaded, name, **inputs):
    return {k: v.numpy() for k, v in loaded.signatures[name](**{k: tf.constant(v) for k, v in inputs.items()}).items()}


# --------------------------------------------------------------------- MLP
def test_edit_with_a_direction_matches_the_editing_library(mlp_editor, mlp_directions):
    loaded = load(mlp_editor)
    images = uint8_images(TINY, 4, seed=1)
    strength = np.array([0.0, 1.5, -2.0, 0.7], np.float32)  # per image; 0 is the reconstruction
    one = mlp_directions[2].vector[None]
    per_image = np.stack([d.vector for d in (*mlp_directions, mlp_directions[0])])
    for name in ("edit", "serving_default"):
        for direction in (one, per_image):
            inputs = {"image": images, "direction": direction, "strength": strength}
            want = library_reference(mlp_editor, mlp_directions, name, inputs)
            assert_editor_matches(run_signature(loaded, name, **inputs), want, f"{name} {direction.shape}")
    reconstructions = data.from_pixel_range(
        mlp_editor.model.reconstruct(data.to_pixel_range(images, TINY.pixel_range)), TINY.pixel_range
    ).numpy()
    got = run_signature(loaded, "edit", image=images, direction=one, strength=strength)["image"]
    assert np.abs(got[0].astype(int) - reconstructions[0].astype(int)).max() <= 1
    assert np.abs(got[1:].astype(int) - reconstructions[1:].astype(int)).max() > 1  # the edit does something


def test_edit_by_index_uses_the_workdirs_directions_in_file_name_order(mlp_editor, mlp_directions):
    names = sorted(d.name for d in mlp_directions)
    assert [d.name for d in mlp_directions] == names and mlp_editor.result.directions == tuple(names)
    loaded = load(mlp_editor)
    inputs = {
        "image": uint8_images(TINY, 4, seed=2),
        "index": np.array([2, 0, 1, 2], np.int32),
        "strength": np.array([1.0, -1.0, 2.5, 0.0], np.float32),
    }
    want = library_reference(mlp_editor, mlp_directions, "edit_by_index", inputs)
    assert_editor_matches(run_signature(loaded, "edit_by_index", **inputs), want, "edit_by_index")
    got = run_signature(loaded, "directions")
    assert_editor_matches(got, library_reference(mlp_editor, mlp_directions, "directions", {}), "directions")
    assert got["directions"].shape == (3, LATENT)


def test_directions_asset_metadata_and_models_config(mlp_editor, mlp_directions):
    folder = mlp_editor.dir(editor.PART)
    assert folder == mlp_editor.out / "editor" / "1" and (folder / "saved_model.pb").is_file()
    record = json.loads((folder / "assets.extra" / "directions.json").read_text())
    assert record["format"] == editor.DIRECTIONS_FORMAT and record["count"] == 3 and record["latent_size"] == LATENT
    assert [(d["index"], d["name"]) for d in record["directions"]] == list(enumerate(d.name for d in mlp_directions))
    baked = editor.read_directions_asset(folder)
    for got, want in zip(baked, mlp_directions, strict=True):
        assert got.name == want.name and got.provenance == want.provenance
        np.testing.assert_array_equal(got.vector, want.vector)  # float32 through JSON, exactly
    assert baked[0].provenance["method"] == "class_mean" and baked[0].provenance["codes"] == "random"
    meta = artifacts.read_metadata(folder)
    assert meta["part"] == "editor" and meta["signatures"] == EXPECTED_SIGNATURES["editor"]
    assert meta["directions"] == [d.name for d in mlp_directions] and meta["image_shape"] == [28, 28, 1]
    entries = {c.name: c for c in serving.read_models_config(mlp_editor.out / "models.config").model_config_list.config}
    assert sorted(entries) == sorted(saved_model.PARTS) and "editor" in entries
    assert entries["editor"].base_path == str(mlp_editor.out / "editor")


def test_tf1_session_on_the_serve_tag_like_tf_serving(mlp_editor, mlp_directions):
    cases = list(editor_cases(mlp_editor, mlp_directions, batch=2, seed=3))
    assert sorted(name for name, _ in cases) == EXPECTED_SIGNATURES["editor"]
    results = []
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        meta_graph = tf.compat.v1.saved_model.loader.load(sess, ["serve"], str(mlp_editor.dir(editor.PART)))
        for name, inputs in cases:
            signature = meta_graph.signature_def[name]
            fetches = {k: v.name for k, v in signature.outputs.items()}
            results.append((name, inputs, sess.run(fetches, {signature.inputs[k].name: v for k, v in inputs.items()})))
    for name, inputs, got in results:
        assert_editor_matches(got, library_reference(mlp_editor, mlp_directions, name, inputs), name)


def test_warmup_records_are_valid_requests_for_every_signature(mlp_editor, mlp_directions):
    loaded, defs = load(mlp_editor), serving.read_signature_defs(mlp_editor.dir(editor.PART))
    requests = serving.read_warmup(mlp_editor.dir(editor.PART))
    assert sorted(r.model_spec.signature_name for r in requests) == EXPECTED_SIGNATURES["editor"]
    for request in requests:
        assert request.model_spec.name == "editor"
        response = serving.run_predict_request(loaded, request, defs)
        _, inputs = serving.validate_predict_request(request, defs)
        got = {key: tf.make_ndarray(proto) for key, proto in response.outputs.items()}
        name = request.model_spec.signature_name
        assert_editor_matches(got, library_reference(mlp_editor, mlp_directions, name, inputs), name)


def test_predict_requests_are_validated_and_run(mlp_editor, mlp_directions):
    loaded, defs = load(mlp_editor), serving.read_signature_defs(mlp_editor.dir(editor.PART))
    images = uint8_images(TINY, 3, seed=4)
    strength = np.array([1.0, -0.5, 2.0], np.float32)
    for direction in (mlp_directions[1].vector[None], np.stack([d.vector for d in mlp_directions])):
        inputs = {"image": images, "direction": direction, "strength": strength}
        request = serving.predict_request("editor", "edit", inputs)
        response = serving.run_predict_request(loaded, request, defs)
        got = {"image": tf.make_ndarray(response.outputs["image"])}
        assert_editor_matches(got, library_reference(mlp_editor, mlp_directions, "edit", inputs), "edit request")
    # An empty signature name is serving_default: edit.
    request = serving.predict_request("editor", "", {"image": images, "direction": direction, "strength": strength})
    assert serving.validate_predict_request(request, defs)[0] == "serving_default"
    response = serving.run_predict_request(loaded, serving.predict_request("editor", "directions", {}), defs)
    assert [n.decode() for n in tf.make_ndarray(response.outputs["names"])] == [d.name for d in mlp_directions]

    good = {"image": images, "direction": direction[:1], "strength": strength}
    cases = [
        (
            {**good, "direction": np.zeros([2, LATENT], np.float32)},
            "edit",
            r"disagree on the batch size: \{'direction': 2, 'image': 3, 'strength': 3\} "
            r"\(direction: one row for every image, or one per image\)",
        ),
        (
            {**good, "strength": strength[:2]},
            "edit",
            r"disagree on the batch size: \{'direction': 1, 'image': 3, 'strength': 2\}",
        ),
        (
            {**good, "direction": np.zeros([1, LATENT - 1], np.float32)},
            "edit",
            r"input 'direction' has shape \[1, 7\], signature 'edit' wants \[-1, 8\]",
        ),
        (
            {**good, "strength": strength.astype(np.float64)},
            "edit",
            r"input 'strength' is float64, signature 'edit' wants float32",
        ),
        ({"image": images, "strength": strength}, "edit", r"missing \['direction'\]"),
        (
            {"image": images, "index": np.array([0, 1, 2], np.int64), "strength": strength},
            "edit_by_index",
            r"input 'index' is int64, signature 'edit_by_index' wants int32",
        ),
        ({"image": images}, "mix", r"no signature 'mix'; this model has \['directions', 'edit', "),
    ]
    for inputs, name, message in cases:
        with pytest.raises(serving.PredictRequestError, match=message):
            serving.validate_predict_request(serving.predict_request("editor", name, inputs), defs)
    # A value out of range passes the SignatureDef check; the signature refuses it when it runs.
    request = serving.predict_request(
        "editor", "edit_by_index", {"image": images, "index": np.array([0, 3, 1], np.int32), "strength": strength}
    )
    serving.validate_predict_request(request, defs)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"index must be in \[0, 3\)"):
        serving.run_predict_request(loaded, request, defs)


def test_bad_input_fails_at_the_signatures_with_clear_messages(mlp_editor):
    loaded = load(mlp_editor)
    images = uint8_images(TINY, 3, seed=5)
    strength = np.ones([3], np.float32)
    edit = dict(image=images, direction=np.ones([1, LATENT], np.float32), strength=strength)
    by_index = dict(image=images, index=np.array([0, 1, 2], np.int32), strength=strength)
    cases = [
        ("edit", {**edit, "image": images.astype(np.float32)}, "expected to be a uint8 tensor but is a float"),
        ("edit", {**edit, "image": images[..., 0]}, r"tensor image \[3,28,28\] is not compatible .* \[\?,28,28,1\]"),
        ("edit", {**edit, "image": uint8_images(TINY, 3, 5, (32, 32, 1))}, r"\[3,32,32,1\] is not compatible"),
        ("edit", {**edit, "image": uint8_images(TINY, 3, 5, (28, 28, 3))}, r"\[3,28,28,3\] is not compatible"),
        ("edit", {**edit, "direction": np.ones([1, 7], np.float32)}, r"direction \[1,7\] .* shape \[\?,8\]"),
        ("edit", {**edit, "direction": np.ones([LATENT], np.float32)}, r"direction \[8\] .* shape \[\?,8\]"),
        (
            "edit",
            {**edit, "direction": np.ones([2, LATENT], np.float32)},
            r"edit: direction must be \[1, 8\] \(one for every image\) or \[B, 8\] \(one per image\); got\] \[2\] "
            r"\[rows for\] \[3\] \[images\]",
        ),
        (
            "edit",
            {**edit, "strength": strength[:2]},
            r"edit: strength must be \[B\], one number per image; got\] \[2\]",
        ),
        ("edit", {**edit, "strength": np.ones([3, 1], np.float32)}, r"strength \[3,1\] .* shape \[\?\]"),
        ("edit_by_index", {**by_index, "index": np.array([0, 1, 3], np.int32)}, r"index must be in \[0, 3\)"),
        ("edit_by_index", {**by_index, "index": np.array([0, -1, 2], np.int32)}, r"index must be in \[0, 3\).*-1"),
        (
            "edit_by_index",
            {**by_index, "index": np.array([0, 1], np.int32)},
            r"edit_by_index: index must be \[B\], one per image; got\] \[2\] \[for\] \[3\] \[images\]",
        ),
        ("edit_by_index", {**by_index, "index": by_index["index"].astype(np.int64)}, "int32 tensor but is a int64"),
        ("edit_by_index", {**by_index, "strength": strength[:1]}, r"edit_by_index: strength must be \[B\]"),
    ]
    for name, inputs, message in cases:
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            run_signature(loaded, name, **inputs)


def test_an_editor_without_directions_edits_but_refuses_indices(exported):
    """The session's workdir has no directions/: an editor with K = 0."""
    assert exported.result.directions == ()
    folder = exported.dir(editor.PART)
    loaded = tf.saved_model.load(str(folder))
    got = run_signature(loaded, "directions")
    assert got["directions"].shape == (0, LATENT) and got["names"].shape == (0,)
    assert editor.read_directions_asset(folder) == [] and artifacts.read_metadata(folder)["directions"] == []
    images = uint8_images(TINY, 2, seed=6)
    inputs = {"image": images, "direction": np.ones([1, LATENT], np.float32), "strength": np.array([1.0, -1.0])}
    inputs["strength"] = inputs["strength"].astype(np.float32)
    assert_editor_matches(run_signature(loaded, "edit", **inputs), library_reference(exported, [], "edit", inputs), "")
    with pytest.raises(tf.errors.InvalidArgumentError, match="exported without directions .* use the `edit` signature"):
        run_signature(loaded, "edit_by_index", image=images, index=np.zeros([2], np.int32), strength=inputs["strength"])
    # No valid edit_by_index request exists, so it gets no warm-up record (a failing one would stop the load).
    names = sorted(r.model_spec.signature_name for r in serving.read_warmup(folder))
    assert names == ["directions", "edit", "serving_default"]
    assert sorted(serving.read_signature_defs(folder)) == EXPECTED_SIGNATURES["editor"]


def test_directions_that_do_not_fit_are_refused_before_anything_is_written(exported, workdir, tmp_path):
    out = tmp_path / "out"
    cases = [
        ([editing.Direction("short", np.ones(5))], r"\{'short': 5\} do not have the model's w size 8"),
        ([editing.Direction("a", np.ones(LATENT))] * 2, r"two directions share the names \['a'\]"),
        ([np.ones(LATENT)], r"must be alae_tf.editing.Direction objects, got \['ndarray'\]"),
    ]
    for directions, message in cases:
        with pytest.raises(ExportError, match=message):
            saved_model.export_saved_models(exported.model, exported.config, out, directions=directions)
    assert not out.exists()
    # A workdir whose directions/ holds a file that is not a direction.
    run_dir = tmp_path / "run"
    shutil.copytree(workdir, run_dir)
    (run_dir / "directions").mkdir()
    (run_dir / "directions" / "broken.npz").write_bytes(b"not a zip")
    with pytest.raises(ExportError, match=r"cannot bake the run's directions into the editor: .*broken.npz is corrupt"):
        saved_model.export_workdir(run_dir, out)
    assert not out.exists()
    # An empty directions/ folder means no directions.
    (run_dir / "directions" / "broken.npz").unlink()
    assert saved_model.workdir_directions(run_dir, LATENT) == []


# ------------------------------------------------------------------- style
def test_style_edit_and_edit_by_index_match_the_editing_library(style_editor, style_directions):
    assert style_editor.result.image_shape == (RESOLUTION, RESOLUTION, 3)
    loaded = load(style_editor)
    images = uint8_images(TINY_STYLE, 3, seed=7, shape=(RESOLUTION, RESOLUTION, 3))
    strength = np.array([0.0, 2.0, -1.5], np.float32)
    cases = [
        ("edit", {"image": images, "direction": style_directions[1].vector[None], "strength": strength}),
        ("edit", {"image": images, "direction": np.stack([d.vector for d in style_directions]), "strength": strength}),
        ("edit_by_index", {"image": images, "index": np.array([1, 2, 0], np.int32), "strength": strength}),
    ]
    for name, inputs in cases:
        want = library_reference(style_editor, style_directions, name, inputs)
        assert_editor_matches(run_signature(loaded, name, **inputs), want, name)


def test_style_mix_matches_style_mix_at_every_cutoff(style_editor, style_directions):
    loaded = load(style_editor)
    image_a = uint8_images(TINY_STYLE, 3, seed=8, shape=(RESOLUTION, RESOLUTION, 3))
    image_b = uint8_images(TINY_STYLE, 3, seed=9, shape=(RESOLUTION, RESOLUTION, 3))
    mixed = {}
    for cutoff in range(NUM_STYLES + 1):
        inputs = {"image_a": image_a, "image_b": image_b, "cutoff": np.int32(cutoff)}
        mixed[cutoff] = run_signature(loaded, "mix", **inputs)["image"]
        want = library_reference(style_editor, style_directions, "mix", inputs)
        assert_editor_matches({"image": mixed[cutoff]}, want, f"mix at {cutoff}")
    assert np.abs(mixed[2].astype(int) - mixed[0].astype(int)).max() > 1  # A's coarse styles change the image
    np.testing.assert_array_equal(mixed[4], mixed[NUM_STYLES])  # styles 4-5 are not drawn at level 1


def test_style_editor_is_served_like_the_others_and_refuses_bad_input(style_editor, style_directions):
    folder = style_editor.dir(editor.PART)
    defs = serving.read_signature_defs(folder)
    assert sorted(defs) == STYLE_SIGNATURES and artifacts.read_metadata(folder)["signatures"] == STYLE_SIGNATURES
    assert [d.size for d in defs["mix"].inputs["image_a"].tensor_shape.dim] == [-1, RESOLUTION, RESOLUTION, 3]
    assert (
        defs["mix"].inputs["cutoff"].dtype == tf.int32.as_datatype_enum
        and not defs["mix"].inputs["cutoff"].tensor_shape.dim
    )
    # Every signature through a TF1 session on the serve tag, as the model server runs them.
    cases = list(editor_cases(style_editor, style_directions, batch=2, seed=10))
    results = []
    with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
        meta_graph = tf.compat.v1.saved_model.loader.load(sess, ["serve"], str(folder))
        for name, inputs in cases:
            signature = meta_graph.signature_def[name]
            fetches = {k: v.name for k, v in signature.outputs.items()}
            results.append((name, inputs, sess.run(fetches, {signature.inputs[k].name: v for k, v in inputs.items()})))
    for name, inputs, got in results:
        assert_editor_matches(got, library_reference(style_editor, style_directions, name, inputs), name)
    # Warm-up: one valid request per signature, mix's cutoff in range.
    loaded = load(style_editor)
    requests = serving.read_warmup(folder)
    assert sorted(r.model_spec.signature_name for r in requests) == STYLE_SIGNATURES
    for request in requests:
        serving.run_predict_request(loaded, request, defs)
    # Bad mixes.
    a = uint8_images(TINY_STYLE, 3, seed=11, shape=(RESOLUTION, RESOLUTION, 3))
    cases = [
        ({"image_a": a, "image_b": a, "cutoff": np.int32(NUM_STYLES + 1)}, r"mix: cutoff must be in \[0, 6\].*\[7\]"),
        ({"image_a": a, "image_b": a, "cutoff": np.int32(-1)}, r"mix: cutoff must be in \[0, 6\]"),
        (
            {"image_a": a, "image_b": a[:2], "cutoff": np.int32(2)},
            r"mix: image_a and image_b pair row by row; got\] \[3\]",
        ),
        ({"image_a": a, "image_b": a, "cutoff": np.array([2], np.int32)}, r"cutoff \[1\] is not compatible .* \[\]"),
        ({"image_a": a, "image_b": a[..., :1], "cutoff": np.int32(2)}, r"image_b \[3,8,8,1\] is not compatible"),
        ({"image_a": a, "image_b": a, "cutoff": np.int64(2)}, "int32 tensor but is a int64"),
    ]
    for inputs, message in cases:
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            run_signature(loaded, "mix", **inputs)
    request = serving.predict_request("editor", "mix", {"image_a": a, "image_b": a[:2], "cutoff": np.int32(2)})
    with pytest.raises(
        serving.PredictRequestError, match=r"disagree on the batch size: \{'image_a': 3, 'image_b': 2\}"
    ):
        serving.validate_predict_request(request, defs)
