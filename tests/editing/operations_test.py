"""Edits of images on tiny untrained models, MLP and style nets: shapes, identities, layer ranges, errors."""

import types

import numpy as np
import pytest
import tensorflow as tf

from alae_tf import builders, configs, editing
from alae_tf.editing import EditingError, operations

MLP = configs.PRESETS["mnist_mlp_tiny"]
STYLE = configs.PRESETS["faces_tiny"]
STYLE_LEVEL = 2  # 16 px: blocks 0-2 draw, styles 0-5 of 8 are active
SEED = tf.constant(editing.DEFAULT_NOISE_SEED)


@pytest.fixture(scope="module")
def mlp():
    return builders.build_compiled_model(MLP)


@pytest.fixture(scope="module")
def style():
    model = builders.build_compiled_model(STYLE)
    model.set_level(STYLE_LEVEL)
    return model


def _images(model, batch, seed=0):
    lo, hi = (0.0, 1.0) if not model.is_style else (-1.0, 1.0)
    return tf.random.stateless_uniform((batch, *editing.image_shape(model)), seed=(seed, 1), minval=lo, maxval=hi)


def _reconstruct(model, images):
    return model.decode(model.encode(images), noise_seed=SEED)


def _directions(model, count=2, seed=0):
    return np.random.default_rng(seed).normal(size=(count, model.dlatent_size)).astype(np.float32)


@pytest.fixture(params=["mlp", "style"])
def model(request):
    return request.getfixturevalue(request.param)


def test_encode_gives_codes_and_refuses_other_images(model):
    x = _images(model, 3)
    w = editing.encode(model, x)
    assert w.shape == (3, model.dlatent_size) and w.dtype == tf.float32
    np.testing.assert_allclose(w, model.encode(x), rtol=1e-6)
    with pytest.raises(EditingError, match="to_pixel_range"):
        editing.encode(model, tf.zeros((1, *editing.image_shape(model)), tf.uint8))
    with pytest.raises(EditingError, match="at_current_resolution"):
        editing.encode(model, tf.zeros((1, 64, 64, editing.image_shape(model)[2])))


def test_move_at_strength_zero_is_the_identity_and_adds_strengths_times_directions():
    w = np.random.default_rng(0).normal(size=(3, 5)).astype(np.float32)
    d = np.random.default_rng(1).normal(size=(2, 5)).astype(np.float32)
    np.testing.assert_array_equal(editing.move(w, d, 0.0), w)
    np.testing.assert_array_equal(editing.move(w, d, [0.0, 0.0]), w)
    per_image = np.array([[1.0, 0.0], [0.0, 2.0], [-1.0, 0.5]], np.float32)
    np.testing.assert_allclose(editing.move(w, d, per_image), w + per_image @ d, rtol=1e-6)
    np.testing.assert_allclose(editing.move(w, d, [1.0, -1.0]), w + d[0] - d[1], rtol=1e-6)
    direction = editing.Direction("one", d[0])
    np.testing.assert_allclose(editing.move(w, [direction], [2.0]), w + 2 * d[0], rtol=1e-6)
    np.testing.assert_allclose(editing.move(w, direction, 2.0), w + 2 * d[0], rtol=1e-6)


def test_move_errors():
    w = np.zeros((3, 5), np.float32)
    with pytest.raises(EditingError, match=r"\[K, 5\]"):
        editing.move(w, np.ones((2, 4)), 1.0)
    with pytest.raises(EditingError, match="3 strengths per code for 2 directions"):
        editing.move(w, np.ones((2, 5)), [1.0, 2.0, 3.0])
    with pytest.raises(EditingError, match="2 rows for a batch of 3"):
        editing.move(w, np.ones((2, 5)), np.ones((2, 2)))
    with pytest.raises(EditingError, match="different sizes"):
        editing.move(w, [editing.Direction("a", np.ones(5)), editing.Direction("b", np.ones(4))], 1.0)


