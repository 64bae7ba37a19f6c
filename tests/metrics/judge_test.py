"""The judge metrics and the high-frequency ratio against answers known by construction."""

import numpy as np
import pytest
import tensorflow as tf

from alae_tf import metrics
from alae_tf.metrics.judge import laplacian_energy
from alae_tf.probes import class_mean_codes
from tests.metrics.stand_in import StandIn

NUM_CLASSES = 4


class BrightnessJudge:
    """A judge with a class head: the feature is the mean pixel, class c covers [c/4, (c+1)/4)."""

    name = "brightness"
    num_classes = NUM_CLASSES

    def __call__(self, images, pixel_range):
        lo, hi = pixel_range
        unit = (np.asarray(images, np.float64) - lo) / (hi - lo)
        return unit.reshape(len(unit), -1).mean(axis=1, keepdims=True)

    def logits(self, features):
        centres = (np.arange(NUM_CLASSES) + 0.5) / NUM_CLASSES
        return -np.abs(np.asarray(features) - centres[None, :])  # the nearest centre scores highest


def flat_images(labels, size=6):
    """uint8 `[N, size, size, 1]`: class c is a flat image at the centre of its brightness band."""
    values = np.round((np.asarray(labels) + 0.5) / NUM_CLASSES * 255).astype(np.uint8)
    return np.broadcast_to(values[:, None, None, None], (len(labels), size, size, 1)).copy()


def context(model, labels, **options):
    images = flat_images(labels)
    return metrics.EvalContext(
        model=model,
        train_images=images,
        train_labels=labels,
        test_images=images,
        test_labels=labels,
        pixel_range=(0.0, 1.0),
        features=BrightnessJudge(),
        batch_size=7,
        **options,
    )


LABELS = np.arange(40) % NUM_CLASSES


def test_identity_reconstructions_keep_every_class():
    got = metrics.compute(["recon_class"], context(StandIn(), LABELS))
    assert got["judge_accuracy_real"] == 1.0
    assert got["recon_class_kept"] == 1.0 and got["recon_class_agreement"] == 1.0
    assert got["recon_class_samples"] == len(LABELS)


def test_reconstructions_that_brighten_lose_the_class_they_move_out_of():
    # +0.25 moves every image one band up; the top class clips to 1.0 and stays in its band.
    model = StandIn(generator=lambda w, training=False: w + 0.25)
    got = metrics.compute(["recon_class"], context(model, LABELS))
    assert got["recon_class_kept"] == pytest.approx(0.25)
    assert got["recon_class_kept_relative"] == pytest.approx(0.25)
    # Per class: every class but the top one is lost, each to the class above it.
    assert got["recon_class_kept_per_class"] == [0.0, 0.0, 0.0, 1.0]
    assert got["judge_accuracy_real_per_class"] == [1.0] * NUM_CLASSES
    assert got["recon_class_lost_to"] == [1, 2, 3, None]


def test_per_class_results_mark_a_class_missing_from_the_labels():
    labels = np.arange(30) % 3  # no image of the top class
    got = metrics.compute(["recon_class"], context(StandIn(), labels))
    assert got["recon_class_kept_per_class"] == [1.0, 1.0, 1.0, None]
    assert got["recon_class_lost_to"] == [None] * NUM_CLASSES


def test_class_coverage_counts_the_judged_classes_of_samples():
    # Samples G(F(z)): z of size 1 broadcast to a flat image; its mean picks the band.
    latent = 1

    def generator(w, training=False):
        return tf.broadcast_to(tf.sigmoid(3.0 * w)[:, None, None, :], (tf.shape(w)[0], 6, 6, 1))

    model = StandIn(generator=generator, latent_size=latent)
    got = metrics.compute(["class_coverage"], context(model, LABELS, num_samples=4000))
    fractions = np.array(got["sample_class_fractions"])
    assert fractions.sum() == pytest.approx(1.0)
    # sigmoid(3z) for z ~ N(0, 1) falls below 0.25 with probability Phi(logit(0.25) / 3) = Phi(-0.366) = 0.357.
    assert fractions[0] == pytest.approx(0.357, abs=0.03) and fractions[3] == pytest.approx(0.357, abs=0.03)
    assert got["sample_class_min_fraction"] == pytest.approx(fractions.min())
    assert 0.9 < got["sample_class_entropy_ratio"] < 1.0

    collapsed = StandIn(generator=lambda w, training=False: tf.zeros((tf.shape(w)[0], 6, 6, 1)), latent_size=latent)
    got = metrics.compute(["class_coverage"], context(collapsed, LABELS, num_samples=100))
    assert got["sample_class_fractions"] == [1.0, 0.0, 0.0, 0.0]
    assert got["sample_class_min_fraction"] == 0.0 and got["sample_class_entropy_ratio"] == 0.0


