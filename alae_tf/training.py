"""The training loop behind `alae-train`: data, model, fit, checkpoints."""

import contextlib
import dataclasses

import keras
import tensorflow as tf
from absl import logging

from alae_tf import atomic, builders, data, distribute, storage, time_budget
from alae_tf import precision as precision_lib
from alae_tf.checkpoint import CheckpointError, CheckpointManager
from alae_tf.configs import ALAEConfig
from alae_tf.divergence import ADVICE, DivergenceGuard, TrainingDivergedError, non_finite_weights
from alae_tf.model import ALAE
from alae_tf.monitor import TrainingMonitor
from alae_tf.run_lock import WorkdirLock

PRECISIONS = precision_lib.PRECISIONS


@dataclasses.dataclass(frozen=True)
class TrainOptions:
    """How to run (not what to train: that is the `ALAEConfig`).

    Attributes:
        workdir: run folder; rerunning on it resumes.
        train_images: the run's total length in images (a later call with a
            larger total continues).
        seed: seeds the initial weights, z and the data order.
        checkpoint_every_images: checkpoint (and grid) period; progressive
            runs also checkpoint at the end of every level.
        log_every_steps: TensorBoard / progress period.
        precision: "float32", "mixed_bfloat16" (the fastest on CPUs with
            AVX512-BF16, and on TPUs) or "mixed_float16" (GPUs; dynamic loss
            scaling per optimizer). Weights, checkpoints and exports stay float32.
        jit_compile: XLA-compile the train step (not with mirrored or
            multi_worker: XLA fails under MirroredStrategy).
        strategy: one of `alae_tf.distribute.STRATEGIES`; batch sizes are
            global (split over the replicas).
        tpu: the TPU's name or address for `strategy="tpu"`.
        data_dir: overrides the dataset's default location.
        bad_images: "skip" (train on the images that decode, name the others in a warning) or "fail"
            (any unreadable image is an error); `max_bad_image_fraction` bounds what "skip" accepts.
        keep_checkpoints: how many checkpoints to keep.
        verbose: 0 silent, 1 progress bar.
        train_minutes: when set, the run's length comes from this time budget instead of
            `train_images` (`alae_tf.time_budget`: measured at the start, kept by a resume).
    """

    workdir: str
    train_images: int
    seed: int = 0
    checkpoint_every_images: int = 60_000
    log_every_steps: int = 50
    precision: str = "float32"
    jit_compile: bool = False
    strategy: str = "default"
    tpu: str | None = None
    data_dir: str | None = None
    bad_images: str = "skip"
    max_bad_image_fraction: float = data.DEFAULT_MAX_BAD_FRACTION
    keep_checkpoints: int = 3
    verbose: int = 1
    train_minutes: float | None = None


def train(config: ALAEConfig, options: TrainOptions) -> ALAE:
    """Train (or resume) `config` in `options.workdir`; returns the model.

    Raises before writing anything when the data is missing or broken
    (`DatasetError`) or the workdir holds another architecture
    (`CheckpointError`).
    """
    if options.precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {options.precision!r}")
    if options.strategy not in distribute.STRATEGIES:
        raise ValueError(f"strategy must be one of {distribute.STRATEGIES}, got {options.strategy!r}")
    if options.train_minutes is not None and options.strategy == "multi_worker":
        raise ValueError("train_minutes: each worker would measure its own length; give the cluster train_images")
    if options.jit_compile and options.strategy in ("mirrored", "multi_worker"):
        raise ValueError(
            f"jit_compile does not work under the {options.strategy} strategy (XLA fails under "
            "MirroredStrategy); train without it"
        )
    keras.mixed_precision.set_global_policy(options.precision)
    try:
        return _train(config, options)
    finally:
        keras.mixed_precision.set_global_policy("float32")


