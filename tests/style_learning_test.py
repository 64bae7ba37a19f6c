"""A learning StyleALAE, in under a minute: the CI guard against regressions in the style nets' learning.

`faces_micro` (nets of a few hundred parameters) grows 4 -> 8 px on the 146 faces of ../shared/data/faces128
for `IMAGES` images, with step III's pixel term (weight 10, as the demo's recipe), seed 0, float32. The loss
curves must move as a learning ALAE's do and the EMA nets' reconstructions must beat the mean face clearly.
The bounds sit well inside what the run gives (measured numbers beside each), so seed and machine noise pass
and a broken step fails.
"""

import numpy as np
import pytest

from alae_tf import configs, data, evaluation, report, training
from alae_tf.workdir import pool_to_resolution
from tests.conftest import FACES, needs_faces

IMAGES = 8_000
CONFIG = configs.PRESETS["faces_micro"].replace(
    dataset=f"folder:{FACES}", images_per_level=1_000, train_images=IMAGES, pixel_reconstruction_weight=10.0
)
# Measured (Intel Xeon with AMX, float32, 2026-12-06, seed 0): recon MSE 0.0201 against the mean face's
# 0.0338; loss_ae by quarter 2.38, 2.00, 1.31, 1.03; recon_pixels 0.155, 0.148, 0.100, 0.079; last quarter's
# loss_d 1.34, loss_g 0.78.
RECON_FRACTION_OF_MEAN_FACE = 0.8

pytestmark = needs_faces


def mean_face_mse():
    """MSE (on a [0, 1] scale, as `recon_mse`) of predicting the mean training face at 8 px for every face."""
    faces = data.load_split(CONFIG.dataset, "train", CONFIG.image_shape)
    x = pool_to_resolution(faces.images, CONFIG.image_shape[0]).astype(np.float64) / 255
    return float(np.mean((x - x.mean(axis=0)) ** 2))


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("style_learning")
    options = training.TrainOptions(
        workdir=str(workdir), train_images=IMAGES, seed=0, checkpoint_every_images=IMAGES, log_every_steps=10, verbose=0
    )
    training.train(CONFIG, options)
    results = evaluation.evaluate(workdir, ["recon"], split="train", report=False, batch_size=64)
    return report.read_scalars(workdir / "logs"), results


def quarter_means(values):
    return [float(np.mean(chunk)) for chunk in np.array_split(np.asarray(values), 4)]


def test_style_losses_move_as_a_learning_alaes_do(short_run):
    scalars, _ = short_run
    for tag in ("loss_d", "r1", "loss_g", "loss_ae", "recon_pixels"):
        assert tag in scalars and np.all(np.isfinite(scalars[tag][1])), tag
    latent, pixels = quarter_means(scalars["loss_ae"][1]), quarter_means(scalars["recon_pixels"][1])
    # Autoencoding improves: the last quarter well below the first, and below the one before it.
    assert latent[-1] < 0.7 * latent[0] and latent[-1] < latent[-2], latent
    assert pixels[-1] < 0.7 * pixels[0] and pixels[-1] < pixels[-2], pixels
    # The game stays a game (softplus(0) * 2 = 1.386: a discriminator that cannot tell).
    loss_d, loss_g = quarter_means(scalars["loss_d"][1]), quarter_means(scalars["loss_g"][1])
    assert 0.5 < loss_d[-1] < 2.0 and 0.3 < loss_g[-1] < 2.5, (loss_d, loss_g)


def test_style_reconstructions_beat_the_mean_face(short_run):
    _, results = short_run
    baseline = mean_face_mse()
    assert 0.03 < baseline < 0.04  # the faces at 8 px: 0.0338
    assert results["recon_mse"] < RECON_FRACTION_OF_MEAN_FACE * baseline, (results["recon_mse"], baseline)
