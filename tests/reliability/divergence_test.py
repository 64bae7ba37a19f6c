"""A run whose losses turn NaN stops, names the step and the loss, and never checkpoints the bad weights."""

import pytest

from alae_tf import divergence
from alae_tf.divergence import TrainingDivergedError
from tests.conftest import needs_fashion_mnist
from tests.reliability.conftest import TINY, checkpoints, run_binary, train_tiny, weights_of

pytestmark = needs_fashion_mnist

# Adam's step is about the learning rate per weight: at 1e30 the first step overflows float32.
EXPLODING = TINY.replace(learning_rate=1e30)


def test_nan_losses_stop_the_run_before_a_checkpoint(tmp_path):
    train_tiny(tmp_path, 64)
    before = weights_of(tmp_path)
    with pytest.raises(TrainingDivergedError) as e:
        train_tiny(tmp_path, 256, EXPLODING)
    message = str(e.value)
    assert "training diverged at step 5 (80 images)" in message, message  # the first step after the resume
    assert any(f"{name} = " in message for name in divergence.WATCHED)
    assert "step-000000004" in message and "--learning_rate" in message
    # The newest checkpoint is still the last finite one, untouched.
    assert checkpoints(tmp_path) == ["step-000000002", "step-000000004"]
    after = weights_of(tmp_path)
    for name in before:
        assert (before[name] == after[name]).all(), name


def test_the_binary_exits_non_zero_with_the_message(tmp_path):
    assert run_binary(tmp_path, "--train_images=32").returncode == 0
    result = run_binary(tmp_path, "--train_images=128", "--learning_rate=1e30")
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("alae-train: error: training diverged at step 3 (48 images)"), last
    assert checkpoints(tmp_path) == ["step-000000002"]


def test_weights_that_turn_non_finite_are_caught_too(tmp_path):
    model = train_tiny(tmp_path, 32)
    assert divergence.non_finite_weights(model) == []
    variable = model.encoder.trainable_variables[0]
    variable.assign(variable * float("nan"))
    assert divergence.non_finite_weights(model) == [variable.path]


def test_a_diverging_refinement_phase_stops_the_run_too(tmp_path):
    # 256 images of 16: the game's 8 batches, then 8 of refinement at a rate that overflows.
    config = TINY.replace(train_images=256, refine_fraction=0.5, refine_learning_rate=1e30)
    with pytest.raises(TrainingDivergedError) as e:
        train_tiny(tmp_path, 256, config)
    message = str(e.value)
    # The phase's first update overflows; the next batch's losses show it.
    assert "training diverged at step 10 (160 images)" in message and "refine_pixels = " in message, message
    assert "--refine_learning_rate" in message
    assert checkpoints(tmp_path)[-1] == "step-000000008"  # the phase's start, its last finite weights
