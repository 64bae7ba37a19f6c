r"""Full-size official-format checkpoints of every published ALAE architecture, made by the OFFICIAL code.

For each architecture the official StyleALAE code (podgorskiy/ALAE at 42bcf2e, `master`) runs
(`configs/ffhq.yaml` 1024 px, `celeba-hq256.yaml` 256, `bedroom.yaml` 256, `celeba.yaml` 128,
`mnist.yaml` 32 px grey), this binary builds the nets exactly as `train_alae.py` does (trained
`model` and EMA `model_s`, `LREQAdam` x 2, `ComboMultiStepLR`, `LossTracker`, the trainer's
`Checkpointer` model dict and auxiliary), moves every parameter off its initial value, trains
a real iteration or two, and saves with the official `checkpointer.Checkpointer`:

    /work/fullsize/<arch>/<arch>.pth            torch's zip format (the default), records `model_final`
    /work/fullsize/<arch>/<arch>_legacy.pth     the same save in torch's pre-1.6 format
                                                (`_use_new_zipfile_serialization=False`), as the
                                                published April 2020 files were written
    /work/fullsize/<arch>/<arch>_weights.pth    weights only, legacy format, as the official
                                                `interactive_demo.py` loads it: `discriminator_s`,
                                                `generator_s`, `mapping_tl_s`, `mapping_fl_s`,
                                                `dlatent_avg`, no auxiliary
    /work/fullsize/<arch>/expected.npz          the EMA nets' outputs at full resolution (below)
    /work/fullsize/<arch>/expected.json         what each array is, the exact calls, the config,
                                                the files' sizes and sha256, the training losses

It runs in its own PyTorch virtual environment (it imports neither TensorFlow nor alae_tf) and
imports the official modules from a local copy of the repository through
`benchmarks.official_throughput`'s scoped meta-path finder; none of that code is kept here.

Setup (once, outside the repository):

    python3 -m venv /work/torchvenv
    /work/torchvenv/bin/pip install torch==2.13.0 numpy pyyaml yacs pillow absl-py   # CPU wheel
    git clone https://github.com/podgorskiy/ALAE /tmp/ALAE
    mkdir -p /work/official_alae/42bcf2e && git -C /tmp/ALAE archive 42bcf2e | tar -x -C /work/official_alae/42bcf2e

Then, from the repository root (ffhq takes a few minutes and about 8 GB; the others less):

    /work/torchvenv/bin/python -m benchmarks.official_fullsize --official_dir=/work/official_alae \
        --out_dir=/work/fullsize                                   # every architecture
    /work/torchvenv/bin/python -m benchmarks.official_fullsize --official_dir=/work/official_alae \
        --archs=celeba --test_data=tests/convert/data/published_architectures.json

`benchmarks/fullsize_parity.py` (in the project's venv, no torch) then converts each file with
`alae-convert` and compares our nets with `expected.npz`.

**Parameters.** After the build (official init, `model_s` its own init, as the trainer does), every
parameter of both models, and the trained `dlatent_avg`, gets `p += 0.05 * scale * N(0, 1)` with
`scale` = the parameter's standard deviation, or max(|mean|, 1) for constant ones (zero biases,
zero noise weights, the ones of `const`), from a generator seeded differently for `model` and
`model_s`; `dlatent_avg`'s rows (one per style layer, equal in a trained model) all get the same
draw; the blur kernels are buffers and stay. Then `--steps` real iterations of the
`train_alae.py` loop body at the last level, blend 1, batch `--batch` of real faces (steps I, II,
III, `tracker.update`, `model_s.lerp(model, 0.5 ** (batch / 10000))`), `scheduler.step()`, save.
The optimizers then hold real `step` and `exp_avg_sq` entries for every parameter.

**Expected outputs** (`model_s`, lod = LAYER_COUNT - 1, blend 1, full resolution). `x` holds the
first `--images` faces of the official `dataset_samples/faces/realign1024x1024` (sorted file
names; the same faces for bedroom), float32, 2x2 average pooling per halving down to the
architecture's resolution (mnist: the mean of R, G, B first), then `x = v / 127.5 - 1`; `z` is
`np.random.RandomState(seed).randn(images, latent)` as float32.

| key | official call | shape |
|---|---|---|
| `w_from_x` | `model_s.encode(x, lod, 1)[0][:, 0]` (E(x)) | (N, latent) |
| `d_of_w_from_x` | `model_s.encode(x, lod, 1)[1]` (D(E(x))) | (N,) |
| `w_from_z` | `model_s.mapping_f(z)[:, 0]` (F(z)) | (N, latent) |
| `x_from_w` | `model_s.decoder(F(z) broadcast to 2L styles, lod, 1, noise=True)`, zero noise | (N, C, H, W) |
| `x_rec` | `model_s.decoder(E(x) broadcast to 2L styles, lod, 1, noise=True)`, zero noise | (N, C, H, W) |
| `dlatent_avg` | the checkpoint's `dlatent_avg.buff` (the trained model's) | (2L, latent) |

Zero noise: `torch.randn` is replaced, for the duration of the decoder call, by a function
returning `torch.zeros` of the requested shape, so the official `noise=True` branch adds
`noise_weight * 0` (`noise=False` is a different, deterministic branch).

`configs/mnist_fc.yaml` on `master` names `GeneratorFC` / `EncoderFC`, but master's `Model` always
builds `MappingD` and calls it on `EncoderFC`'s 2-d output, which fails: the official StyleALAE
code does not run that config (the MLP MNIST model lives on branch `mnist_ref`, and the fast
tests cover its format). This binary records that failure in `<out_dir>/mnist_fc.json`.

With `--test_data=FILE`, it also writes the fast suite's data file: for each architecture the
official config's MODEL section and every net's state-dict entry names and shapes.
"""

