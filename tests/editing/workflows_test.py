"""Editing workflows on tiny saved runs (untrained nets, no training): directions, edits, mixes, refusals."""

import dataclasses
import json
import pathlib

import numpy as np
import pytest
import tensorflow as tf

from alae_tf import atomic, builders, configs, data, workdir
from alae_tf import image_grids as images
from alae_tf.checkpoint import CheckpointError, CheckpointManager
from alae_tf.editing import Direction, EditingError, load_directions, operations, workflows

MLP = configs.PRESETS["mnist_mlp_tiny"]
STYLE = configs.PRESETS["faces_tiny"]


def save_run(path, config, images_seen):
    """A workdir as training leaves it: config.json and a checkpoint (untrained nets, `images_seen` set)."""
    model = builders.build_compiled_model(config, seed=5)
    model.images_seen.assign(images_seen)
    model.step.assign(images_seen // config.batch_size)
    atomic.write_text(path / "config.json", config.to_json())
    CheckpointManager(path, model, config).save()
    return path


def labelled_images(n, seed, side=28):
    """uint8 `[n, side, side, 1]` and labels `[n]`: class c is bright in band c of three."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    pixels = rng.integers(0, 60, size=(n, side, side, 1))
    band = side // 3
    for i, label in enumerate(labels):
        pixels[i, label * band : (label + 1) * band] += 150 + rng.integers(0, 40)
    return pixels.astype(np.uint8), labels.astype(np.int64)


def mlp_workdir(root):
    """The tiny MLP run on a labelled TFRecord dataset (train 60, test 12 images of 28x28x1)."""
    root = pathlib.Path(root)
    for split, n, seed in (("train", 60, 0), ("test", 12, 1)):
        data.write_tfrecords(str(root / f"toy-{split}.tfrecord"), *labelled_images(n, seed))
    config = MLP.replace(dataset=f"tfrecord:{root}/toy-{{split}}.tfrecord")
    (root / "run").mkdir()
    return save_run(root / "run", config, 512)


def write_faces(folder, n, side=32, seed=0):
    """`n` RGB PNGs of a bright disc on a coloured background; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:side, :side]
    paths = []
    for i in range(n):
        picture = np.broadcast_to(rng.integers(0, 120, 3), (side, side, 3)).copy()
        cy, cx = rng.integers(side // 4, 3 * side // 4, 2).tolist()
        r = int(rng.integers(side // 6, side // 3))
        picture[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.integers(150, 256, 3)
        paths.append(folder / f"face{i:02d}.png")
        tf.io.write_file(str(paths[-1]), tf.io.encode_png(picture.astype(np.uint8)))
    return paths


def style_workdir(root):
    """faces_tiny at its last level (32 px) on a folder of 12 generated faces."""
    root = pathlib.Path(root)
    write_faces(root / "faces", 12)
    config = STYLE.replace(dataset=f"folder:{root / 'faces'}")
    (root / "run").mkdir()
    return save_run(root / "run", config, config.train_images)


@pytest.fixture(scope="module")
def mlp_run(tmp_path_factory):
    return workdir.open_run(mlp_workdir(tmp_path_factory.mktemp("mlp")))


@pytest.fixture(scope="module")
def style_run(tmp_path_factory):
    run = workdir.open_run(style_workdir(tmp_path_factory.mktemp("style")))
    assert run.image_shape == (32, 32, 3)
    return run


@pytest.fixture(scope="module")
def mlp_pca(mlp_run):
    return workflows.build_directions(mlp_run, "pca", k=2)


@pytest.fixture(scope="module")
def style_pca(style_run):
    return workflows.build_directions(style_run, "pca", k=2)


def _listing(folder):
    """Every file under `folder` with its bytes: what a refused call must leave as it was."""
    folder = pathlib.Path(folder)
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# --- Directions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, options, names",
    [
        ("class_mean", {"classes": "0,2"}, ["class_mean_0_to_2"]),
        ("class_mean", {}, ["class_mean_rest_to_0", "class_mean_rest_to_1", "class_mean_rest_to_2"]),
        ("linear", {"classes": "one_vs_rest"}, ["linear_rest_to_0", "linear_rest_to_1", "linear_rest_to_2"]),
        ("linear", {"classes": (1, 0)}, ["linear_1_to_0"]),
        ("regression", {"attribute": "ink_mass"}, ["ink_mass"]),
        ("regression", {"attribute": "brightness", "max_images": 30}, ["brightness"]),
        ("pca", {"k": 3}, ["pca_0", "pca_1", "pca_2"]),
        ("sefa", {"k": 2}, ["sefa_0", "sefa_1"]),
    ],
)
def test_each_method_builds_and_saves_directions_with_provenance(mlp_run, method, options, names):
    directions = workflows.build_directions(mlp_run, method, **options)
    assert [d.name for d in directions] == names
    saved = load_directions(mlp_run.path / "directions", latent_size=mlp_run.model.dlatent_size)
    for direction in directions:
        np.testing.assert_array_equal(saved[direction.name].vector, direction.vector)
        provenance = saved[direction.name].provenance
        assert provenance["workdir"] == str(mlp_run.path)
        assert provenance["source"] == f"{mlp_run.config.dataset}/train"
        assert provenance["nets"] == "ema" and provenance["images_seen"] == 512
        assert provenance["max_images"] == options.get("max_images", workflows.DEFAULT_MAX_IMAGES)
        assert provenance["method"] == {"linear": "linear_svm"}.get(method, method)
        assert str(mlp_run.path / "directions" / f"{direction.name}.npz") in workflows.describe_direction(
            mlp_run, direction
        )
    if method == "regression":
        assert directions[0].provenance["num_images"] + directions[0].provenance["num_images_held_out"] == (
            options.get("max_images", 60)
        )
    if method == "class_mean" and not options:
        assert directions[1].provenance["target_class"] == 1 and directions[1].provenance["source_class"] is None


def test_a_direction_orthogonal_to_saved_ones(mlp_run, mlp_pca):
    (direction,) = workflows.build_directions(mlp_run, "class_mean", classes="0,1", orthogonal_to=["pca_0"])
    assert direction.name == "class_mean_0_to_1_orth"
    assert direction.provenance["conditioned_on"] == ["pca_0"]
    assert abs(float(direction.unit @ mlp_pca[0].unit)) < 1e-5
    assert (mlp_run.path / "directions" / "class_mean_0_to_1_orth.npz").is_file()


def test_regression_on_an_attribute_csv_and_sefa_over_style_layers(style_run, tmp_path):
    files = sorted((pathlib.Path(style_run.config.dataset.removeprefix("folder:"))).glob("*.png"))
    csv = tmp_path / "age.csv"
    csv.write_text("filename,value\n" + "".join(f"{p.name},{i * 1.5}\n" for i, p in enumerate(files)))
    (direction,) = workflows.build_directions(style_run, "regression", attribute_csv=str(csv))
    assert direction.name == "age" and direction.provenance["attribute_csv"] == str(csv)
    assert direction.provenance["num_images"] + direction.provenance["num_images_held_out"] == len(files)
    sefa = workflows.build_directions(style_run, "sefa", k=2, layers="coarse")
    assert [d.name for d in sefa] == ["sefa_coarse_0", "sefa_coarse_1"] and sefa[0].provenance["layers"] == "coarse"
    assert sefa[0].provenance["weight_shape"][1] == 4 * 2 * 32  # 4 style inputs, scale and shift of 32 channels
    ranged = workflows.build_directions(style_run, "sefa", k=1, layers="2:4")
    assert ranged[0].name == "sefa_2_4_0" and ranged[0].provenance["layers"] == [2, 4]


@pytest.mark.parametrize(
    "run_name, method, options, message",
    [
        ("style_run", "class_mean", {}, "needs class labels.*one subfolder per class"),
        ("style_run", "linear", {"classes": "0,1"}, "needs class labels"),
        ("mlp_run", "pca", {"orthogonal_to": ["nope"]}, "unknown direction nope; .* holds: .*pca_0"),
        ("mlp_run", "kmeans", {}, "method must be one of class_mean, linear, regression, pca, sefa"),
        ("mlp_run", "regression", {}, "needs --attribute=ink_mass or brightness"),
        ("mlp_run", "regression", {"attribute_csv": "/no/such.csv"}, "no attribute CSV"),
        ("mlp_run", "regression", {"attribute_csv": __file__}, "needs a folder: dataset"),
        ("mlp_run", "pca", {"classes": "0,1"}, "--method=pca takes no --classes"),
        ("mlp_run", "pca", {"k": 9}, r"k must be an int in \[1, 8\]"),
        ("mlp_run", "sefa", {"layers": "coarse"}, "MLP nets have one w"),
        ("mlp_run", "linear", {"classes": "0,7"}, "class 7 has no codes"),
        ("mlp_run", "linear", {"classes": "zero,one"}, "two class numbers"),
        ("style_run", "sefa", {"layers": "fine"}, "not drawn by this model"),
    ],
)
def test_direction_refusals_write_nothing(request, mlp_pca, style_pca, run_name, method, options, message):
    run = request.getfixturevalue(run_name)
    before = _listing(run.path)
    with pytest.raises(EditingError, match=message):
        workflows.build_directions(run, method, **options)
    assert _listing(run.path) == before


# --- Images --------------------------------------------------------------------------------------


def test_load_user_images_reads_files_and_folders_as_they_are(tmp_path):
    paths = write_faces(tmp_path / "mine" / "sub", 2)
    write_faces(tmp_path / "other", 1)
    rgba = np.concatenate([np.full((32, 32, 3), 255, np.uint8), np.zeros((32, 32, 1), np.uint8)], axis=-1)
    tf.io.write_file(str(tmp_path / "mine" / "alpha.png"), tf.io.encode_png(rgba))
    (tmp_path / "mine" / "notes.txt").write_text("not an image")
    pixels, names = workflows.load_user_images(
        [tmp_path / "mine", tmp_path / "other" / "face00.png"], (32, 32, 3), (-1.0, 1.0)
    )
    assert names == ["alpha", "sub_face00", "sub_face01", "face00"]
    assert pixels.dtype == np.float32 and pixels.shape == (4, 32, 32, 3)
    np.testing.assert_array_equal(pixels[0], 1.0)  # alpha dropped as the folder: source drops it
    expected = tf.io.decode_png(paths[1].read_bytes()).numpy()
    np.testing.assert_allclose(pixels[2], expected / 127.5 - 1.0, atol=1e-6)
    _, names = workflows.load_user_images([paths[0], paths[0]], (32, 32, 3), (0.0, 1.0))
    assert names == ["face00", "face00_2"]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: write_faces(d, 1, side=16), r"is 16 x 16 x 3 .* read 28 x 28 x 1 \(H x W x C\).*never resized"),
        (lambda d: write_faces(d, 1, side=28), r"is 28 x 28 x 3.*convert it to grey"),
        (lambda d: [], "no PNG/JPEG images under"),
        (lambda d: [d / "missing.png"], "no such image file"),
    ],
    ids=["size", "channels", "empty folder", "missing file"],
)
def test_load_user_images_refuses_other_shapes(tmp_path, make, message):
    made = make(tmp_path / "in")
    (tmp_path / "in").mkdir(exist_ok=True)
    with pytest.raises(EditingError, match=message):
        workflows.load_user_images(made or [tmp_path / "in"], (28, 28, 1), (0.0, 1.0))


