"""A learning ALAE, in about a minute: the fast CI guard against regressions in learning.

The demo's recipe (`mnist_mlp_demo`) shortened to `IMAGES` images on Fashion-MNIST, in
float32 (the same numbers on every CPU), seed 0: the ALAE game, then its refinement phase. It
checks the loss curves move as a learning ALAE's do, that the refinement lowers the
reconstruction error while G keeps its samples, and that the EMA nets reconstruct and encode
far better than the stated baselines. The bounds sit well inside what the run gives (measured numbers beside each), so
seed and machine noise pass and a broken step fails. The full-length quality bar is checked
by the slow tests (`tests/quality_test.py`) and `benchmarks/quality_curves.py`.
"""

import numpy as np
import pytest

from alae_tf import configs, evaluation, report, training
from tests.training_test import needs_fmnist

IMAGES = 180_000
# Baselines on the Fashion-MNIST test split (on a [0, 1] pixel scale): predicting the mean
# training image for every test image gives MSE 0.0866; 5-NN on a random untrained 50-d
# MLP encoder 0.818 and on raw pixels 0.855 (measured with the quality bar: benchmarks/quality.md).
MEAN_IMAGE_MSE = 0.0866
# Measured (Intel Xeon, float32, 2026-12-07, the recipe with its edge term): recon MSE 0.0269, 5-NN 0.836;
# loss_ae by quarter of the game 2.60, 1.38, 1.10, 0.94; recon_pixels 0.096, 0.049, 0.038, 0.032; the
# game's last quarter loss_d 1.35, loss_g 0.82; then the refinement (with its edge term, since 2026-12-07): pixel
# error 0.031, 0.028 by half, ending below the game's last step (0.030), edge term 0.0095, 0.0073, G's drift from its
# samples 0.002-0.003; about 30 s on 2 cores.
RECON_MSE_BOUND = 0.035
KNN5_FLOOR = 0.83  # above the random encoder's 0.818

pytestmark = needs_fmnist


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("learning")
    config = configs.PRESETS["mnist_mlp_demo"].replace(train_images=IMAGES)
    training.train(
        config,
        training.TrainOptions(
            workdir=str(workdir),
            train_images=IMAGES,
            seed=0,
            checkpoint_every_images=IMAGES,
            log_every_steps=25,
            verbose=0,
        ),
    )
    results = evaluation.evaluate(workdir, ["knn5", "recon"], options={"num_samples": 2000}, report=False)
    return report.read_scalars(workdir / "logs"), results


def window_means(values, parts=4):
    """Means of `values` over `parts` consecutive windows (first ... last)."""
    return [float(np.mean(chunk)) for chunk in np.array_split(np.asarray(values), parts)]


def test_losses_move_as_a_learning_alaes_do(short_run):
    scalars, _ = short_run
    for tag in ("loss_d", "r1", "loss_g", "loss_ae", "recon_pixels"):
        assert tag in scalars and np.all(np.isfinite(scalars[tag][1])), tag
    latent = window_means(scalars["loss_ae"][1])
    pixels = window_means(scalars["recon_pixels"][1])
    # The autoencoding losses fall steadily: each quarter below the one before, the last far below the first.
    assert all(b < a for a, b in zip(latent, latent[1:])) and latent[-1] < 0.5 * latent[0], latent
    assert all(b < a for a, b in zip(pixels, pixels[1:])) and pixels[-1] < 0.5 * pixels[0], pixels
    # The adversarial game stays a game: neither side wins outright. softplus(0) * 2 = 1.386 is
    # a discriminator that cannot tell; near 0 it always can (G gets no signal), far above
    # it G always fools it.
    loss_d, loss_g = window_means(scalars["loss_d"][1]), window_means(scalars["loss_g"][1])
    assert 0.5 < loss_d[-1] < 1.6 and 0.4 < loss_g[-1] < 2.5, (loss_d, loss_g)
    # R1 is on and non-trivial (the discriminator's input gradient is penalized).
    assert np.mean(scalars["r1"][1]) > 1e-4


def test_the_refinement_lowers_the_pixel_error_and_holds_the_samples(short_run):
    scalars, _ = short_run
    pixels, anchor = window_means(scalars["refine_pixels"][1], 2), window_means(scalars["refine_anchor"][1], 2)
    edges = window_means(scalars["refine_edges"][1], 2)
    game_end = scalars["recon_pixels"][1][-1]
    # The edge term trades some pixel error for steep edges at first; by the phase's end both are lower.
    assert pixels[-1] < pixels[0] and pixels[-1] < game_end, (pixels, game_end)
    assert edges[-1] < edges[0], edges
    # G's drift from the samples it drew when the phase began stays a small fraction of the pixel error.
    assert anchor[-1] < 0.25 * pixels[-1], (anchor, pixels)


def test_reconstructions_and_codes_beat_the_baselines(short_run):
    _, results = short_run
    assert results["recon_mse"] < RECON_MSE_BOUND < MEAN_IMAGE_MSE, results
    assert results["knn5_accuracy"] > KNN5_FLOOR, results