import contextlib
import functools
import hashlib
import json
import pathlib
import random
import shutil
import sys
import time

import numpy as np
import torch
import yaml
from absl import app, flags

from benchmarks import official_throughput as ot

ARCHS = ("ffhq", "celeba-hq256", "bedroom", "celeba", "mnist")
# Modules of the official checkout this binary imports (the finder loads nothing else from it).
OFFICIAL_MODULES = frozenset(ot._OFFICIAL_MODULES) | {"checkpointer", "scheduler", "tracker"}
FACES = "dataset_samples/faces/realign1024x1024"
EMA_NETS = ("discriminator_s", "generator_s", "mapping_tl_s", "mapping_fl_s")

FLAGS = flags.FLAGS
flags.DEFINE_string("out_dir", None, "Where the checkpoints and expected outputs go (one folder per arch).")
flags.DEFINE_list("archs", list(ARCHS), f"Architectures: {', '.join(ARCHS)}.")
flags.DEFINE_integer("images", 4, "Faces (and z rows) for the expected outputs.", lower_bound=1)
flags.DEFINE_integer("batch", 2, "Batch of the real training iterations.", lower_bound=1)
flags.DEFINE_integer("train_steps", 1, "Real training iterations before saving.", lower_bound=0)
flags.DEFINE_float("perturbation", 0.05, "Relative size of the random move off the initial values.", lower_bound=0)
flags.DEFINE_string("test_data", None, "Also write the fast suite's data file (entry names and shapes) here.")
flags.DEFINE_bool("mnist_fc_check", True, "Try configs/mnist_fc.yaml on master's Model and record the outcome.")
flags.register_validator("archs", lambda v: all(a in ARCHS for a in v), message=f"--archs must be a subset of {ARCHS}")


class _Finder(ot._OfficialModuleFinder):
    """`official_throughput`'s scoped finder, for this binary's wider module list."""

    def find_spec(self, name, path=None, target=None):
        if name not in OFFICIAL_MODULES:
            return None
        return ot.importlib.machinery.PathFinder.find_spec(name, [self.folder])


