"""The editing metrics on a toy whose right answers are known: codes are the pixels, the judge reads bands."""

import numpy as np
import pytest
import tensorflow as tf

from alae_tf import builders, configs, metrics
from alae_tf.metrics import editing as editing_metrics

SIDE, CLASSES = 6, 3


class PixelCodes:
    """A stand-in model whose code is the image itself: E and G are reshapes, so edits are exact."""

    is_style = False
    latent_size = SIDE * SIDE

    def encode(self, images, use_ema=True):
        return tf.reshape(tf.cast(images, tf.float32), (-1, self.latent_size))

    def decode(self, w, use_ema=True, noise_seed=None):
        return tf.reshape(tf.cast(w, tf.float32), (-1, SIDE, SIDE, 1))

    def nets(self, use_ema=True):
        return (None, None, None, None)


class BandJudge:
    """Judges the class by the brightest pair of rows (class c: rows 2c, 2c + 1)."""

    name = "band_judge"
    num_classes = CLASSES

    def __call__(self, images, pixel_range):
        return np.asarray(images, np.float64).reshape(len(images), -1)

    def logits(self, features):
        rows = features.reshape(len(features), SIDE, SIDE).mean(axis=2)
        return rows.reshape(len(features), CLASSES, 2).mean(axis=2)