def test_edit_at_strength_zero_is_the_reconstruction(model):
    x = _images(model, 2)
    d = _directions(model)
    edited = editing.edit(model, x, d, [0.0, 0.0])
    assert edited.shape == (2, *editing.image_shape(model))
    np.testing.assert_allclose(edited, _reconstruct(model, x), atol=1e-5)
    moved = editing.edit(model, x, d, [[1.0, 0.0], [0.0, -1.0]])
    expected = model.decode(editing.move(model.encode(x), d, [[1.0, 0.0], [0.0, -1.0]]), noise_seed=SEED)
    np.testing.assert_allclose(moved, expected, atol=1e-5)
    assert not np.allclose(moved, edited, atol=1e-4)


def test_mlp_nets_have_no_style_layers(mlp):
    x = _images(mlp, 1)
    with pytest.raises(EditingError, match="MLP nets"):
        editing.edit(mlp, x, _directions(mlp), 1.0, layers="coarse")
    with pytest.raises(EditingError, match="MLP nets"):
        editing.style_mix(mlp, x, x, 1)
    with pytest.raises(EditingError, match="MLP nets"):
        editing.first_layer_weights(mlp, layers=(0, 1))
    assert editing.styles_from_w(mlp, tf.zeros((2, mlp.dlatent_size))).shape == (2, mlp.dlatent_size)


def test_style_layer_groups_follow_the_resolutions(style):
    assert editing.num_style_layers(style) == 8 and editing.active_style_layers(style) == 6
    assert editing.style_layer_groups(style) == {"coarse": (0, 4), "middle": (4, 6), "fine": (6, 6)}
    assert editing.style_layer_range(style, "middle") == (4, 6)
    assert editing.style_layer_range(style, (1, 8)) == (1, 8)
    assert editing.style_layer_range(style, None) is None


@pytest.mark.parametrize(
    "layers, message",
    [
        ("fine", "not drawn by this model at level 2"),
        ("hair", "must be one of"),
        ((0, 9), "0 <= start < end <= 8"),
        ((3, 3), "0 <= start < end <= 8"),
        ((-1, 2), "0 <= start < end <= 8"),
        ((0.0, 2), "0 <= start < end <= 8"),
        ((1, 2, 3), "0 <= start < end <= 8"),
    ],
)
def test_bad_layer_ranges_are_refused(style, layers, message):
    with pytest.raises(EditingError, match=message):
        editing.edit(style, _images(style, 1), _directions(style), 1.0, layers=layers)


def test_an_edit_over_layers_leaves_the_other_styles_unchanged(style):
    w = editing.encode(style, _images(style, 3))
    d = _directions(style)
    styles = editing.edited_styles(style, w, d, [1.5, -0.5], layers=(2, 5))
    assert styles.shape == (3, 8, style.dlatent_size)
    unchanged = editing.styles_from_w(style, w)
    moved = editing.move(w, d, [1.5, -0.5])
    for index in range(8):
        expected = moved if 2 <= index < 5 else unchanged[:, index]
        np.testing.assert_allclose(styles[:, index], expected, atol=1e-6, err_msg=f"style {index}")
    np.testing.assert_array_equal(editing.edited_styles(style, w, d, 0.0, layers="coarse"), unchanged)


def test_an_edit_over_layers_renders_those_styles(style):
    x = _images(style, 2)
    d = _directions(style)
    edited = editing.edit(style, x, d, [1.0, 1.0], layers="coarse")
    styles = editing.edited_styles(style, editing.encode(style, x), d, [1.0, 1.0], layers=(0, 4))
    np.testing.assert_allclose(edited, style.synthesize(style.ema_generator, styles, noise_seed=SEED), atol=1e-5)
    # Styles the model does not draw at its level change nothing.
    inactive = editing.edit(style, x, d, [5.0, 5.0], layers=(6, 8))
    np.testing.assert_allclose(inactive, _reconstruct(style, x), atol=1e-5)


def test_an_edit_traces_into_a_tf_function(style):
    x = _images(style, 2)
    d = tf.constant(_directions(style))
    traced = tf.function(lambda images, s: editing.edit(style, images, d, s, layers=(0, 2)))
    strengths = tf.constant([[1.0, 0.0], [0.5, 0.5]])
    np.testing.assert_allclose(traced(x, strengths), editing.edit(style, x, d, strengths, layers=(0, 2)), atol=1e-5)