class ScheduleCallback(keras.callbacks.Callback):
    """Sets, before every batch, what the schedules say for the image count reached.

    `model.blend` from the growth schedule (style nets) and both optimizers' learning rate
    from the level's rate times the decay factor (`schedules.LearningRateDecay` over a run
    of `run_images` images: the config's `train_images`, which `alae-train` sets from
    `--train_images`, so a run stopped early and resumed decays as one that never stopped);
    in a refinement phase (MLP nets), the phase's own falling rate (`schedules.Refinement`).
    Functions of `model.images_seen` only, so a resumed run (even mid-fade-in or mid-decay)
    sets exactly what an uninterrupted one would.
    """

    def __init__(self, schedule, decay, run_images, refinement=None):
        super().__init__()
        self.schedule = schedule
        self.decay = decay
        self.run_images = int(run_images)
        self.refinement = refinement
        self._learning_rate = None

    def on_train_batch_begin(self, batch, logs=None):
        images_seen = int(self.model.images_seen.numpy())
        if self.model.is_style:
            self.model.blend.assign(self.schedule.blend_at(images_seen))
        if self.model.refining:
            learning_rate = self.refinement.learning_rate_at(images_seen, self.run_images, self.schedule.batch_size(0))
        else:
            learning_rate = self.schedule.learning_rate(self.schedule.level_at(images_seen)) * self.decay.factor(
                images_seen, self.run_images
            )
        if learning_rate != self._learning_rate:
            set_learning_rate(self.model, learning_rate)
            self._learning_rate = learning_rate


def set_learning_rate(model: ALAE, learning_rate: float) -> None:
    for optimizer in (model.ed_optimizer, model.fg_optimizer):
        optimizer.learning_rate = learning_rate


# The stream comes from one in-memory tensor, not files: multi-worker runs shard it by element.
_SHARD_BY_DATA = tf.data.Options()
_SHARD_BY_DATA.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA


def _train(config, options):
    workdir = storage.path(options.workdir)
    train_set = data.load_split(
        config.dataset,
        "train",
        config.image_shape,
        data_dir=options.data_dir,
        bad_images=options.bad_images,
        max_bad_fraction=options.max_bad_image_fraction,
    )
    strategy = distribute.make_strategy(options.strategy, options.tpu) if options.strategy != "default" else None
    chief = distribute.is_chief(strategy)
    # One writer per workdir (the chief, in a cluster): a second train on it is refused here.
    with WorkdirLock(workdir) if chief else contextlib.nullcontext():
        if options.train_minutes is not None:
            # The length drives the decay and the growth schedule's end, as --train_images would.
            length = time_budget.plan_length(config, options.train_minutes, workdir, options.precision)
            config = config.replace(train_images=length)
            options = dataclasses.replace(options, train_images=length)
        return _train_locked(config, options, workdir, train_set, strategy, chief)