def toy_images(n, seed):
    """uint8 images: a band of class `label` at about 150, the rest about 40, noisy."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, n)
    images = rng.normal(40.0, 8.0, size=(n, SIDE, SIDE, 1))
    for i, label in enumerate(labels):
        images[i, 2 * label : 2 * label + 2] += 110.0 + rng.normal(0.0, 20.0)
    return np.clip(images, 0, 255).astype(np.uint8), labels.astype(np.int64)


@pytest.fixture(scope="module")
def ctx():
    train_images, train_labels = toy_images(600, 1)
    test_images, test_labels = toy_images(300, 2)
    return metrics.EvalContext(
        model=PixelCodes(),
        train_images=train_images,
        train_labels=train_labels,
        test_images=test_images,
        test_labels=test_labels,
        pixel_range=(0.0, 1.0),
        batch_size=128,
        features=BandJudge(),
        num_samples=300,
    )


def test_class_edits_reach_the_target_when_the_code_is_the_image(ctx):
    results = editing_metrics.class_edit(ctx, images_per_class=40, select_per_class=20)
    assert results["class_edit_kind"] in editing_metrics.CLASS_EDIT_KINDS
    # Strength 1 moves a code onto the target's class mean, which the judge reads as the target.
    assert results["class_edit_curves"]["class_mean"][1] == pytest.approx(1.0, abs=0.02)
    assert results["class_edit_curves"]["class_mean"][0] < 0.9  # half way is not always there
    assert results["class_edit_success"] > 0.98
    # Transport at strength 1 lands each code in the target class's Gaussian; half way it is still short.
    transport = results["class_edit_curves"]["class_transport"]
    assert results["class_edit_strengths"]["class_transport"][2] == 1.0
    assert transport[2] > 0.98 and transport[0] < 0.9, transport
    matrix = np.array([[np.nan if v is None else v for v in row] for row in results["class_edit_matrix"]])
    assert matrix.shape == (CLASSES, CLASSES) and np.isnan(np.diag(matrix)).all()


def test_linear_directions_point_from_source_to_target(ctx):
    directions = editing_metrics.class_edit_directions(
        ctx.train_codes.astype(np.float64), ctx.train_labels, "linear", CLASSES
    )
    assert len(directions) == CLASSES * (CLASSES - 1)
    judge = BandJudge()
    for (source, target), vector in directions.items():
        rows = judge.logits(vector[None])[0]
        assert rows[target] > 0 > rows[source], (source, target, rows)


def test_ink_edits_track_strength_and_keep_the_band(ctx):
    results = editing_metrics.ink_edit(ctx, images=200)
    assert results["ink_edit_rank_correlation"] > 0.95
    assert results["ink_edit_strength_at_target"] > 0
    assert results["ink_edit_class_kept_at_target"] > 0.95
    change = np.asarray(results["ink_edit_mean_change"])
    assert np.all(np.diff(change) > 0) and change[len(change) // 2] == 0.0
    # Codes are pixels and so are the judge's features: the edit moves along ink and little else (what is left
    # is the angle between the training split's ink direction and the evaluation split's).
    drift = np.asarray(results["ink_edit_off_attribute_drift"])
    assert drift[len(drift) // 2] == 0.0 and results["ink_edit_off_attribute_drift_at_target"] < 0.25


def test_off_attribute_drift_counts_only_what_leaves_the_attribute_axis():
    axis = np.array([1.0, 0.0, 0.0])
    change = np.array(
        [
            [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]],  # no edit
            [[5.0, 0.0, 0.0], [-3.0, 0.0, 0.0]],  # along the attribute only
            [[1.0, 2.0, 0.0], [0.0, 0.0, 2.0]],  # 2 off the axis each
        ]
    )
    np.testing.assert_allclose(editing_metrics.off_attribute_drift(change, axis, spread=4.0), [0.0, 0.0, 0.5])


def test_latent_edits_are_consistent_when_e_inverts_g(ctx):
    results = editing_metrics.latent_edit_consistency(ctx, images=200)
    assert results["lec_relative"] < 0.05 and results["lec_edit_length"] > 1.0


def test_spearman_and_crossing():
    x = np.arange(10.0)
    assert editing_metrics.spearman(x, x**3) == pytest.approx(1.0)
    assert editing_metrics.spearman(x, -x) == pytest.approx(-1.0)
    assert editing_metrics.spearman([1, 2, 2, 3], [1, 2, 2, 3]) == pytest.approx(1.0)  # ties share a rank
    assert editing_metrics._crossing(np.array([0.0, 1.0, 2.0]), np.array([0.0, 0.1, 0.3]), 0.2) == pytest.approx(1.5)
    assert editing_metrics._crossing(np.array([0.0, 1.0]), np.array([0.0, 0.1]), 0.2) is None


def test_low_and_high_pass_split_an_image_exactly():
    images = tf.random.stateless_uniform((2, 16, 16, 3), seed=(1, 2))
    low, high = editing_metrics.low_and_high_pass(images)
    assert low.shape == (2, 4, 4, 3) and high.shape == images.shape
    np.testing.assert_allclose(tf.repeat(tf.repeat(low, 4, 1), 4, 2) + high, images, atol=1e-6)


def test_style_mix_needs_style_nets_and_reports_shares(ctx):
    with pytest.raises(ValueError, match="style nets"):
        editing_metrics.style_mix(ctx)
    config = configs.PRESETS["faces_tiny"]
    model = builders.build_compiled_model(config, seed=1)
    images = np.random.default_rng(0).integers(0, 255, size=(20, 32, 32, 3), dtype=np.uint8)
    style_ctx = metrics.EvalContext(
        model=model,
        train_images=images,
        train_labels=None,
        test_images=images,
        test_labels=None,
        pixel_range=config.pixel_range,
        batch_size=10,
    )
    results = editing_metrics.style_mix(style_ctx, pairs=10)
    assert results["style_mix_pairs"] == 10 and 0 < results["style_mix_cutoff"] < 2 * config.layer_count
    for key in (
        "style_mix_low_closer_to_coarse",
        "style_mix_high_closer_to_fine",
        "style_mix_both",
        "style_mix_layout_closer_to_coarse",
    ):
        assert 0.0 <= results[key] <= 1.0


def test_layout_ignores_colour_and_contrast_but_not_where_things_are():
    rng = np.random.default_rng(3)
    grey = rng.uniform(-1, 1, size=(1, 32, 32, 1)).astype(np.float32)
    image = np.concatenate([grey, grey, grey], axis=-1)
    recoloured = 0.5 * image + np.array([0.3, -0.2, 0.1], np.float32)  # other colours and contrast, same layout
    moved = image[:, ::-1]  # upside down
    base = editing_metrics.layout(tf.constant(image))
    assert base.shape == (1, 8, 8, 1)
    np.testing.assert_allclose(editing_metrics.layout(tf.constant(recoloured)), base, atol=1e-4)
    assert float(tf.reduce_mean(tf.square(editing_metrics.layout(tf.constant(moved)) - base))) > 0.01
