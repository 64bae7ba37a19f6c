"""Learning-rate decay as a function of the image count."""

import math

import pytest

from alae_tf.schedules import LearningRateDecay, Refinement


def test_none_is_constant():
    decay = LearningRateDecay()
    assert [decay.factor(i, 1000) for i in (0, 500, 1000, 5000)] == [1.0] * 4


@pytest.mark.parametrize("kind, middle", [("cosine", 0.5), ("linear", 0.5)])
def test_decay_holds_until_start_then_falls_to_final(kind, middle):
    decay = LearningRateDecay(kind, start=0.5, final=0.1)
    assert decay.factor(0, 1000) == 1.0 and decay.factor(500, 1000) == 1.0
    assert decay.factor(750, 1000) == pytest.approx(0.1 + 0.9 * middle)
    assert decay.factor(1000, 1000) == pytest.approx(0.1)
    assert decay.factor(2000, 1000) == pytest.approx(0.1)  # past the run's end it stays at final


def test_cosine_shape():
    decay = LearningRateDecay("cosine")
    assert decay.factor(250, 1000) == pytest.approx((1 + math.cos(math.pi / 4)) / 2)
    assert LearningRateDecay("linear").factor(250, 1000) == pytest.approx(0.75)


@pytest.mark.parametrize("kwargs", [dict(kind="step"), dict(kind="cosine", start=1.0), dict(kind="linear", final=1.5)])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError, match="learning-rate decay"):
        LearningRateDecay(**kwargs)


def test_refinement_starts_on_a_whole_batch_and_its_rate_falls_to_zero():
    phase = Refinement(0.5, 0.004)
    assert phase.start(256, 16) == 128 and phase.start(250, 16) == 128  # 16 batches (the last one ends at 256)
    assert Refinement(0.0).start(256, 16) is None
    assert phase.learning_rate_at(128, 256, 16) == pytest.approx(0.004)
    assert phase.learning_rate_at(192, 256, 16) == pytest.approx(0.002)
    assert phase.learning_rate_at(240, 256, 16) == pytest.approx(0.004 / 8)  # the last batch: 1/8 of the rate


def test_a_refinement_at_its_own_batch_size_covers_the_same_images():
    # 320 images at 16: the phase starts at 160 and ends with the batch of 48 that reaches 320 (4 of them).
    phase = Refinement(0.5, 0.004, batch_size=48)
    assert phase.phase_batch(16) == 48 and Refinement(0.5).phase_batch(16) == 16
    assert phase.phase_steps(0, 320, 16, 320) == (10, 4)
    assert phase.phase_steps(160 + 48, 320, 16, 320) == (0, 3)  # resumed inside the phase: the steps left
    assert phase.phase_steps(352, 320, 16, 320) == (0, 0)  # finished
    assert phase.phase_steps(0, 150, 16, 320) == (10, 0)  # a shorter call stops before the phase
    assert Refinement(0.0).phase_steps(32, 320, 16, 320) == (18, 0)
    # The rate is keyed to the run's batches, so it falls the same whatever the phase's batch.
    assert phase.learning_rate_at(160 + 3 * 48, 320, 16) == pytest.approx(
        Refinement(0.5, 0.004).learning_rate_at(304, 320, 16)
    )


@pytest.mark.parametrize(
    "kwargs",
    [dict(fraction=1.0), dict(fraction=-0.1), dict(fraction=0.5, learning_rate=0.0), dict(fraction=0.5, batch_size=0)],
)
def test_bad_refinements_are_refused(kwargs):
    with pytest.raises(ValueError, match="refine_"):
        Refinement(**kwargs)
