"""`--train_minutes`: the run's length from a measured rate, kept by a resume (`alae_tf.time_budget`)."""

import dataclasses
import json

import numpy as np
import pytest

from alae_tf import configs, time_budget, training
from alae_tf.growing import GrowthSchedule
from tests.conftest import needs_fashion_mnist

TINY = configs.PRESETS["mnist_mlp_tiny"]
STYLE = configs.PRESETS["faces_micro"]


class FakeClock:
    """Advances `step` seconds on every reading: measuring "takes" time."""

    def __init__(self, step):
        self.now, self.step = 0.0, step

    def __call__(self):
        self.now += self.step
        return self.now


def fake_measure(rates, calls):
    def measure(config, policy, seconds, level=None, refining=False):
        calls.append((policy, "refine" if refining else level))
        return rates["refine" if refining else level]

    return measure


def test_mlp_length_is_rate_times_budget_less_measuring_and_overhead(tmp_path):
    calls = []
    got = time_budget.plan_length(
        TINY, 2.0, tmp_path, "float32", measure=fake_measure({None: 1000.0}, calls), clock=FakeClock(3.0)
    )
    # 120 s, 8 % for the loop, 3 s spent measuring (one clock reading apart), at 1000 images/s, whole batches of 16.
    want = int((120 * (1 - time_budget.LOOP_OVERHEAD) - 3.0) * 1000) // 16 * 16
    assert got == want and calls == [("float32", None)]
    plan = json.loads((tmp_path / time_budget.PLAN_NAME).read_text())
    assert plan["train_images"] == want and plan["minutes"] == 2.0 and plan["precision"] == "float32"


def test_a_refinement_phase_is_planned_at_its_own_rate(tmp_path):
    calls = []
    config = TINY.replace(refine_fraction=0.25)
    rates = {None: 1000.0, "refine": 3000.0}
    got = time_budget.plan_length(
        config, 1.0, tmp_path, "float32", measure=fake_measure(rates, calls), clock=FakeClock(0.0)
    )
    assert calls == [("float32", None), ("float32", "refine")]
    # 55.2 s at 0.75 / 1000 + 0.25 / 3000 s per image: 66,240 images, in whole batches of 16.
    seconds = 60 * (1 - time_budget.LOOP_OVERHEAD)
    assert got == int(seconds / (0.75 / 1000 + 0.25 / 3000)) // 16 * 16
    assert got > time_budget.images_within(config.growth_schedule(), {None: 1000.0}, seconds)


def test_style_length_walks_the_levels_at_their_own_rates():
    schedule = GrowthSchedule(1000, 2, (10, 8, 4), (0.001,))
    rates = {0: 100.0, 1: 50.0, 2: 10.0}
    # Level 0: 1000 images in 10 s; level 1: 1000 (rounded to batches of 8: 1000) in 20 s; then level 2.
    assert time_budget.images_within(schedule, rates, 5.0) == 500
    assert time_budget.images_within(schedule, rates, 10.0 + 5.0) == 1000 + 248  # 250 images cut to batches of 8
    assert time_budget.images_within(schedule, rates, 30.0 + 7.3) == 2000 + 72  # 73 images cut to batches of 4
    assert time_budget.images_within(schedule, rates, 0.0) == 0


def test_style_plan_measures_every_level(tmp_path):
    calls = []
    levels = range(STYLE.layer_count)
    rates = {level: 1000.0 / 2**level for level in levels}
    got = time_budget.plan_length(
        STYLE, 1.0, tmp_path, "mixed_bfloat16", measure=fake_measure(rates, calls), clock=FakeClock(0.0)
    )
    assert sorted(level for _, level in calls) == list(levels)
    assert got == time_budget.images_within(STYLE.growth_schedule(), rates, 60 * (1 - time_budget.LOOP_OVERHEAD))


