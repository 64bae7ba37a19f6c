"""One tiny trained workdir and one export of it per session, shared by the export tests."""

import dataclasses
import hashlib
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from alae_tf import configs, data, training
from alae_tf import workdir as workdir_lib
from alae_tf.export import saved_model, serving, signatures
from tests.conftest import FASHION_MNIST_FILE, FASHION_MNIST_WHAT, REPO, require_path

TINY = configs.PRESETS["mnist_mlp_tiny"]


def _require_fashion_mnist():
    require_path(FASHION_MNIST_FILE, FASHION_MNIST_WHAT)


def train_tiny(workdir, images=64, **options):
    """Train the tiny MLP ALAE on Fashion-MNIST into `workdir`; returns the model."""
    _require_fashion_mnist()
    opts = dict(workdir=str(workdir), train_images=images, seed=3, checkpoint_every_images=64, verbose=0)
    opts.update(options)
    return training.train(TINY, training.TrainOptions(**opts))


@dataclasses.dataclass
class Export:
    """The session's export: where it is, and the Keras model it came from."""

    out: pathlib.Path
    result: saved_model.ExportResult
    config: configs.ALAEConfig
    model: object  # the restored ALAE (float32); its EMA nets are the reference

    def dir(self, part):
        return self.result.saved_models[part]


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("run")
    train_tiny(path)
    return path


@pytest.fixture(scope="session")
def exported(workdir, tmp_path_factory):
    out = tmp_path_factory.mktemp("serving")
    result = saved_model.export_workdir(workdir, out, version=1)
    run = workdir_lib.open_run(workdir)
    config, model, _ = run.config, run.model, run.meta
    return Export(out, result, config, model)


# ------------------------------------------------------------------ references
def reference(model, config, part, signature, inputs):
    """What `part`'s `signature` must return for `inputs`, computed with the Keras EMA nets."""
    F, G, E, D = model.ema_nets
    to_uint8 = lambda x: data.from_pixel_range(x, config.pixel_range).numpy()  # noqa: E731
    to_float = lambda x: data.to_pixel_range(x, config.pixel_range)  # noqa: E731
    encode = lambda image: E(to_float(image), training=False).numpy()  # noqa: E731
    table = {
        ("mapping", "serving_default"): lambda: {"w": F(inputs["z"]).numpy()},
        ("generator", "serving_default"): lambda: {"image": to_uint8(G(inputs["w"]))},
        ("generator", "decode_float"): lambda: {"image": G(inputs["w"]).numpy()},
        ("generator", "decode_with_seed"): lambda: {"image": to_uint8(G(inputs["w"]))},  # the MLP G has no noise
        ("encoder", "serving_default"): lambda: {"w": encode(inputs["image"])},
        ("encoder", "encode_float"): lambda: {"w": E(inputs["image"]).numpy()},
        ("discriminator", "serving_default"): lambda: {"logit": D(inputs["w"]).numpy()},
        ("alae", "generate"): lambda: {"image": to_uint8(G(F(inputs["z"])))},
        ("alae", "encode"): lambda: {"w": encode(inputs["image"])},
        ("alae", "decode"): lambda: {"image": to_uint8(G(inputs["w"]))},
        ("alae", "reconstruct"): lambda: {"image": to_uint8(G(E(to_float(inputs["image"]))))},
        ("alae", "serving_default"): lambda: {"image": to_uint8(G(E(to_float(inputs["image"]))))},
    }
    return table[(part, signature)]()


EXPECTED_SIGNATURES = {
    "mapping": ["serving_default"],
    "generator": ["decode_float", "decode_with_seed", "serving_default"],
    "encoder": ["encode_float", "serving_default"],
    "discriminator": ["serving_default"],
    "alae": ["decode", "encode", "generate", "reconstruct", "serving_default"],
    "editor": ["directions", "edit", "edit_by_index", "serving_default"],  # style nets add "mix" (editor_test.py)
}


def assert_matches(got, want, what, uint8_off_by_one=0.01):
    """float32: 1e-5 relative (to the output's scale); uint8: off by at most one grey level,
    on less than the `uint8_off_by_one` fraction of pixels (0: exact).

    A uint8 pixel is a rounded float: graph mode fuses the ops differently from
    eager Keras, and a float that differs in the last bit flips a pixel that
    sits on a rounding boundary.
    """
    assert set(got) == set(want), what
    for key in want:
        g, w = np.asarray(got[key]), np.asarray(want[key])
        assert g.dtype == w.dtype and g.shape == w.shape, f"{what}/{key}: {g.dtype}{g.shape} vs {w.dtype}{w.shape}"
        if np.issubdtype(w.dtype, np.floating):
            np.testing.assert_allclose(
                g, w, rtol=1e-5, atol=1e-5 * max(1.0, float(np.abs(w).max())), err_msg=f"{what}/{key}"
            )
        elif not uint8_off_by_one:
            np.testing.assert_array_equal(g, w, err_msg=f"{what}/{key}")
        else:
            diff = np.abs(g.astype(int) - w.astype(int))
            assert diff.max() <= 1 and np.mean(diff > 0) < uint8_off_by_one, (
                f"{what}/{key}: {diff.max()}, {np.mean(diff > 0)}"
            )


def assert_tf2_load_matches(exported, reference_fn, **tolerance):
    """Every signature of every part through `tf.saved_model.load` equals `reference_fn(part, name, inputs)`."""
    loaded = {part: tf.saved_model.load(str(exported.dir(part))) for part in signatures.PARTS}  # kept alive
    for part, name, inputs in signature_cases(exported, batch=5):
        got = loaded[part].signatures[name](**{k: tf.constant(v) for k, v in inputs.items()})
        assert_matches(
            {k: v.numpy() for k, v in got.items()}, reference_fn(part, name, inputs), f"{part}/{name}", **tolerance
        )


def signature_cases(export, batch):
    """`(part, signature, inputs)` for every exported signature."""
    for part in signatures.PARTS:
        defs = serving.read_signature_defs(export.dir(part))
        for name in sorted(defs):
            yield part, name, serving.example_inputs(defs[name], batch, export.config.pixel_range, seed=batch)


# ------------------------------------------------------------------- helpers
def digest(folder):
    """A hash of every file's path and bytes under `folder`."""
    h = hashlib.sha256()
    for p in sorted(pathlib.Path(folder).rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode() + p.read_bytes())
    return h.hexdigest()


def leftovers(folder):
    """Temp files or folders an atomic write would leave behind."""
    return [p for p in pathlib.Path(folder).rglob(".*") if p.name.endswith((".tmp", ".old"))]


def start_binary(script, *args):
    """Start `python export/<script> ARGS` the way a user would; returns the Popen."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH="")
    return subprocess.Popen(
        [sys.executable, str(REPO / "export" / script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )


def finish(processes, timeout=300):
    """Wait for Popens; returns `[(returncode, stdout, stderr)]` in order."""
    results = []
    for p in processes:
        out, err = p.communicate(timeout=timeout)
        results.append((p.returncode, out, err))
    return results