def test_style_mix_at_the_ends_gives_each_reconstruction(style):
    a, b = _images(style, 2, seed=1), _images(style, 2, seed=2)
    np.testing.assert_allclose(editing.style_mix(style, a, b, 0), _reconstruct(style, b), atol=1e-5)
    np.testing.assert_allclose(editing.style_mix(style, a, b, 8), _reconstruct(style, a), atol=1e-5)
    mixed = editing.style_mix(style, a, b, 4)
    assert mixed.shape == (2, 16, 16, 3)
    assert not np.allclose(mixed, _reconstruct(style, a), atol=1e-4)
    assert not np.allclose(mixed, _reconstruct(style, b), atol=1e-4)
    styles = editing.mixed_styles(style, editing.encode(style, a), editing.encode(style, b), 4)
    np.testing.assert_allclose(mixed, editing.decode_styles(style, styles), atol=1e-6)


@pytest.mark.parametrize("cutoff", [-1, 9, 1.5, True])
def test_style_mix_refuses_bad_cutoffs(style, cutoff):
    x = _images(style, 1)
    with pytest.raises(EditingError, match="cutoff must be an int in"):
        editing.style_mix(style, x, x, cutoff)


def test_style_mix_and_interpolate_pair_batches_of_one_size(style):
    with pytest.raises(EditingError, match="row by row"):
        editing.style_mix(style, _images(style, 2), _images(style, 3), 2)
    with pytest.raises(EditingError, match="row by row"):
        editing.interpolate(style, _images(style, 2), _images(style, 3), 3)


def test_interpolate_runs_from_a_to_b(model):
    a, b = _images(model, 2, seed=1), _images(model, 2, seed=2)
    frames = editing.interpolate(model, a, b, 4)
    assert frames.shape == (2, 4, *editing.image_shape(model))
    np.testing.assert_allclose(frames[:, 0], _reconstruct(model, a), atol=1e-5)
    np.testing.assert_allclose(frames[:, -1], _reconstruct(model, b), atol=1e-5)
    with pytest.raises(EditingError, match="steps must be an int >= 2"):
        editing.interpolate(model, a, b, 1)


def test_traversal_edits_each_image_at_each_strength(model):
    x = _images(model, 2)
    d = editing.Direction("d", _directions(model, 1)[0])
    layers = (0, 2) if model.is_style else None
    frames = editing.traversal(model, x, d, [-1.0, 0.0, 2.0], layers=layers)
    assert frames.shape == (2, 3, *editing.image_shape(model))
    np.testing.assert_allclose(frames[:, 1], _reconstruct(model, x), atol=1e-5)
    np.testing.assert_allclose(frames[:, 2], editing.edit(model, x, d, 2.0, layers=layers), atol=1e-5)
    with pytest.raises(EditingError, match="one direction"):
        editing.traversal(model, x, _directions(model, 2), [1.0])
    with pytest.raises(EditingError, match=r"strengths must be \[S\]"):
        editing.traversal(model, x, d, 1.0)


def test_refine_lowers_the_pixel_loss(model):
    x = _images(model, 2)
    w, losses = editing.refine(model, x, steps=5, learning_rate=0.05)
    assert w.shape == (2, model.dlatent_size) and losses.shape == (6, 2)
    assert np.all(losses[-1] < losses[0])
    final = tf.reduce_mean(tf.square(editing.decode_styles(model, editing.styles_from_w(model, w)) - x), [1, 2, 3])
    np.testing.assert_allclose(losses[-1], final, rtol=1e-5)
    start = editing.encode(model, x)
    same, loss = editing.refine(model, x, w_init=start, steps=0)
    np.testing.assert_array_equal(same, start)
    np.testing.assert_allclose(loss, losses[:1], rtol=1e-5)