def import_official(folder):
    """{name: module} of the official modules this binary uses, from `folder` (stubs for plotting)."""
    ot._stub_missing("matplotlib.pyplot")
    if not hasattr(sys.modules["matplotlib"], "use"):
        sys.modules["matplotlib"].use = lambda *args, **kwargs: None  # tracker.py's matplotlib.use('Agg')
    ot._stub_missing("dlutils.pytorch", count_parameters=lambda *args, **kwargs: None)
    names = ("defaults", "model", "custom_adam", "checkpointer", "scheduler", "tracker")
    finder = _Finder(pathlib.Path(folder).resolve())
    sys.meta_path.insert(0, finder)
    try:
        return {name: ot.importlib.import_module(name) for name in names}
    finally:
        sys.meta_path.remove(finder)


# ------------------------------------------------------------------ build, as train_alae.py
def build(mods, cfg, output_dir):
    """train_alae.py's models, optimizers, scheduler, tracker and checkpointer (CPU, one process)."""
    model, model_s = ot._models(mods["model"], cfg, z_regression=cfg.MODEL.Z_REGRESSION)
    betas = (cfg.TRAIN.ADAM_BETA_0, cfg.TRAIN.ADAM_BETA_1)
    lreq = mods["custom_adam"].LREQAdam
    decoder_optimizer = lreq(
        [{"params": model.decoder.parameters()}, {"params": model.mapping_f.parameters()}],
        lr=cfg.TRAIN.BASE_LEARNING_RATE,
        betas=betas,
        weight_decay=0,
    )
    encoder_optimizer = lreq(
        [{"params": model.encoder.parameters()}, {"params": model.mapping_d.parameters()}],
        lr=cfg.TRAIN.BASE_LEARNING_RATE,
        betas=betas,
        weight_decay=0,
    )
    scheduler = mods["scheduler"].ComboMultiStepLR(
        optimizers={"encoder_optimizer": encoder_optimizer, "decoder_optimizer": decoder_optimizer},
        milestones=cfg.TRAIN.LEARNING_DECAY_STEPS,
        gamma=cfg.TRAIN.LEARNING_DECAY_RATE,
        reference_batch_size=32,
        base_lr=cfg.TRAIN.LEARNING_RATES,
    )
    model_dict = {
        "discriminator": model.encoder,
        "generator": model.decoder,
        "mapping_tl": model.mapping_d,
        "mapping_fl": model.mapping_f,
        "dlatent_avg": model.dlatent_avg,
        "discriminator_s": model_s.encoder,
        "generator_s": model_s.decoder,
        "mapping_tl_s": model_s.mapping_d,
        "mapping_fl_s": model_s.mapping_f,
    }
    tracker = mods["tracker"].LossTracker(str(output_dir))
    auxiliary = {
        "encoder_optimizer": encoder_optimizer,
        "decoder_optimizer": decoder_optimizer,
        "scheduler": scheduler,
        "tracker": tracker,
    }
    cfg = cfg.clone()
    cfg.defrost()
    cfg.OUTPUT_DIR = str(output_dir)
    cfg.freeze()
    logger = _logger()
    checkpointer = mods["checkpointer"].Checkpointer(cfg, model_dict, auxiliary, logger=logger, save=True)
    # The demo's loader: the EMA nets and dlatent_avg only (interactive_demo.py's model dict), no auxiliary.
    demo_dict = {name: model_dict[name] for name in EMA_NETS + ("dlatent_avg",)}
    weights_checkpointer = mods["checkpointer"].Checkpointer(cfg, demo_dict, logger=logger, save=True)
    return dict(
        model=model,
        model_s=model_s,
        encoder_optimizer=encoder_optimizer,
        decoder_optimizer=decoder_optimizer,
        scheduler=scheduler,
        tracker=tracker,
        checkpointer=checkpointer,
        weights_checkpointer=weights_checkpointer,
        model_dict=model_dict,
    )


