"""The quality-per-FLOP cost axis (`benchmarks/step_cost.py`) counts what the step runs."""

import pytest

from alae_tf import configs
from benchmarks import step_cost

TINY = configs.PRESETS["mnist_mlp_tiny"]


def test_lazy_r1_costs_the_interval_weighted_mean_of_steps_with_and_without_it():
    every = step_cost.training_flops_per_image(TINY)
    without = step_cost.step_flops(TINY, with_r1=False) / TINY.batch_size
    lazy = step_cost.training_flops_per_image(TINY.replace(r1_interval=4))
    assert without < every  # R1's double backward is real arithmetic
    assert lazy == pytest.approx((every + 3 * without) / 4, rel=1e-12)


def test_cost_grows_with_width_and_the_pixel_term():
    base = step_cost.training_flops_per_image(TINY)
    assert step_cost.training_flops_per_image(TINY.replace(hidden_units=(64, 64))) > 2 * base
    assert step_cost.training_flops_per_image(TINY.replace(pixel_reconstruction_weight=1.0)) > base


def test_the_old_demo_is_the_recipe_quality_md_costs():
    old = step_cost.OLD_DEMO
    assert (old.hidden_units, old.latent_size, old.pixel_reconstruction_weight) == ((1024, 1024), 256, 10.0)
    assert (old.r1_interval, old.r1_gamma, old.learning_rate, old.train_images) == (1, 10.0, 0.002, 2_500_000)


def test_a_refinement_phase_is_costed_at_its_own_step():
    refined = TINY.replace(refine_fraction=0.5)
    game, phase = step_cost.training_flops_per_image(TINY), step_cost.refinement_flops_per_image(refined)
    assert 0.2 * game < phase < 0.6 * game  # E and G on two batches, without D, R1 or F's update
    # 320 images: 10 batches of the game, then 10 of the phase.
    assert step_cost.training_flops(refined, 320) == pytest.approx(160 * game + 160 * phase, rel=1e-12)
    assert step_cost.training_flops(TINY, 320) == pytest.approx(320 * game, rel=1e-12)