def test_load_user_images_refuses_a_corrupt_file_as_the_folder_source_does(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(data.DatasetError, match="broken.png is not a readable PNG/JPEG image"):
        workflows.load_user_images(tmp_path, (28, 28, 1), (0.0, 1.0))


# --- Edits ---------------------------------------------------------------------------------------


def _png(path):
    return tf.io.decode_png(pathlib.Path(path).read_bytes()).numpy()


def test_edit_writes_a_grid_per_direction_and_every_image(mlp_run, mlp_pca, tmp_path):
    x, names = workflows.load_split_images(mlp_run, "test", 3)
    assert names == ["test_00000", "test_00001", "test_00002"]
    out = tmp_path / "out"
    written = workflows.apply_edits(mlp_run, x, names, ["pca_0", "pca_1"], ["-1", "0", "1.5"], output_dir=out)
    assert written.folder == out and written.grids == [out / "pca_0.png", out / "pca_1.png"]
    # Rows: images, columns: strengths; 28 px tiles (1 px pad) enlarged by tile_zoom(28) = 2 to be seen.
    assert _png(out / "pca_0.png").shape == (2 * (3 * 29 + 1), 2 * (3 * 29 + 1), 1)
    assert len(written.images) == 3 * 2 * 3 and all(p.is_file() for p in written.files)
    assert (out / "images" / "test_00001__pca_1__+1.5.png").is_file()
    reconstruction = images.to_uint8(operations.edit(mlp_run.model, x, mlp_pca[0], 0.0), mlp_run.config.pixel_range)
    np.testing.assert_array_equal(_png(out / "images" / "test_00002__pca_0__+0.png"), reconstruction[2])
    moved = images.to_uint8(operations.edit(mlp_run.model, x, mlp_pca[0], -1.0), mlp_run.config.pixel_range)
    np.testing.assert_array_equal(_png(out / "images" / "test_00000__pca_0__-1.png"), moved[0])
    manifest = json.loads((out / "edits.json").read_text())
    assert manifest["strengths"] == [-1.0, 0.0, 1.5] and manifest["layers"] is None and manifest["refine"] is None
    assert manifest["directions"]["pca_0"]["method"] == "pca" and manifest["images"] == names
    assert sorted(p.name for p in out.iterdir()) == ["edits.json", "images", "pca_0.png", "pca_1.png"]


def test_edit_of_your_own_images_over_style_layers(style_run, style_pca, tmp_path):
    write_faces(tmp_path / "mine", 2, seed=3)
    x, names = workflows.load_user_images(tmp_path / "mine", style_run.image_shape, style_run.config.pixel_range)
    (tmp_path / "out").mkdir()  # an empty folder is fine
    written = workflows.apply_edits(style_run, x, names, None, [0, 3], "middle", output_dir=tmp_path / "out")
    assert tmp_path / "out" / "pca_0.png" in written.grids  # None: every saved direction
    assert _png(tmp_path / "out" / "pca_0.png").shape == (2 * (2 * 33 + 1), 2 * (2 * 33 + 1), 3)  # tile_zoom(32) = 2
    manifest = json.loads((tmp_path / "out" / "edits.json").read_text())
    assert manifest["layers"] == [4, 8] and manifest["layers_given"] == "middle"
    zero = _png(tmp_path / "out" / "images" / "face00__pca_0__+0.png")
    styles = operations.styles_from_w(style_run.model, operations.encode(style_run.model, x))
    expected = images.to_uint8(operations.decode_styles(style_run.model, styles), style_run.config.pixel_range)
    np.testing.assert_array_equal(zero, expected[0])
    moved = _png(tmp_path / "out" / "images" / "face00__pca_0__+3.png")
    assert np.any(moved != zero)


def test_refined_codes_are_written_and_reported_apart(mlp_run, mlp_pca, tmp_path):
    x, names = workflows.load_split_images(mlp_run, "test", 2)
    written = workflows.apply_edits(mlp_run, x, names, ["pca_0"], [0], output_dir=tmp_path / "out", refine_steps=3)
    assert (tmp_path / "out" / "pca_0.png").is_file() and (tmp_path / "out" / "refined" / "pca_0.png").is_file()
    assert (tmp_path / "out" / "refined" / "images" / "test_00001__pca_0__+0.png").is_file()
    assert written.grids == [tmp_path / "out" / "pca_0.png", tmp_path / "out" / "refined" / "pca_0.png"]
    assert len(written.notes) == 1 and "refined codes (3 Adam steps)" in written.notes[0]
    refine = json.loads((tmp_path / "out" / "edits.json").read_text())["refine"]
    assert refine["steps"] == 3 and set(refine["pixel_mse_after"]) == set(names)
    assert sum(refine["pixel_mse_after"].values()) < sum(refine["pixel_mse_before"].values())


def test_style_mix_writes_a_grid_of_a_b_and_the_mix(style_run, tmp_path):
    (a, names_a), (b, names_b) = workflows.select_image_pairs(style_run, split="train", count=3)
    assert names_a == ["train_00000", "train_00001", "train_00002"] and names_b[0] == "train_00003"
    written = workflows.apply_style_mix(style_run, a, b, names_a=names_a, names_b=names_b, output_dir=tmp_path / "m")
    grid = _png(tmp_path / "m" / "mix.png")
    assert grid.shape == (2 * (3 * 33 + 1), 2 * (3 * 33 + 1), 3)  # rows: A, B, mix; tile_zoom(32) = 2
    np.testing.assert_array_equal(grid[2:66:2, 2:66:2], images.to_uint8(a[0], style_run.config.pixel_range))
    assert [p.name for p in written.images] == [f"{x}__{y}__cutoff4.png" for x, y in zip(names_a, names_b)]
    all_of_a = workflows.apply_style_mix(style_run, a, b, 8, output_dir=tmp_path / "all")
    w = operations.encode(style_run.model, a)
    expected = images.to_uint8(
        operations.decode_styles(style_run.model, operations.styles_from_w(style_run.model, w)),
        style_run.config.pixel_range,
    )
    np.testing.assert_array_equal(_png(all_of_a.images[1]), expected[1])
    assert json.loads((tmp_path / "all" / "edits.json").read_text())["cutoff"] == 8


def test_interpolation_runs_from_a_to_b(mlp_run, tmp_path):
    (a, names_a), (b, names_b) = workflows.select_image_pairs(mlp_run, split="test", count=2)
    written = workflows.apply_interpolation(
        mlp_run, a, b, 4, names_a=names_a, names_b=names_b, output_dir=tmp_path / "i"
    )
    assert _png(tmp_path / "i" / "interpolation.png").shape == (2 * (2 * 29 + 1), 2 * (4 * 29 + 1), 1)
    assert len(written.images) == 8
    last = images.to_uint8(mlp_run.model.reconstruct(b), mlp_run.config.pixel_range)
    np.testing.assert_array_equal(_png(tmp_path / "i" / "images" / "test_00001__to__test_00003__03.png"), last[1])


# --- Refusals: each raises before anything is written --------------------------------------------


def _wrong_size(run, tmp_path):
    write_faces(tmp_path / "small", 1, side=16)
    x, names = workflows.load_user_images(tmp_path / "small", run.image_shape, run.config.pixel_range)
    workflows.apply_edits(run, x, names, ["pca_0"], [1], output_dir=tmp_path / "out")


def _split(run, count=2):
    return workflows.load_split_images(run, "train", count)


REFUSALS = {
    "unknown direction": (
        "mlp_run",
        lambda run, out: workflows.apply_edits(run, *_split(run), ["pca_0", "smile"], [1], output_dir=out),
        EditingError,
        r"unknown direction smile; .*directions holds: .*pca_0, pca_1",
    ),
    "layers out of range": (
        "style_run",
        lambda run, out: workflows.apply_edits(run, *_split(run), ["pca_0"], [1], "0:99", output_dir=out),
        EditingError,
        r"0 <= start < end <= 8 \(this model's style inputs\), got \(0, 99\)",
    ),
    "fine layers at 32 px": (
        "style_run",
        lambda run, out: workflows.apply_edits(run, *_split(run), ["pca_0"], [1], "fine", output_dir=out),
        EditingError,
        "'fine' styles .* are not drawn by this model",
    ),
    "layers text": (
        "style_run",
        lambda run, out: workflows.apply_edits(run, *_split(run), ["pca_0"], [1], "1-3", output_dir=out),
        EditingError,
        "coarse, middle, fine or START:END",
    ),
    "layers on MLP nets": (
        "mlp_run",
        lambda run, out: workflows.apply_edits(run, *_split(run), ["pca_0"], [1], "coarse", output_dir=out),
        EditingError,
        "MLP nets have one w and no style layers",
    ),
    "wrong image size": (
        "mlp_run",
        lambda run, out: workflows.apply_edits(run, np.zeros((1, 16, 16, 1), np.float32), ["a"], None, output_dir=out),
        EditingError,
        r"images must be \[N >= 1, 28, 28, 1\]",
    ),
    "uint8 images": (
        "mlp_run",
        lambda run, out: workflows.apply_edits(run, np.zeros((1, 28, 28, 1), np.uint8), ["a"], None, output_dir=out),
        EditingError,
        "must be floats in the run's pixel range",
    ),
    "wrong channels": (
        "style_run",
        lambda run, out: workflows.apply_style_mix(run, *(np.zeros((1, 32, 32, 1), np.float32),) * 2, output_dir=out),
        EditingError,
        r"images must be \[N >= 1, 32, 32, 3\]",
    ),
    "repeated strengths": (
        "mlp_run",
        lambda run, out: workflows.apply_edits(run, *_split(run), ["pca_0"], [1, 1.0], output_dir=out),
        EditingError,
        r"strengths repeat: \['\+1'\]",
    ),
    "bad strength": (
        "mlp_run",
        lambda run, out: workflows.apply_edits(run, *_split(run), ["pca_0"], ["big"], output_dir=out),
        EditingError,
        "finite numbers, got 'big'",
    ),
    "MLP mix": (
        "mlp_run",
        lambda run, out: workflows.apply_style_mix(run, *_split(run)[:1], _split(run)[0], output_dir=out),
        EditingError,
        "style mixing .* needs style nets; .* holds MLP nets",
    ),
    "bad cutoff": (
        "style_run",
        lambda run, out: workflows.apply_style_mix(run, _split(run)[0], _split(run)[0], 9, output_dir=out),
        EditingError,
        r"cutoff must be an int in \[0, 8\]",
    ),
    "unpaired": (
        "mlp_run",
        lambda run, out: workflows.apply_interpolation(run, _split(run, 2)[0], _split(run, 3)[0], output_dir=out),
        EditingError,
        "2 images A but 3 images B",
    ),
    "no directions yet": (
        "mlp_run",
        lambda run, out: workflows.apply_edits(
            dataclasses.replace(run, path=out.parent / "bare"), *_split(run), None, output_dir=out
        ),
        EditingError,
        "has no directions yet .* --mode=directions",
    ),
    "output in the run": (
        "mlp_run",
        lambda run, out: workflows.apply_edits(run, *_split(run), ["pca_0"], [1], output_dir=run.path),
        EditingError,
        "holds the run itself",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refusals_write_nothing(request, mlp_pca, style_pca, tmp_path, case):
    run_name, call, error, message = REFUSALS[case]
    run = request.getfixturevalue(run_name)
    before = _listing(run.path)
    out = tmp_path / "out"
    with pytest.raises(error, match=message):
        call(run, out)
    assert not out.exists() and _listing(run.path) == before
    assert list(tmp_path.iterdir()) == []


def test_a_wrong_size_user_image_writes_nothing(mlp_run, mlp_pca, tmp_path):
    with pytest.raises(EditingError, match="never resized.*--dataset=folder:DIR"):
        _wrong_size(mlp_run, tmp_path)
    assert not (tmp_path / "out").exists()


def test_a_non_empty_output_folder_is_kept_unless_overwrite(mlp_run, mlp_pca, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    x, names = _split(mlp_run)
    with pytest.raises(EditingError, match="exists and is not empty.*--overwrite"):
        workflows.apply_edits(mlp_run, x, names, ["pca_0"], [1], output_dir=out)
    assert _listing(out) == {"mine.txt": b"keep me"}
    workflows.apply_edits(mlp_run, x, names, ["pca_0"], [1], output_dir=out, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == ["edits.json", "images", "pca_0.png"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp folder left


def test_a_failure_while_writing_leaves_no_output(mlp_run, mlp_pca, tmp_path, monkeypatch):
    def fail(path, picture):
        raise OSError("disk full")

    monkeypatch.setattr(images, "write_png", fail)
    with pytest.raises(OSError, match="disk full"):
        workflows.apply_edits(mlp_run, *_split(mlp_run), ["pca_0"], [1], output_dir=tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_a_workdir_without_checkpoint_is_refused(tmp_path):
    atomic.write_text(tmp_path / "config.json", MLP.to_json())
    with pytest.raises(CheckpointError, match="no checkpoint"):
        workdir.open_run(tmp_path)


def test_directions_given_as_objects_must_fit_the_model(mlp_run, tmp_path):
    other = Direction("other", np.ones(5, np.float32))
    with pytest.raises(EditingError, match="made for another model"):
        workflows.apply_edits(mlp_run, *_split(mlp_run), [other], [1], output_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()