def _logger():
    import logging

    logger = logging.getLogger("official_fullsize")
    logger.setLevel(logging.WARNING)
    return logger


def perturb(module, generator, relative):
    """Every parameter (and buffer other than the blur kernels) += relative * scale * N(0, 1)."""
    moved = 0
    with torch.no_grad():
        tensors = [(n, p) for n, p in module.named_parameters()]
        tensors += [(n, b) for n, b in module.named_buffers() if not n.endswith("blur.weight")]
        for name, p in tensors:
            if not p.is_floating_point():
                continue
            std = float(p.std()) if p.numel() > 1 else 0.0
            scale = std if std > 0 else max(float(p.abs().mean()), 1.0)
            # dlatent_avg.buff: one row per style layer, all equal in a trained model (w is broadcast before
            # the running mean): the same move for every row keeps them equal.
            shape = (1,) + tuple(p.shape[1:]) if name.endswith("buff") else p.shape
            p.add_(relative * scale * torch.randn(shape, generator=generator, dtype=p.dtype))
            moved += 1
    return moved


def faces(folder, count, resolution, channels):
    """The first `count` official 1024 px faces, pooled 2x2 per halving to `resolution`, in [-1, 1], NCHW."""
    from PIL import Image

    files = sorted((pathlib.Path(folder) / FACES).glob("*.png"))[:count]
    images = np.stack([np.asarray(Image.open(f).convert("RGB"), np.float32) for f in files])  # (N, H, W, 3)
    if channels == 1:
        images = images.mean(axis=-1, keepdims=True)
    while images.shape[1] > resolution:
        n, h, w, c = images.shape
        images = images.reshape(n, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4), dtype=np.float32)
    assert images.shape[1] == resolution, images.shape
    x = (images / np.float32(127.5) - np.float32(1.0)).astype(np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2)), [f.name for f in files]


@contextlib.contextmanager
def zero_noise():
    """`torch.randn` returns zeros while inside: the official noise=True branch with every noise map zero."""
    original = torch.randn

    def zeros(*size, **kwargs):
        kwargs.pop("generator", None)
        if len(size) == 1 and isinstance(size[0], (list, tuple, torch.Size)):
            size = tuple(size[0])
        return torch.zeros(*size, **{k: v for k, v in kwargs.items() if k in ("dtype", "device")})

    torch.randn = zeros
    try:
        yield
    finally:
        torch.randn = original


def train_iteration(parts, x, lod, blend, batch):
    """One iteration of train_alae.py's loop body (steps I, II, III, tracker, EMA)."""
    model, model_s, tracker = parts["model"], parts["model_s"], parts["tracker"]
    encoder_optimizer, decoder_optimizer = parts["encoder_optimizer"], parts["decoder_optimizer"]
    x = x.clone()
    x.requires_grad = True
    encoder_optimizer.zero_grad()
    loss_d = model(x, lod, blend, d_train=True, ae=False)
    tracker.update(dict(loss_d=loss_d))
    loss_d.backward()
    encoder_optimizer.step()
    decoder_optimizer.zero_grad()
    loss_g = model(x, lod, blend, d_train=False, ae=False)
    tracker.update(dict(loss_g=loss_g))
    loss_g.backward()
    decoder_optimizer.step()
    encoder_optimizer.zero_grad()
    decoder_optimizer.zero_grad()
    lae = model(x, lod, blend, d_train=True, ae=True)
    tracker.update(dict(lae=lae))
    lae.backward()
    encoder_optimizer.step()
    decoder_optimizer.step()
    model_s.lerp(model, 0.5 ** (batch / (10 * 1000.0)))
    return {"loss_d": loss_d.item(), "loss_g": loss_g.item(), "lae": lae.item()}


