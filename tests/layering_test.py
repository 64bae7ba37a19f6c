"""The package's imports run one way: data -> networks -> model -> training -> workdir -> evaluation/export.

Every `alae_tf` module belongs to one layer of `LAYERS`; it may import its own layer and the
ones before it, never a later one, and no binary imports another binary. Read from the
source (imports inside functions included), so a backwards import fails here before it
makes a cycle. BUILD.md's design section draws the same layers.
"""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "alae_tf"

# (layer, module prefixes), first to last. A module takes the layer of its longest matching prefix.
LAYERS = (
    (
        "base",
        (
            "atomic",
            "configs",
            "growing",
            "schedules",
            "optimizers",
            "distribute",
            "quality",
            "startup",
            "run_lock",
            "storage",
            "xla_gradients",
            "local_cluster",
        ),
    ),
    ("data", ("data", "images")),
    ("networks", ("layers", "networks")),
    ("model", ("losses", "model", "net_kinds", "streams", "ema", "loss_scaling", "builders")),
    ("training", ("training", "monitor", "checkpoint", "divergence", "precision")),
    ("workdir", ("workdir",)),
    (
        "downstream",
        ("evaluation", "metrics", "features", "report", "export", "convert", "config_flags", "editing", "faces"),
    ),
    ("binaries", ("train", "evaluate", "edit", "align", "launch_local", "features.__main__", "convert.__main__")),
)
BINARY_LAYER = "binaries"


def _module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _layer(module):
    """Index into LAYERS of an `alae_tf.x.y` module name."""
    name = module.removeprefix("alae_tf.")
    best = None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and (best is None or len(prefix) > best[1]):
                best = (index, len(prefix))
    if best is None:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS (and to BUILD.md's design section)")
    return best[0]


def _imports(path):
    """Every `alae_tf` module `path` imports (a `from alae_tf.x import y` of a submodule y counts as x.y)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("alae_tf."))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("alae_tf"):
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in MODULES else node.module)
    found.discard("alae_tf")
    return found


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m != "alae_tf"))
def test_imports_only_its_own_layer_or_earlier_ones(module):
    layer = _layer(module)
    later = sorted(m for m in _imports(MODULES[module]) if _layer(m) > layer)
    assert not later, f"{module} ({LAYERS[layer][0]}) imports later layers: " + ", ".join(
        f"{m} ({LAYERS[_layer(m)][0]})" for m in later
    )


@pytest.mark.parametrize(
    "module", sorted(m for m in MODULES if m != "alae_tf" and LAYERS[_layer(m)][0] == BINARY_LAYER)
)
def test_no_binary_imports_another_binary(module):
    others = sorted(m for m in _imports(MODULES[module]) if LAYERS[_layer(m)][0] == BINARY_LAYER and m != module)
    assert not others, f"{module} imports the binaries {others}: share code through a library module instead"


SCRIPTS = sorted([*(ROOT / "export").glob("*.py"), *(ROOT / "benchmarks").glob("*.py")])


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_scripts_do_not_edit_sys_path_nor_import_binaries(script):
    text = script.read_text()
    assert "sys.path[" not in text and "sys.path.insert(0, str(_HERE" not in text, f"{script} edits sys.path"
    binaries = sorted(m for m in _imports(script) if m in MODULES and LAYERS[_layer(m)][0] == BINARY_LAYER)
    assert not binaries, f"{script} imports the binaries {binaries}"


def test_the_layer_check_sees_a_backwards_import(tmp_path):
    # The check itself must be able to fail: a model-layer file importing the evaluation layer.
    bad = tmp_path / "bad.py"
    bad.write_text("from alae_tf import evaluation\nfrom alae_tf.export import tflite\n")
    assert _imports(bad) == {"alae_tf.evaluation", "alae_tf.export.tflite"}
    assert _layer("alae_tf.evaluation") > _layer("alae_tf.model")
    assert _layer("alae_tf.features.__main__") == len(LAYERS) - 1
