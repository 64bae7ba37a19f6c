r"""Training throughput of the OFFICIAL PyTorch ALAE code on this machine, timed like train_throughput.py.

`train_throughput.py` compares our step against the official code's images/s; this binary
measures that reference here, so the comparison is made on one machine. It runs in its own
PyTorch virtual environment (it imports neither TensorFlow nor alae_tf) and imports the
official modules from a local copy of github.com/podgorskiy/ALAE; none of that code is kept
in this repository.

Setup (once, outside the repository):

    python3 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install torch==2.13.0 numpy absl-py yacs     # the CPU wheel is enough
    git clone https://github.com/podgorskiy/ALAE /tmp/ALAE
    for rev in 42bcf2e 6becd74; do                                      # StyleALAE; MLP ALAE
        mkdir -p /tmp/official_alae/$rev && git -C /tmp/ALAE archive $rev | tar -x -C /tmp/official_alae/$rev
    done

(`42bcf2e` is `master`, the commit our parity fixtures use; `6becd74` is on branch `mnist_ref`,
the paper's MNIST MLP experiment.) Then, from the repository root:

    flock /tmp/cpu.lock /tmp/torchvenv/bin/python -m benchmarks.official_throughput \
        --official_dir=/tmp/official_alae                               # all cases, several minutes
    /tmp/torchvenv/bin/python -m benchmarks.official_throughput --official_dir=/tmp/official_alae \
        --cases=mnist_mlp --warmup_steps=1 --steps=3                    # a quick check

`flock` keeps timing runs on a shared machine from overlapping (wrap TF benchmarks the same way).

What is timed: one full training iteration exactly as the official loops run it per batch
(`train_alae.py` at 42bcf2e; `Z_GAN.py` with `model_z_gan.Model` at 6becd74):

* step I: `encoder_optimizer.zero_grad()`, `loss_d = model(x, lod, blend, d_train=True, ae=False)`
  (E, D on reals and on generated images, R1 penalty), `backward()`, `encoder_optimizer.step()`;
* step II: `decoder_optimizer.zero_grad()`, `loss_g = model(..., d_train=False, ae=False)`,
  `backward()`, `decoder_optimizer.step()`;
* step III: both `zero_grad()`, `lae = model(..., d_train=True, ae=True)`, `backward()`, both `step()`;
* EMA: `model_s.lerp(model, 0.5 ** (batch / 10000))`;

then the three losses are read with `.item()`. The models are built from the official
`defaults.py` merged with the config (`configs/celeba-hq256.yaml`; `configs/experiment_mnist_fc2.yaml`
for the MLP), with the same constructor arguments as the training scripts. The optimizers are
the official `custom_adam.LREQAdam` with the scripts' param groups (decoder + mapping_f(l);
encoder + mapping_d / mapping_tl), betas (ADAM_BETA_0, ADAM_BETA_1) = (0.0, 0.99), and the
learning rate the scripts' scheduler sets for the level (`TRAIN.LEARNING_RATES[lod]`).

Cases: `celeba-hq256@L` is the StyleALAE with the celeba-hq256 widths (latent 512, 7 layers,
64-512 channels, 8 mapping layers, style mixing 0.9) at level L (4 * 2**L px), batch 32,
blend 1 (no fade-in), random images in [-1, 1] at that resolution; `mnist_mlp` is the MLP
ALAE at lod LAYER_COUNT - 1 (what the script picks with EPOCHS_PER_LOD 0), batch 128, random
28x28 images in [0, 1] (the script's `x / 255`). float32 only: the official code has no other
training precision.

Per case: the first iteration (untimed; its losses must be finite or the case is skipped),
`--warmup_steps` more untimed iterations, then up to `--steps` timed ones (stopping after
`--max_seconds` once 3 are done); images/s = batch / median iteration time.

With `--roofline` (default), one more iteration after the timed ones runs under a FLOP
counter (torch's own per-op formulas, `torch.utils.flop_counter`; convolution backward counts
only the gradients autograd asks for): `gflop_per_step` per iteration, `gflops_per_s` at the
median time, and `percent_of_peak` of torch's best square float32 matmul rate here
(`settings.peak_gflops_per_s`, which train_throughput.py's ceiling uses too).

Left out of the timed loop (no effect on the arithmetic of a step): data loading and the
`x / 127.5 - 1` scaling, the loss tracker (`tracker.update`), the LOD driver's bookkeeping,
checkpoints and sample images. Modules the official files import at module level but that a
step never uses (`dlutils` in 6becd74's net.py) are replaced by stubs when not installed.
"""