def save(checkpointer, record, target, legacy):
    """`checkpointer.save(record)` (the official code, in its thread), in torch's zip or legacy format, moved to
    `target`. Returns the file's size and sha256."""
    original = torch.save
    if legacy:
        torch.save = functools.partial(original, _use_new_zipfile_serialization=False)
    try:
        call = checkpointer.save(record)
        call.Thread.join()  # utils.AsyncCall.wait() uses Thread.isAlive, gone since Python 3.9
    finally:
        torch.save = original
    written = pathlib.Path(checkpointer.cfg.OUTPUT_DIR) / f"{record}.pth"
    shutil.move(written, target)
    digest = hashlib.sha256()
    with open(target, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 24), b""):
            digest.update(chunk)
    return {"path": str(target), "bytes": target.stat().st_size, "sha256": digest.hexdigest()}


def state_entries(module):
    return {name: list(value.shape) for name, value in module.state_dict().items()}


def unmoved_entries(before, module):
    """State-dict entries still equal to their value before the perturbation (blur kernels expected)."""
    return sorted(
        name for name, value in module.state_dict().items() if name in before and torch.equal(before[name], value)
    )


def official_config(mods, folder, arch):
    """defaults.py merged with configs/<arch>.yaml, as the trainer merges them, and the YAML itself.

    `celeba.yaml` has `DATASET.SIZE_TEST: 202576 - 182637`, a string that today's yacs refuses for an int
    key; that one value is taken as the difference it spells (19939). Nothing else is changed.
    """
    official_yaml = yaml.safe_load((pathlib.Path(folder) / "configs" / f"{arch}.yaml").read_text())
    try:
        return ot._config(mods["defaults"], folder, f"configs/{arch}.yaml"), official_yaml, None
    except ValueError as e:
        size_test = official_yaml.get("DATASET", {}).get("SIZE_TEST")
        if not (isinstance(size_test, str) and "SIZE_TEST" in str(e)):
            raise
        a, b = (int(v) for v in size_test.split("-"))
        fixed = json.loads(json.dumps(official_yaml))
        fixed["DATASET"]["SIZE_TEST"] = a - b
        cfg = mods["defaults"].get_cfg_defaults()
        cfg.merge_from_other_cfg(type(cfg)(fixed))
        cfg.freeze()
        return cfg, official_yaml, f"DATASET.SIZE_TEST {size_test!r} read as {a - b} (yacs: {e})"