def test_a_resume_reads_the_plan_and_does_not_measure_again(tmp_path):
    calls = []
    first = time_budget.plan_length(TINY, 1.0, tmp_path, "float32", measure=fake_measure({None: 500.0}, calls))

    def refuse(*args, **kwargs):
        raise AssertionError("measured again on resume")

    assert time_budget.plan_length(TINY, 1.0, tmp_path, "float32", measure=refuse) == first
    with pytest.raises(time_budget.TimeBudgetError, match="planned for --train_minutes=1"):
        time_budget.plan_length(TINY, 2.0, tmp_path, "float32", measure=refuse)
    (tmp_path / time_budget.PLAN_NAME).write_text("{not json")
    with pytest.raises(time_budget.TimeBudgetError, match="damaged"):
        time_budget.plan_length(TINY, 1.0, tmp_path, "float32", measure=refuse)


@pytest.mark.parametrize("minutes", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_budgets_are_refused(tmp_path, minutes):
    with pytest.raises(time_budget.TimeBudgetError, match="positive"):
        time_budget.plan_length(TINY, minutes, tmp_path, "float32", measure=fake_measure({None: 1.0}, []))


def test_a_budget_without_one_batch_is_refused_and_writes_nothing(tmp_path):
    with pytest.raises(time_budget.TimeBudgetError, match="no whole batch"):
        time_budget.plan_length(TINY, 0.01, tmp_path, "float32", measure=fake_measure({None: 1.0}, []))
    assert not (tmp_path / time_budget.PLAN_NAME).exists()


@needs_fashion_mnist
def test_a_budgeted_run_keys_its_decay_to_the_planned_length_and_resumes_exactly(tmp_path, monkeypatch):
    config = TINY.replace(learning_rate_decay="cosine", learning_rate_decay_final=0.1)
    # 1 minute less 8 % at this rate is 330 images, 320 in whole batches (measuring a fake takes well under 1.6 s).
    rate = 330 / (60 * (1 - time_budget.LOOP_OVERHEAD))
    monkeypatch.setattr(time_budget.precision_lib, "measure_step", fake_measure({None: rate}, []))
    opts = dict(seed=7, checkpoint_every_images=64, log_every_steps=2, verbose=0)
    straight = training.train(config.replace(train_images=320), training.TrainOptions(str(tmp_path / "s"), 320, **opts))
    budgeted = training.TrainOptions(str(tmp_path / "b"), train_images=1, train_minutes=1.0, **opts)

    # Killed at 160 images (after a checkpoint), then resumed on a machine that measures ten times slower.
    real = training._train_locked
    monkeypatch.setattr(
        training,
        "_train_locked",
        lambda config, options, *rest: real(config, dataclasses.replace(options, train_images=160), *rest),
    )
    training.train(config, budgeted)
    monkeypatch.setattr(training, "_train_locked", real)
    monkeypatch.setattr(time_budget.precision_lib, "measure_step", fake_measure({None: rate / 10}, []))
    resumed = training.train(config, budgeted)

    assert int(resumed.images_seen.numpy()) == 320
    saved = configs.ALAEConfig.from_json((tmp_path / "b" / "config.json").read_text())
    assert saved.train_images == 320  # the decay spans the planned length
    for a, b, v in zip(straight.weights, resumed.weights, straight.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=v.path)


@pytest.mark.parametrize(
    "argv, error",
    [
        (["--train_images=1000", "--train_minutes=5"], "not both"),
        (["--train_minutes=0"], "positive"),
        (["--train_minutes=-3"], "positive"),
    ],
)
def test_the_flags_refuse_a_bad_or_double_length(argv, error):
    from absl import flags
    from absl.testing import flagsaver

    from alae_tf import config_flags  # noqa: F401  (defines the flags)

    with flagsaver.flagsaver():
        with pytest.raises(flags.IllegalFlagValueError, match=error):
            flags.FLAGS(["alae-train", "--workdir=/tmp/unused", *argv])