import functools
import importlib
import importlib.abc
import importlib.machinery
import math
import os
import pathlib
import random
import subprocess
import sys
import types

import numpy as np
import torch
from absl import app, flags
from torch.utils import flop_counter
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_map

from benchmarks import harness  # (no TensorFlow import at module level)

NAME = "official_throughput"
STYLE_CASES = ("celeba-hq256@0", "celeba-hq256@1", "celeba-hq256@2")
CASES = ("mnist_mlp",) + STYLE_CASES
# Figures measured earlier on another machine (AMD CPU), images/s: what train_throughput.py quoted.
EARLIER_IMAGES_PER_S = {"mnist_mlp": 1175.0, "celeba-hq256@0": 59.0, "celeba-hq256@1": 13.4, "celeba-hq256@2": 3.0}
# Modules of the official repositories that shadow each other between the two commits.
_OFFICIAL_MODULES = ("net", "lreq", "losses", "registry", "utils", "custom_adam", "defaults", "model", "model_z_gan")

FLAGS = flags.FLAGS
flags.DEFINE_string(
    "official_dir",
    "/tmp/official_alae",
    "Folder holding one copy of the official repository "
    "per commit, named by --style_commit and --mlp_commit (see the module docstring).",
)
flags.DEFINE_string("style_commit", "42bcf2e", "Subfolder of --official_dir with the StyleALAE code (master).")
flags.DEFINE_string("mlp_commit", "6becd74", "Subfolder of --official_dir with the MLP ALAE code (mnist_ref).")
flags.DEFINE_string("style_config", "configs/celeba-hq256.yaml", "StyleALAE config, relative to its folder.")
flags.DEFINE_string("mlp_config", "configs/experiment_mnist_fc2.yaml", "MLP config, relative to its folder.")
flags.DEFINE_list("cases", list(CASES), f"Cases to run: {', '.join(CASES)}.")
flags.DEFINE_integer("style_batch_size", 32, "Batch size of the StyleALAE cases.", lower_bound=1)
flags.DEFINE_integer("mlp_batch_size", 128, "Batch size of the MLP case.", lower_bound=1)
flags.DEFINE_integer("threads", 2, "torch.set_num_threads.", lower_bound=1)
flags.DEFINE_integer("warmup_steps", 3, "Untimed iterations after the first one.", lower_bound=0)
flags.DEFINE_integer("steps", 10, "Timed iterations (at most).", lower_bound=1)
flags.DEFINE_float(
    "max_seconds", 90.0, "Stop timing a case after this many seconds, once --min_steps are done.", lower_bound=0.0
)
flags.DEFINE_integer("min_steps", 3, "Timed iterations made even past --max_seconds.", lower_bound=1)
flags.DEFINE_integer("seed", 0, "Seed of torch, random and the input images.")
flags.DEFINE_bool(
    "roofline",
    True,
    "Also count an iteration's FLOPs (torch's FLOP formulas, per executed op) and "
    "rate them against torch's best square float32 matmul GFLOP/s on this machine.",
)
flags.register_validator(
    "cases", lambda values: all(v in CASES for v in values), message=f"--cases must be a subset of {CASES}"
)

COLUMNS = [
    ("case", "case"),
    ("resolution", "px"),
    ("batch_size", "batch"),
    ("build_s", "build s"),
    ("first_step_s", "first step s"),
    ("median_step_s", "step s (median)"),
    ("images_per_s", "images/s"),
    ("earlier_images_per_s", "earlier figure (other machine)"),
    ("steps_timed", "steps"),
    ("gflop_per_step", "GFLOP/iteration"),
    ("gflops_per_s", "GFLOP/s"),
    ("percent_of_peak", "% of peak"),
]


# ------------------------------------------------------------------ official code
def _stub_missing(name, **attributes):
    """Put a stand-in module `name` (and its parents) into sys.modules unless it imports for real."""
    try:
        importlib.import_module(name)
        return []
    except ImportError:
        pass
    stubbed = []
    parts = name.split(".")
    for i in range(1, len(parts) + 1):
        module_name = ".".join(parts[:i])
        if module_name not in sys.modules:
            module = types.ModuleType(module_name)
            module.__path__ = []  # a package, so that submodules can be imported from it
            sys.modules[module_name] = module
            stubbed.append(module_name)
            if i > 1:
                setattr(sys.modules[".".join(parts[: i - 1])], parts[i - 1], module)
    for key, value in attributes.items():
        setattr(sys.modules[name], key, value)
    return stubbed


