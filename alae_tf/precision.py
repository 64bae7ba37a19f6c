"""`--precision=auto`: the compute precision that trains fastest on this machine, decided by measuring.

CPU flags do not decide it: bf16 runs about twice as fast as float32 on an AMD EPYC with AVX512-BF16 and on
Intel with AMX, but slower on an Intel CPU with AVX512-BF16 and no AMX, and far slower where it is emulated.
So on a CPU, `choose` times the real training step of the run's config (its nets, optimizers and batch, at
the level the run starts from) for a few seconds in float32 and in mixed_bfloat16 and keeps the faster. The
answer is cached in the workdir (`precision.json`) under a key naming the machine (CPU model, flags, core
count, TensorFlow version), so a resumed run does not measure again and a run moved to another machine does.
GPUs take mixed_float16 without measuring (tensor cores; loss-scaled); TPUs mixed_bfloat16.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time

import keras
import tensorflow as tf
from absl import logging

from alae_tf import atomic, builders, storage

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
CANDIDATES = ("float32", "mixed_bfloat16")  # what a CPU can choose between
CACHE_NAME = "precision.json"


def check(precision: str) -> str:
    """`precision` if it is "auto" or one of `PRECISIONS`, else a `ValueError`."""
    if precision != "auto" and precision not in PRECISIONS:
        raise ValueError(f"precision must be 'auto' or one of {PRECISIONS}, got {precision!r}")
    return precision


def machine_key(cpuinfo: str = "/proc/cpuinfo") -> str:
    """What the measurement depends on: CPU model and flags, cores, TensorFlow version (a short hash + text)."""
    model, flags = platform.processor() or platform.machine(), ""
    try:
        with open(cpuinfo) as f:
            for line in f:
                if line.startswith("model name") and model in ("", platform.machine()):
                    model = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = line.split(":", 1)[1].strip()
    except OSError:
        pass
    text = f"{model} | {os.cpu_count()} cores | TF {tf.__version__}"
    digest = hashlib.sha256(f"{text} | {flags}".encode()).hexdigest()[:12]
    return f"{text} | flags {digest}"


def measure_step(
    config,
    policy: str,
    seconds: float = 3.0,
    timer=time.perf_counter,
    seed: int = 0,
    level: int | None = None,
    refining: bool = False,
    jit_compile: bool = False,
) -> float:
    """Images/s of `config`'s full training step (the three updates and the EMA) under `policy`.

    The step is built and traced first (not timed), then run until `seconds` have passed (at least 3 steps).
    Style nets run at `level` (default: the last) with that level's batch size; MLP nets ignore it.
    `refining`: the refinement phase's step instead (`ALAE.refinement_update`; a config with the phase).
    `jit_compile`: the step XLA-compiled, as `alae-train --jit_compile` runs it.
    """
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(policy)
    try:
        model = builders.build_compiled_model(config, seed=seed, jit_compile=jit_compile)
        if model.is_style and level is not None:
            model.set_level(level)
        if refining:
            model.start_refinement()
        batch = config.growth_schedule().batch_size(model.level or 0)
        batch = config.refinement().phase_batch(batch) if refining else batch
        shape = model.at_current_resolution(tf.zeros((1, *config.image_shape))).shape[1:] if model.is_style else None
        shape = tuple(shape) if shape is not None else tuple(config.image_shape)
        low, high = config.pixel_range
        x = tf.random.stateless_uniform((batch, *shape), seed=(seed, 7), minval=low, maxval=high)
        model.train_on_batch(x)  # build and trace
        steps, start = 0, timer()
        while steps < 3 or timer() - start < seconds:
            model.train_on_batch(x)
            steps += 1
        elapsed = max(timer() - start, 1e-9)
        return steps * batch / elapsed
    finally:
        keras.mixed_precision.set_global_policy(previous)  # a caller mid-setup keeps its policy


def choose(config, precision="auto", workdir=None, strategy="default", measure=measure_step, cpuinfo="/proc/cpuinfo"):
    """The precision to train `config` in: `precision` itself unless it is "auto".

    For "auto": mixed_float16 with a GPU, mixed_bfloat16 on a TPU; float32 for a multi-worker run on CPUs
    (each worker would measure on its own and might choose differently) and on CPUs without bf16
    instructions (`bf16_hardware`); otherwise the faster of `CANDIDATES` by `measure(config, policy)`
    (images/s), read from `workdir/precision.json` when this machine measured it before.
    """
    check(precision)
    if precision != "auto":
        return precision
    if tf.config.list_physical_devices("GPU"):
        return "mixed_float16"
    if strategy == "tpu":
        return "mixed_bfloat16"
    if strategy == "multi_worker":
        return "float32"
    if not bf16_hardware(cpuinfo):
        # Without bf16 instructions bf16 is emulated: never faster, far slower on AVX2-only CPUs, where
        # timing its first steps would cost the run the most.
        return "float32"
    key = machine_key(cpuinfo)
    cache = storage.path(workdir) / CACHE_NAME if workdir is not None else None
    cached = _read_cache(cache)
    if cached.get(key, {}).get("config") == config.name and cached[key].get("choice") in CANDIDATES:
        return cached[key]["choice"]
    rates = {policy: float(measure(config, policy)) for policy in CANDIDATES}
    choice = max(CANDIDATES, key=lambda policy: rates[policy])  # float32 on a tie: listed first
    logging.info(
        "--precision=auto: %s (%s) on %s",
        choice,
        ", ".join(f"{policy} {rate:.0f} images/s" for policy, rate in rates.items()),
        key,
    )
    if cache is not None:
        cached[key] = {"choice": choice, "images_per_second": rates, "config": config.name}
        atomic.write_text(cache, json.dumps(cached, indent=2, sort_keys=True))
    return choice


def choose_jit_compile(config, precision: str, strategy: str = "default") -> bool:
    """Whether to XLA-compile the train step by default: MLP nets in float32 on one CPU device.

    Measured back to back on 2 cores (benchmarks/results/train_throughput_xla.json): XLA runs the MLP
    step 1.2x faster in float32 on an AVX512 Xeon and 1.4-1.7x with oneDNN capped at AVX2, but bf16 (no
    AMX path in XLA's CPU backend) and the style nets' convolutions run slower under it. GPUs and TPUs keep
    Keras's default (off; TPUs compile anyway), and mirrored / multi-worker runs cannot use it.
    """
    return (
        config.model == "mlp"
        and precision == "float32"
        and strategy in ("default",)
        and not tf.config.list_physical_devices("GPU")
    )


def _read_cache(path) -> dict:
    if path is None or not path.exists():
        return {}
    try:
        cached = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}  # a damaged cache is measured again, and rewritten
    return cached if isinstance(cached, dict) and all(isinstance(v, dict) for v in cached.values()) else {}


def bf16_hardware(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether the CPU has bf16 dot-product instructions (AVX512-BF16 or AMX).

    Having them does not make bf16 faster (an Intel CPU with AVX512-BF16 and no AMX runs it slower), so
    `choose` measures; lacking them makes it slower, so `choose` does not.
    """
    try:
        text = open(cpuinfo).read()
    except OSError:
        return False
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return bool({"avx512_bf16", "amx_bf16"} & set(flags))