def _train_locked(config, options, workdir, train_set, strategy, chief):
    model = builders.build_compiled_model(config, options.seed, options.jit_compile, strategy)
    manager = CheckpointManager(workdir, model, config, keep=options.keep_checkpoints)
    if chief:
        manager.remove_stale_temps()
    meta = manager.restore(set_aside_damaged=chief)
    _check_workers_resumed_together(strategy, model, manager)
    if meta is not None:
        logging.info("resumed from %s at %d images", manager.latest(), meta["images_seen"])
    builders.place_at_trained_level(model, config)
    if chief:
        atomic.write_text(workdir / "config.json", config.to_json())

    schedule = config.growth_schedule()
    refinement = config.refinement()
    refine_start = refinement.start(config.train_images, config.batch_size)  # the run's length, not this call's
    phases = _split_at_refinement(
        schedule, int(model.images_seen.numpy()), refinement, options.train_images, config.train_images
    )
    total_steps = int(model.step.numpy()) + sum(steps for _, _, steps, _ in phases)
    fixed_z = tf.random.stateless_normal((64, config.latent_size), seed=(options.seed, 2**31 - 1))
    fixed_images = data.to_pixel_range(train_set.images[:32], config.pixel_range)
    # Non-chief workers of a cluster log into their own folder, never over the chief's files.
    monitor_dir = workdir if chief else workdir / f".worker-{strategy.cluster_resolver.task_id}"
    monitor = TrainingMonitor(
        monitor_dir, total_steps, config.pixel_range, fixed_z, fixed_images, options.log_every_steps, options.verbose
    )
    guard = DivergenceGuard()
    decay = config.learning_rate_decay_schedule()
    callbacks = [guard, monitor]  # the guard first: it sees a batch's losses before anything logs them
    if model.is_style or decay.kind != "none" or refine_start is not None:
        callbacks.insert(1, ScheduleCallback(schedule, decay, config.train_images, refinement))
    train_images = tf.constant(train_set.images)  # one copy into TF at full resolution, shared by every stream
    for level, refining, level_steps, batch in phases:
        # One fit() never crosses a level or a phase: both are fixed per trace.
        images_seen = int(model.images_seen.numpy())
        if model.is_style:
            model.set_level(
                level, reset_optimizers=config.reset_optimizers_at_level_change and schedule.is_level_start(images_seen)
            )
        if refining:
            # Entered at its first batch; a run resumed inside it restored the phase's state.
            if images_seen == refine_start:
                model.start_refinement()
            else:
                model.set_refining(True)
            set_learning_rate(model, refinement.learning_rate_at(images_seen, config.train_images, config.batch_size))
        else:
            model.set_refining(False)
            set_learning_rate(model, schedule.learning_rate(level))
        chunk_steps = max(1, options.checkpoint_every_images // batch)
        while level_steps > 0:
            steps = min(chunk_steps, level_steps)
            # A fresh stream per chunk, positioned by images_seen: fit() restarts
            # iterators, and this keeps the data order identical across resumes.
            stream = data.training_batches(
                train_images,
                batch_size=batch,
                seed=options.seed,
                start_image=int(model.images_seen.numpy()),
                pixel_range=config.pixel_range,
                flip=config.flip,
            )
            if model.is_style:
                stream = stream.map(model.at_current_resolution, num_parallel_calls=tf.data.AUTOTUNE)
            if strategy is not None:
                stream = stream.with_options(_SHARD_BY_DATA)
            model.fit(stream, epochs=1, steps_per_epoch=steps, verbose=0, callbacks=callbacks, shuffle=False)
            _check_finite(model, guard, manager)  # before the save: bad weights are never checkpointed
            level_steps -= steps
            if chief:
                manager.save()
            if chief:  # the other workers' grids would be copies of the chief's
                monitor.write_grids()  # also at the end of every level: a chunk never crosses one
    if phases:
        logging.info("trained %d segment(s) with %d train-step trace(s)", len(phases), model.train_step_traces)
    if meta is not None and int(model.step.numpy()) == meta["step"]:
        logging.info("nothing to do: %s already holds %d images", workdir, meta["images_seen"])
    return model


def _split_at_refinement(schedule, images_seen, refinement, stop_images, run_images):
    """`[(level, refining, steps, batch), ...]`: the growth schedule's segments, the refinement split off.

    Without a phase (`refinement.fraction` 0; style nets have none), `schedule.segments` at each level's
    batch size. With one (MLP nets: one level), the three updates at the run's batch size up to the
    phase's start, then the phase at its own batch size to this call's end (`Refinement.phase_steps`).
    """
    batch = schedule.batch_size(0)
    if refinement.start(run_images, batch) is None:
        segments = schedule.segments(images_seen, stop_images)
        return [(level, False, steps, schedule.batch_size(level)) for level, steps in segments]
    game, refine = refinement.phase_steps(images_seen, stop_images, batch, run_images)
    return [(0, False, game, batch)] * bool(game) + [(0, True, refine, refinement.phase_batch(batch))] * bool(refine)


def _check_workers_resumed_together(strategy, model, manager):
    """Raise `CheckpointError` unless every worker of a cluster restored the same step.

    Each worker restores on its own: one that sees another workdir (a local path on each machine) or an
    older listing would train other weights than the chief, silently. One all-gather of the step at start.
    """
    steps = distribute.across_workers(strategy, int(model.step.numpy()))
    if len(set(steps)) > 1:
        raise CheckpointError(
            f"the workers resumed from different steps ({steps}, by replica) in {manager.directory}: every "
            "worker must see the same workdir (one shared folder or bucket, e.g. gs://...)"
        )


def _check_finite(model, guard, manager):
    """Raise `TrainingDivergedError` if the guard stopped the chunk or a weight is not finite."""
    latest = manager.latest()
    kept = f"the newest checkpoint, {latest}, holds the last finite weights" if latest else "no checkpoint was written"
    if guard.failure is not None:
        step, images, losses = guard.failure
        named = ", ".join(f"{name} = {value}" for name, value in losses.items())
        raise TrainingDivergedError(
            f"training diverged at step {step} ({images} images): {named}. Nothing was saved after it: {kept}. "
            + ADVICE
        )
    bad = non_finite_weights(model)
    if bad:
        raise TrainingDivergedError(
            f"training diverged by step {int(model.step.numpy())}: {len(bad)} variable(s) hold NaN or inf "
            f"({', '.join(bad[:3])}). Nothing was saved: {kept}. " + ADVICE
        )