class _OfficialModuleFinder(importlib.abc.MetaPathFinder):
    """Finds the official code's top-level modules (`_OFFICIAL_MODULES`, which import each other by bare
    name: `import lreq`) in one checkout folder, and nothing else: sys.path stays as it is, so no other
    import can pick up a file from the checkout."""

    def __init__(self, folder):
        self.folder = str(folder)

    def find_spec(self, name, path=None, target=None):
        if name not in _OFFICIAL_MODULES:
            return None
        return importlib.machinery.PathFinder.find_spec(name, [self.folder])


def _import_official(folder, names):
    """The official modules `names` imported from `folder` (fresh: another commit's copies are dropped)."""
    folder = pathlib.Path(folder).resolve()
    if not (folder / "net.py").is_file():
        raise FileNotFoundError(f"{folder} holds no official ALAE code (net.py); see the module docstring")
    for name in _OFFICIAL_MODULES:
        sys.modules.pop(name, None)
    finder = _OfficialModuleFinder(folder)
    sys.meta_path.insert(0, finder)
    try:
        return [importlib.import_module(name) for name in names]
    finally:
        sys.meta_path.remove(finder)


def _commit_of(folder):
    """The full commit of a git checkout, else the folder's name (how the setup names the copies)."""
    out = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True, check=False)
    top = subprocess.run(
        ["git", "-C", str(folder), "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=False
    ).stdout.strip()
    if out.returncode == 0 and pathlib.Path(top).resolve() == pathlib.Path(folder).resolve():
        return out.stdout.strip()
    return pathlib.Path(folder).name


def _config(defaults, folder, config_file):
    cfg = defaults.get_cfg_defaults()
    cfg.merge_from_file(str(pathlib.Path(folder) / config_file))
    cfg.freeze()
    return cfg


# ------------------------------------------------------------------ one iteration
def _build_style(folder, lod):
    """train_alae.py's models and optimizers; returns (model, model_s, encoder_opt, decoder_opt, cfg)."""
    defaults, model_module, custom_adam = _import_official(folder, ["defaults", "model", "custom_adam"])
    cfg = _config(defaults, folder, FLAGS.style_config)
    model, model_s = _models(model_module, cfg, z_regression=cfg.MODEL.Z_REGRESSION)
    decoder_optimizer, encoder_optimizer = _optimizers(
        custom_adam, cfg, lod, [model.decoder, model.mapping_f], [model.encoder, model.mapping_d]
    )
    return model, model_s, encoder_optimizer, decoder_optimizer, cfg


def _build_mlp(folder):
    """Z_GAN.py's models (model_z_gan.Model) and optimizers; returns (..., cfg, lod)."""
    _stub_missing("dlutils.pytorch", count_parameters=lambda *args, **kwargs: None)
    defaults, model_module, custom_adam = _import_official(folder, ["defaults", "model_z_gan", "custom_adam"])
    cfg = _config(defaults, folder, FLAGS.mlp_config)
    lod = cfg.MODEL.LAYER_COUNT - 1  # LODDriver.set_epoch with EPOCHS_PER_LOD == 0
    model, model_s = _models(
        model_module,
        cfg,
        mapping_to_latent=cfg.MODEL.MAPPING_TO_LATENT,
        mapping_from_latent=cfg.MODEL.MAPPING_FROM_LATENT,
    )
    decoder_optimizer, encoder_optimizer = _optimizers(
        custom_adam, cfg, lod, [model.decoder, model.mapping_fl], [model.encoder, model.mapping_tl]
    )
    return model, model_s, encoder_optimizer, decoder_optimizer, cfg, lod


def _models(model_module, cfg, **extra_args):
    """The trained model and its EMA copy `model_s`, built as the training scripts build them."""
    common_args = dict(
        startf=cfg.MODEL.START_CHANNEL_COUNT,
        layer_count=cfg.MODEL.LAYER_COUNT,
        maxf=cfg.MODEL.MAX_CHANNEL_COUNT,
        latent_size=cfg.MODEL.LATENT_SPACE_SIZE,
        mapping_layers=cfg.MODEL.MAPPING_LAYERS,
        channels=cfg.MODEL.CHANNELS,
        generator=cfg.MODEL.GENERATOR,
        encoder=cfg.MODEL.ENCODER,
        **extra_args,
    )
    model = model_module.Model(
        dlatent_avg_beta=cfg.MODEL.DLATENT_AVG_BETA, style_mixing_prob=cfg.MODEL.STYLE_MIXING_PROB, **common_args
    )
    model.train()
    model_s = model_module.Model(
        truncation_psi=cfg.MODEL.TRUNCATIOM_PSI, truncation_cutoff=cfg.MODEL.TRUNCATIOM_CUTOFF, **common_args
    )
    model_s.eval()
    model_s.requires_grad_(False)
    return model, model_s


def _optimizers(custom_adam, cfg, lod, decoder_modules, encoder_modules):
    """LREQAdam over the scripts' param groups, at the learning rate their scheduler sets for `lod`."""
    betas = (cfg.TRAIN.ADAM_BETA_0, cfg.TRAIN.ADAM_BETA_1)
    decoder_optimizer = custom_adam.LREQAdam(
        [{"params": m.parameters()} for m in decoder_modules],
        lr=cfg.TRAIN.BASE_LEARNING_RATE,
        betas=betas,
        weight_decay=0,
    )
    encoder_optimizer = custom_adam.LREQAdam(
        [{"params": m.parameters()} for m in encoder_modules],
        lr=cfg.TRAIN.BASE_LEARNING_RATE,
        betas=betas,
        weight_decay=0,
    )
    # ComboMultiStepLR.set_batch_size(batch, lod): every group's lr = LEARNING_RATES[lod] (no decay steps).
    lr = cfg.TRAIN.LEARNING_RATES[lod]
    for optimizer in (decoder_optimizer, encoder_optimizer):
        for group in optimizer.param_groups:
            group["lr"] = lr
    return decoder_optimizer, encoder_optimizer


def _iteration(model, model_s, encoder_optimizer, decoder_optimizer, x, lod, blend, betta, **extra):
    """One iteration of the official loop body; returns its three losses as floats."""
    encoder_optimizer.zero_grad()
    loss_d = model(x, lod, blend, d_train=True, ae=False, **extra)
    loss_d.backward()
    encoder_optimizer.step()

    decoder_optimizer.zero_grad()
    loss_g = model(x, lod, blend, d_train=False, ae=False, **extra)
    loss_g.backward()
    decoder_optimizer.step()

    encoder_optimizer.zero_grad()
    decoder_optimizer.zero_grad()
    lae = model(x, lod, blend, d_train=True, ae=True, **extra)
    lae.backward()
    encoder_optimizer.step()
    decoder_optimizer.step()

    model_s.lerp(model, betta)
    return {"loss_d": loss_d.item(), "loss_g": loss_g.item(), "lae": lae.item()}


class FlopCounter(TorchDispatchMode):
    """FLOPs of every op run under it, by torch's own formulas (`torch.utils.flop_counter`).

    `FlopCounterMode` itself cannot be used: its module hooks fail under the
    `autograd.grad(create_graph=True)` of the R1 penalty. Convolution backward
    counts only the gradients autograd asked for (its output mask).
    """

    def __init__(self):
        super().__init__()
        self.flops = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_counter.flop_registry.get(func._overloadpacket)
        if formula is not None:

            def shape(value):
                return value.shape if isinstance(value, torch.Tensor) else value

            name = str(func._overloadpacket)
            flops = formula(*tree_map(shape, args), **tree_map(shape, kwargs), out_val=tree_map(shape, out))
            self.flops[name] = self.flops.get(name, 0) + flops
        return out


@functools.cache
def peak_gflops():
    """torch's best square float32 matmul GFLOP/s on this machine (`harness.matmul_peak_gflops`)."""

    def make_matmul(n):
        generator = torch.Generator().manual_seed(0)
        a, b = torch.randn(n, n, generator=generator), torch.randn(n, n, generator=generator)
        return lambda: torch.mm(a, b)  # synchronous on the CPU

    return harness.matmul_peak_gflops(make_matmul)


def run_case(case):
    """One row: build, a first (sanity-checked) iteration, warm-up, timed iterations."""
    is_style = case != "mnist_mlp"
    batch_size = FLAGS.style_batch_size if is_style else FLAGS.mlp_batch_size
    level = int(case.split("@")[1]) if is_style else None
    commit = FLAGS.style_commit if is_style else FLAGS.mlp_commit
    folder = pathlib.Path(FLAGS.official_dir) / commit
    row = {
        "case": case,
        "preset": case.split("@")[0],
        "level": level,
        "precision": "float32",
        "batch_size": batch_size,
        "official_commit": commit,
        "earlier_images_per_s": EARLIER_IMAGES_PER_S.get(case),
    }
    try:
        torch.manual_seed(FLAGS.seed)
        random.seed(FLAGS.seed)
        with harness.Stopwatch() as build:
            if is_style:
                model, model_s, encoder_optimizer, decoder_optimizer, cfg = _build_style(folder, level)
                lod, extra = level, {}
                resolution = model.decoder.layer_to_resolution[lod]
                channels = cfg.MODEL.CHANNELS
                low, high = -1.0, 1.0  # train_alae.py: x_orig / 127.5 - 1
            else:
                model, model_s, encoder_optimizer, decoder_optimizer, cfg, lod = _build_mlp(folder)
                extra = {"alt": False}
                resolution, channels = 28, cfg.MODEL.CHANNELS
                low, high = 0.0, 1.0  # Z_GAN.py: x_orig / 255
        generator = np.random.default_rng(FLAGS.seed)
        images = generator.uniform(low, high, (batch_size, channels, resolution, resolution)).astype(np.float32)
        x = torch.from_numpy(images)
        x.requires_grad = True
        blend = 1  # no fade-in (LODDriver.get_blend_factor outside a transition)
        betta = 0.5 ** (batch_size / (10 * 1000.0))
        row.update(
            {
                "resolution": resolution,
                "lod": lod,
                "learning_rate": encoder_optimizer.param_groups[0]["lr"],
                "ema_betta": betta,
            }
        )
        args = (model, model_s, encoder_optimizer, decoder_optimizer, x, lod, blend, betta)

        with harness.Stopwatch() as first:
            first_losses = _iteration(*args, **extra)
        if not all(math.isfinite(v) for v in first_losses.values()):
            raise FloatingPointError(f"non-finite losses after the first iteration: {first_losses}")
        losses = {}

        def step():
            losses.update(_iteration(*args, **extra))

        times = harness.time_calls(
            step, FLAGS.steps, warmup=FLAGS.warmup_steps, max_seconds=FLAGS.max_seconds, min_runs=FLAGS.min_steps
        )
        counter = None
        if FLAGS.roofline:  # one more iteration, after the timed ones: the counter slows what it runs
            with FlopCounter() as counter:
                _iteration(*args, **extra)
    except Exception as e:  # one case failing (missing code, out of memory) must not hide the others
        return harness.skipped(row, e)
    stats = harness.summarize(times)
    row.update(
        {
            "status": "ok",
            "build_s": build.seconds,
            "first_step_s": first.seconds,
            "step_times_s": times,
            "median_step_s": stats["median_s"],
            "step_stats": stats,
            "images_per_s": batch_size / stats["median_s"],
            "steps_timed": stats["runs"],
            "first_losses": first_losses,
            "final_losses": losses,
            "losses_finite": all(math.isfinite(v) for v in [*first_losses.values(), *losses.values()]),
            "parameters": sum(p.numel() for p in model.parameters()),
        }
    )
    if counter is not None:
        row["flops_by_op"] = counter.flops
        harness.roofline(row, sum(counter.flops.values()), batch_size, peak_gflops())
    return row


# ------------------------------------------------------------------ output
def machine_info():
    """`harness.machine_info` with torch's version and threads (and no TensorFlow import)."""
    info = harness.machine_info(packages=("torch", "numpy", "absl-py", "yacs"), list_gpus=False)
    info.update(torch_threads=torch.get_num_threads(), torch_interop_threads=torch.get_num_interop_threads())
    return info


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    load_before = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    torch.set_num_threads(FLAGS.threads)
    rows = []
    for case in FLAGS.cases:
        rows.append(run_case(case))
        harness.print_row(rows[-1], COLUMNS)
    settings = harness.flag_values(
        [
            "official_dir",
            "style_commit",
            "mlp_commit",
            "style_config",
            "mlp_config",
            "cases",
            "style_batch_size",
            "mlp_batch_size",
            "threads",
            "warmup_steps",
            "steps",
            "max_seconds",
            "min_steps",
            "seed",
            "roofline",
        ]
    )
    settings["precision"] = "float32"
    settings["blend"] = 1.0
    settings["input"] = "random images in the official scripts' pixel range, one batch repeated"
    settings["earlier_images_per_s"] = EARLIER_IMAGES_PER_S
    if FLAGS.roofline:
        settings["peak_gflops_per_s"] = peak_gflops()
    machine = machine_info()
    machine["load_average_before"] = load_before
    official = pathlib.Path(FLAGS.official_dir)
    commits = {"style": _commit_of(official / FLAGS.style_commit), "mlp": _commit_of(official / FLAGS.mlp_commit)}
    harness.write_results(
        NAME, settings, rows, COLUMNS, FLAGS.output, machine=machine, extra={"official_commits": commits}
    )


if __name__ == "__main__":
    app.run(main)