def make_arch(arch, mods, folder, out_dir):
    cfg, official_yaml, config_note = official_config(mods, folder, arch)
    out = pathlib.Path(out_dir) / arch
    out.mkdir(parents=True, exist_ok=True)
    scratch = out / "checkpointer_output"
    scratch.mkdir(exist_ok=True)
    torch.manual_seed(FLAGS.seed)
    random.seed(FLAGS.seed)
    np.random.seed(FLAGS.seed)
    timings = {}
    start = time.perf_counter()
    parts = build(mods, cfg, scratch)
    timings["build_s"] = time.perf_counter() - start
    model, model_s = parts["model"], parts["model_s"]
    lod = cfg.MODEL.LAYER_COUNT - 1
    resolution = model.decoder.layer_to_resolution[lod]
    before = {name: {k: v.clone() for k, v in m.state_dict().items()} for name, m in parts["model_dict"].items()}

    moved = {
        "model": perturb(model, torch.Generator().manual_seed(1000 + FLAGS.seed), FLAGS.perturbation),
        "model_s": perturb(model_s, torch.Generator().manual_seed(2000 + FLAGS.seed), FLAGS.perturbation),
    }

    x, names = faces(folder, max(FLAGS.images, FLAGS.batch), resolution, cfg.MODEL.CHANNELS)
    scheduler = parts["scheduler"]
    scheduler.set_batch_size(FLAGS.batch, lod)
    losses = []
    start = time.perf_counter()
    model.train()
    for i in range(FLAGS.train_steps):
        batch = torch.from_numpy(np.roll(x, -i, axis=0)[: FLAGS.batch])
        losses.append(train_iteration(parts, batch, lod, 1.0, FLAGS.batch))
        print(f"{arch}: iteration {i + 1}: {losses[-1]}", flush=True)
    timings["train_s"] = time.perf_counter() - start
    scheduler.step()
    unmoved = {name: unmoved_entries(before[name], m) for name, m in parts["model_dict"].items()}
    unmoved = {name: names_ for name, names_ in unmoved.items() if names_}
    not_blur = {n: [e for e in v if not e.endswith("blur.weight")] for n, v in unmoved.items()}
    if any(not_blur.values()):
        raise AssertionError(f"{arch}: entries still at their initial values: {not_blur}")
    del before

    start = time.perf_counter()
    files = {
        "zip": save(parts["checkpointer"], "model_final", out / f"{arch}.pth", legacy=False),
        "legacy": save(parts["checkpointer"], "model_final", out / f"{arch}_legacy.pth", legacy=True),
        "weights": save(parts["weights_checkpointer"], "model_final", out / f"{arch}_weights.pth", legacy=True),
    }
    timings["save_s"] = time.perf_counter() - start
    shutil.rmtree(scratch)

    # ---- expected outputs of the EMA nets at full resolution
    x = x[: FLAGS.images]
    z = np.random.RandomState(FLAGS.seed).randn(FLAGS.images, cfg.MODEL.LATENT_SPACE_SIZE).astype(np.float32)
    start = time.perf_counter()
    with torch.no_grad():
        xt, zt = torch.from_numpy(x), torch.from_numpy(z)
        w_x, d_x = model_s.encode(xt, lod, 1.0)
        w_z = model_s.mapping_f(zt)
        layers = model_s.mapping_f.num_layers
        with zero_noise():
            x_from_w = model_s.decoder(w_z, lod, 1.0, noise=True)
            x_rec = model_s.decoder(w_x.repeat(1, layers, 1), lod, 1.0, noise=True)
    timings["expected_s"] = time.perf_counter() - start
    expected = {
        "x": x,
        "z": z,
        "w_from_x": w_x[:, 0].numpy(),
        "d_of_w_from_x": d_x.numpy(),
        "w_from_z": w_z[:, 0].numpy(),
        "x_from_w": x_from_w.numpy(),
        "x_rec": x_rec.numpy(),
        "dlatent_avg": model.dlatent_avg.buff.numpy().copy(),
    }
    np.savez(out / "expected.npz", **expected)
    description = {
        "arch": arch,
        "official_commit": ot._commit_of(folder),
        "official_config": f"configs/{arch}.yaml",
        "official_model_section": official_yaml["MODEL"],
        "config_note": config_note,
        "config": json.loads(json.dumps(cfg, default=str)),
        "lod": lod,
        "blend": 1.0,
        "resolution": resolution,
        "channels": cfg.MODEL.CHANNELS,
        "torch": torch.__version__,
        "seed": FLAGS.seed,
        "perturbation": {
            "relative": FLAGS.perturbation,
            "rule": "p += relative * scale * N(0,1); scale = std(p), or max(|mean p|, 1) for constant p; "
            "dlatent_avg: one draw for all its (equal) rows; blur kernels untouched; model and model_s from "
            "differently seeded generators",
            "tensors_moved": moved,
            "entries_unmoved_after_training": unmoved,
        },
        "training": {
            "iterations": FLAGS.train_steps,
            "batch": FLAGS.batch,
            "lr": [g["lr"] for g in parts["encoder_optimizer"].param_groups],
            "losses": losses,
            "data": f"the first {FLAGS.batch} faces (rolled by the iteration index), as x",
        },
        "files": files,
        "record_name": "model_final",
        "weights_file_nets": list(EMA_NETS) + ["dlatent_avg"],
        "parameters_per_copy": {
            name: int(sum(p.numel() for p in m.parameters()))
            for name, m in parts["model_dict"].items()
            if not name.endswith("_s")
        },
        "faces": names,
        "inputs": "x: the official faces pooled 2x2 per halving (float32) to the resolution"
        + (" after the mean of R, G, B" if cfg.MODEL.CHANNELS == 1 else "")
        + ", / 127.5 - 1, NCHW; z: np.random.RandomState(seed).randn(N, latent) as float32",
        "calls": {
            "w_from_x": "model_s.encode(x, lod, 1.0)[0][:, 0]",
            "d_of_w_from_x": "model_s.encode(x, lod, 1.0)[1]",
            "w_from_z": "model_s.mapping_f(z)[:, 0]",
            "x_from_w": "model_s.decoder(model_s.mapping_f(z), lod, 1.0, noise=True) with torch.randn -> zeros",
            "x_rec": "model_s.decoder(w_from_x repeated to 2 * LAYER_COUNT styles, lod, 1.0, noise=True) "
            "with torch.randn -> zeros",
            "dlatent_avg": "the checkpoint's dlatent_avg.buff (the trained model's)",
        },
        "shapes": {key: list(value.shape) for key, value in expected.items()},
        "timings": timings,
        "entries": {name: state_entries(m) for name, m in parts["model_dict"].items()},
    }
    (out / "expected.json").write_text(json.dumps(description, indent=1) + "\n")
    sizes = ", ".join(f"{k} {v['bytes'] / 2**20:.0f} MiB" for k, v in files.items())
    print(f"{arch}: wrote {out} ({sizes})")
    return description