def test_class_mean_codes():
    codes = np.array([[0.0, 1.0], [2.0, 3.0], [10.0, 10.0]])
    np.testing.assert_allclose(class_mean_codes(codes, np.array([0, 0, 1])), [[1.0, 2.0], [10.0, 10.0]])


def test_class_mean_edits_reach_their_target_when_codes_are_linear_in_class():
    # E flattens and G unflattens: w is the image, class means are the band centres, so
    # w + mean[target] - mean[label] is exactly a flat image of the target band.
    flatten = StandIn(
        encoder=lambda x, training=False: tf.reshape(x, (-1, 36)),
        generator=lambda w, training=False: tf.reshape(w, (-1, 6, 6, 1)),
    )
    got = metrics.compute(["class_mean_edit"], context(flatten, LABELS))
    assert got["class_mean_edit_success"] == 1.0 and got["class_mean_edit_samples"] == len(LABELS)

    # A decoder that ignores w draws class 0 whatever the target: it succeeds only where the
    # target happens to be class 0 (a third of the targets of classes 1-3, none of class 0's).
    frozen = StandIn(encoder=flatten.encoder, generator=lambda w, training=False: tf.zeros((tf.shape(w)[0], 6, 6, 1)))
    got = metrics.compute(["class_mean_edit"], context(frozen, LABELS))
    assert 0.1 < got["class_mean_edit_success"] < 0.4


def test_laplacian_energy_by_hand():
    flat = np.full((1, 5, 5, 1), 0.3, np.float32)
    assert float(laplacian_energy(flat)[0]) == pytest.approx(0.0, abs=1e-12)
    # One bright pixel in the centre of a 5x5 map: of the 3x3 valid positions, the centre
    # sees -4 and its four neighbours see 1; the corners see 0. Mean of squares: 20 / 9.
    spot = np.zeros((1, 5, 5, 1), np.float32)
    spot[0, 2, 2, 0] = 1.0
    assert float(laplacian_energy(spot)[0]) == pytest.approx(20.0 / 9.0, rel=1e-6)
    # Channels are separate.
    two = np.concatenate([spot, flat], axis=-1)
    assert float(laplacian_energy(two)[0]) == pytest.approx(10.0 / 9.0, rel=1e-6)


def test_hf_ratio_reads_one_for_copies_above_for_speckle_and_below_for_blur():
    rng = np.random.default_rng(0)
    images = (rng.uniform(size=(64, 8, 8, 1)) * 255).astype(np.uint8)

    def ratio(filter_images):
        def generator(w, training=False):  # samples: z [B, 64] drawn as 8x8 images
            w = tf.reshape(w, (-1, 8, 8, 1)) if w.shape.rank == 2 else w
            return w if filter_images is None else filter_images(w)

        model = StandIn(generator=generator, latent_size=64)
        ctx = metrics.EvalContext(
            model=model,
            train_images=images,
            train_labels=None,
            test_images=images,
            test_labels=None,
            pixel_range=(0.0, 1.0),
            batch_size=16,
            num_samples=64,
        )
        return metrics.compute(["hf_ratio"], ctx)

    got = ratio(None)  # reconstructions are copies
    assert got["recon_hf_ratio"] == pytest.approx(1.0, rel=1e-6)
    blur = lambda x, training=False: tf.nn.avg_pool2d(x, 3, 1, "SAME")  # noqa: E731
    assert ratio(blur)["recon_hf_ratio"] < 0.3
    speckle = lambda x, training=False: x + tf.constant(rng.normal(scale=0.3, size=(1, 8, 8, 1)), tf.float32)  # noqa: E731
    assert ratio(speckle)["recon_hf_ratio"] > 1.1


def test_judge_metrics_refuse_a_feature_network_without_classes():
    class NoHead:
        name = "flat"

        def __call__(self, images, pixel_range):
            return np.asarray(images).reshape(len(images), -1)

    ctx = context(StandIn(), LABELS)
    ctx.features = NoHead()
    with pytest.raises(ValueError, match="no class head"):
        metrics.compute(["recon_class"], ctx)