def test_refine_errors(mlp):
    x = _images(mlp, 2)
    with pytest.raises(EditingError, match="learning_rate"):
        editing.refine(mlp, x, learning_rate=0.0)
    with pytest.raises(EditingError, match="steps"):
        editing.refine(mlp, x, steps=-1)
    with pytest.raises(EditingError, match="3 codes for 2 images"):
        editing.refine(mlp, x, w_init=np.zeros((3, mlp.dlatent_size), np.float32))
    with pytest.raises(EditingError, match="codes must be"):
        editing.refine(mlp, x, w_init=np.zeros((2, 3), np.float32))


def test_grid_tiles_rows_and_columns():
    frames = np.zeros((2, 3, 4, 5, 1), np.float32)
    frames[1, 2] = 1.0
    picture = editing.grid(frames, pixel_range=(0.0, 1.0))
    assert picture.shape == (2 * 5 + 1, 3 * 6 + 1, 1) and picture.dtype == np.uint8
    assert picture[6:10, 13:18].min() == 255 and picture[1:5, 1:6].max() == 0  # last image white, first black
    np.testing.assert_array_equal(editing.grid(np.full((1, 1, 2, 2, 3), 7, np.uint8), pad=0), np.full((2, 2, 3), 7))
    with pytest.raises(EditingError, match="pixel_range"):
        editing.grid(frames)
    with pytest.raises(EditingError, match="rows, columns"):
        editing.grid(frames[0])


def test_first_layer_weights_are_the_effective_weights(mlp, style):
    weights = editing.first_layer_weights(mlp)
    dense = mlp.ema_generator.dense_layers[0]
    assert weights.shape == (mlp.dlatent_size, MLP.hidden_units[0])
    np.testing.assert_allclose(weights, dense.kernel.numpy() * dense.coef, rtol=1e-6)
    matrix = editing.first_layer_weights(style)
    assert matrix.shape == (style.dlatent_size, 6 * 2 * 32)  # 6 active styles of blocks with 32 channels
    # Columns of style input 3 are what its affine adds to its bias: y = w @ M + b.
    affine = style.ema_generator.blocks[1].style_2.affine
    w = np.random.default_rng(0).normal(size=(2, style.dlatent_size)).astype(np.float32)
    expected = affine(w) - affine(np.zeros_like(w))
    np.testing.assert_allclose(w @ editing.first_layer_weights(style, layers=(3, 4)), expected, atol=1e-5)
    np.testing.assert_allclose(editing.first_layer_weights(style, layers="coarse"), matrix[:, : 4 * 64])
    directions = editing.sefa_directions(matrix, 3, provenance={"layers": "all"})
    assert len(directions) == 3 and directions[0].latent_size == style.dlatent_size


def test_encode_dataset_batches_uint8_images(mlp):
    images = np.random.default_rng(0).integers(0, 256, size=(5, 28, 28, 1), dtype=np.uint8)
    codes = editing.encode_dataset(mlp, images, MLP.pixel_range, batch_size=2)
    assert codes.shape == (5, mlp.dlatent_size) and codes.dtype == np.float32
    expected = mlp.encode(tf.constant(images, tf.float32) / 255.0)
    np.testing.assert_allclose(codes, expected, atol=1e-5)
    with pytest.raises(EditingError, match="uint8 images"):
        editing.encode_dataset(mlp, images[:, :14], MLP.pixel_range)
    with pytest.raises(EditingError, match="batch_size"):
        editing.encode_dataset(mlp, images, MLP.pixel_range, batch_size=0)


def test_run_provenance_names_the_codes_origin(style):
    run = types.SimpleNamespace(path="/runs/x", config=STYLE, model=style, meta={"images_seen": 1234, "step": 7})
    provenance = editing.run_provenance(run, "test", use_ema=False)
    assert provenance == {
        "workdir": "/runs/x",
        "preset": "faces_tiny",
        "source": f"{STYLE.dataset}/test",
        "nets": "trained",
        "images_seen": 1234,
        "step": 7,
        "level": STYLE_LEVEL,
        "resolution": 16,
    }


def test_operations_module_exports_every_public_name():
    for name in ("edit", "move", "refine", "grid", "style_mix", "interpolate", "traversal", "encode"):
        assert getattr(editing, name) is getattr(operations, name)
