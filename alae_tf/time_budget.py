"""`--train_minutes`: a run's length in images from a time budget, measured on the machine it runs on.

A user with N minutes wants the best model this machine makes in N minutes, not a fixed image count
that takes 12 minutes on one CPU and an hour on another. `plan_length` times the real training step
of the run's config (`precision.measure_step`: its nets, optimizers, batch and precision; for style
nets every level the run can reach, each at its own batch size; a refinement phase's own, cheaper
step too) for a few seconds, then walks the growth schedule: the run gets as many images as fit in
the budget at those rates, less the time the measurement itself took and a margin for what the step
timing does not see (the data stream, checkpoints and sample grids, about 5 % in the demo's run).

The length then drives everything a `--train_images` length drives (the learning-rate decay over
the run, the growth schedule's end), and it is written to `WORKDIR/time_budget.json`: a resumed run
reads it back and trains to the same length, so being killed does not change what the run trains,
and the budget is not spent again on measuring.
"""

from __future__ import annotations

import json
import math
import time

from absl import logging

from alae_tf import atomic, storage
from alae_tf import precision as precision_lib

PLAN_NAME = "time_budget.json"
# Share of the budget the step timing does not see (data stream, checkpoints, grids): the demo's
# fit loop ran at 0.95 of its measured step rate with a checkpoint every 250k images.
LOOP_OVERHEAD = 0.08
MEASURE_SECONDS = 5.0


class TimeBudgetError(ValueError):
    """The budget cannot be planned: too short for one batch, or the workdir was planned for another."""


def plan_length(
    config,
    minutes: float,
    workdir,
    precision: str,
    measure=None,
    clock=time.monotonic,
    seconds: float = MEASURE_SECONDS,
) -> int:
    """Images the run trains in `minutes`: measured now, or read back from `workdir`'s earlier plan.

    `measure(config, policy, seconds=, level=)` gives images/s (default `precision.measure_step`), `clock` the time
    the measurement takes out of the budget. Raises `TimeBudgetError` when the budget does not hold
    one batch, or when `workdir` holds a plan for another budget (its length would change mid-run).
    """
    if not minutes > 0 or not math.isfinite(minutes):
        raise TimeBudgetError(f"train_minutes must be a positive number, got {minutes!r}")
    path = storage.path(workdir) / PLAN_NAME
    planned = _read_plan(path)
    if planned is not None:
        if not math.isclose(planned["minutes"], minutes):
            raise TimeBudgetError(
                f"{workdir} was planned for --train_minutes={planned['minutes']:g} ({planned['train_images']} "
                f"images); resume it with that value, or give --train_images to set another length"
            )
        logging.info("--train_minutes=%g: %d images, as planned in %s", minutes, planned["train_images"], path)
        return int(planned["train_images"])

    measure = measure or precision_lib.measure_step
    start = clock()
    schedule = config.growth_schedule()
    levels = range(schedule.max_level + 1) if config.model == "style" else [None]
    rates = {level: float(measure(config, precision, seconds=seconds, level=level)) for level in levels}
    refinement = config.refinement()
    if refinement.fraction:
        rates["refine"] = float(measure(config, precision, seconds=seconds, level=None, refining=True))
    budget = minutes * 60.0 * (1.0 - LOOP_OVERHEAD) - (clock() - start)
    train_images = images_within(schedule, rates, budget, refinement.fraction)
    if train_images < 1:
        raise TimeBudgetError(
            f"--train_minutes={minutes:g} holds no whole batch here (measuring took {clock() - start:.0f} s, "
            f"the step runs at {', '.join(f'{r:.0f}' for r in rates.values())} images/s)"
        )
    plan = {
        "minutes": minutes,
        "train_images": train_images,
        "precision": precision,
        "images_per_second": {str(level): rate for level, rate in rates.items()},
        "machine": precision_lib.machine_key(),
    }
    atomic.write_text(path, json.dumps(plan, indent=2, sort_keys=True))
    logging.info("--train_minutes=%g: %d images at %s images/s", minutes, train_images, plan["images_per_second"])
    return train_images


def images_within(schedule, rates: dict, seconds: float, refine_fraction: float = 0.0) -> int:
    """Images a run following `schedule` trains in `seconds` at `rates` (images/s per level; MLP: {None: r}).

    Levels follow each other as the schedule says (each `level_images` long, the last open-ended); the
    count ends on a whole batch of the level it ends in. MLP runs with a refinement phase spend its
    share of the images at `rates["refine"]`.
    """
    if None in rates:
        batch = schedule.batch_size(0)
        seconds_per_image = (1.0 - refine_fraction) / rates[None] + (
            refine_fraction / rates["refine"] if refine_fraction else 0.0
        )
        return int(max(seconds, 0.0) / seconds_per_image) // batch * batch
    images, left = 0, max(seconds, 0.0)
    for level in range(schedule.max_level + 1):
        batch, rate = schedule.batch_size(level), rates[level]
        span = schedule.level_images(level) if level < schedule.max_level else math.inf
        if left * rate < span:
            return images + int(left * rate) // batch * batch
        images, left = images + span, left - span / rate
    return images  # not reached: the last level is open-ended


def _read_plan(path):
    if not path.exists():
        return None
    try:
        plan = json.loads(path.read_text())
        return {"minutes": float(plan["minutes"]), "train_images": int(plan["train_images"])}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise TimeBudgetError(
            f"{path} is damaged ({e}): the run's planned length is lost; give --train_images to set it"
        ) from e