def mnist_fc_outcome(mods, folder):
    """What master's Model does with configs/mnist_fc.yaml (GeneratorFC, EncoderFC)."""
    cfg = ot._config(mods["defaults"], folder, "configs/mnist_fc.yaml")
    import traceback

    try:
        model, _ = ot._models(mods["model"], cfg, z_regression=cfg.MODEL.Z_REGRESSION)
        x = torch.zeros(2, 1, 32, 32)
        model.encode(x, cfg.MODEL.LAYER_COUNT - 1, 1.0)
    except Exception as e:  # the outcome is what is recorded
        where = traceback.extract_tb(e.__traceback__)[-1]
        return {
            "runs": False,
            "error": f"{type(e).__name__}: {e}",
            "at": f"{pathlib.Path(where.filename).name}:{where.lineno} {where.line}",
            "call": "Model(...).encode(x, 3, 1.0)",
        }
    return {"runs": True}


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    torch.set_num_threads(FLAGS.threads)
    folder = pathlib.Path(FLAGS.official_dir) / FLAGS.style_commit
    mods = import_official(folder)
    out_dir = pathlib.Path(FLAGS.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    descriptions = {}
    for arch in FLAGS.archs:
        descriptions[arch] = make_arch(arch, mods, folder, out_dir)
    if FLAGS.mnist_fc_check:
        outcome = mnist_fc_outcome(mods, folder)
        (out_dir / "mnist_fc.json").write_text(json.dumps(outcome, indent=1) + "\n")
        print(f"mnist_fc.yaml on master: {outcome}")
    if FLAGS.test_data:
        write_test_data(pathlib.Path(FLAGS.test_data), descriptions, folder)


def write_test_data(path, descriptions, folder):
    """The fast suite's file: per architecture, the MODEL section and each base net's entries (EMA copies equal)."""
    data = json.loads(path.read_text()) if path.exists() else {}
    data.setdefault("architectures", {})
    data["official_commit"] = ot._commit_of(folder)
    data["about"] = (
        "Written by benchmarks/official_fullsize.py from the official code's own nets: per published "
        "architecture, the official YAML's MODEL section and every state-dict entry (name: shape) of "
        "the checkpoint's nets; the *_s EMA copies have the same entries."
    )
    for arch, d in descriptions.items():
        entries = d["entries"]
        for name in EMA_NETS:
            assert entries[name] == entries[name[:-2]], name
        data["architectures"][arch] = {
            "official_config": d["official_config"],
            "model": d["official_model_section"],
            "nets": {name: entries[name] for name in entries if not name.endswith("_s")},
        }
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    flags.mark_flags_as_required(["official_dir", "out_dir"])
    app.run(main)
