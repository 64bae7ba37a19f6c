"""The package's imports run one way, every package on a rank of its own; no cycles, no private reach-ins.

Every `alae_tf` module belongs to one layer of `LAYERS`; it may import its own layer and the
ones before it, never a later one, and no binary imports another binary. Read from the
source (imports inside functions included), so a backwards import fails here before it
makes a cycle. Each downstream package has a rank of its own (features < editing < metrics <
report < evaluation < export, ...): two packages in one layer could import each other and the
check would not see it. Scripts outside the package (`benchmarks/`, `export/`) import no binary,
except that each `export/*.py` shim imports its own command (`EXPORT_SHIMS`). Beside the layers:

- no import cycle between modules, an imported module's parent packages counted (importing
  `alae_tf.metrics.judge` runs `alae_tf/metrics/__init__.py` first);
- no module imports another package's private (underscore) name;
- no file of `alae_tf`, `benchmarks`, `export/` or `tests` changes `sys.path`, in any form;
- no `alae_tf` module is longer than `MAX_LINES`.

The checks are functions of source text, so the tests at the end feed them planted bad code
and show that each can fail. docs/design.md draws the same layers.
"""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "alae_tf"
MAX_LINES = 450

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
            "flagfiles",
            "command_runner",
            # Class means, the L2-SVM and k-NN on codes: maths the metrics, editing and export share.
            "probes",
        ),
    ),
    ("data", ("data", "image_grids")),
    ("networks", ("layers", "networks")),
    ("model", ("losses", "model", "refinement", "net_kinds", "streams", "ema", "loss_scaling", "builders")),
    ("training", ("training", "monitor", "checkpoint", "divergence", "precision", "time_budget")),
    ("workdir", ("workdir",)),
    ("config_flags", ("config_flags",)),
    ("convert", ("convert",)),
    ("faces", ("faces",)),
    ("features", ("features",)),
    ("editing", ("editing",)),
    ("metrics", ("metrics",)),
    ("report", ("report",)),
    ("evaluation", ("evaluation",)),
    ("export", ("export",)),
    ("binaries", ("commands",)),
)
BINARY_LAYER = "binaries"


def _module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
SOURCES = {name: path.read_text() for name, path in MODULES.items()}


def _layer(module):
    """Index into LAYERS of an `alae_tf.x.y` module name."""
    name = module.removeprefix("alae_tf.")
    best = None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and (best is None or len(prefix) > best[1]):
                best = (index, len(prefix))
    if best is None:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS (and to docs/design.md)")
    return best[0]


def imports_of(source, modules=MODULES):
    """Every `alae_tf` module `source` imports (a `from alae_tf.x import y` of a submodule y counts as x.y)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("alae_tf."))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("alae_tf"):
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in modules else node.module)
    found.discard("alae_tf")
    return found


def _imports(path):
    return imports_of(path.read_text())


def layer_violations(sources):
    """`[(module, imported module)]` of every import of a later layer, over `{module: source}`."""
    return sorted(
        (module, imported)
        for module, source in sources.items()
        if module != "alae_tf"
        for imported in imports_of(source, sources)
        if _layer(imported) > _layer(module)
    )


def _package(module):
    """The package a module belongs to: `alae_tf.metrics` for `alae_tf.metrics.judge`, `alae_tf.probes` for itself."""
    return ".".join(module.split(".")[:2])


def _parents(module):
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(2, len(parts))]


def import_graph(sources):
    """`{module: modules it makes Python import}`: each imported module and its parent packages.

    A module's own parents are left out: they are already importing when it runs (that is how a
    package imports its submodules), so only a parent of another branch can close a cycle.
    """
    graph = {}
    for module, source in sources.items():
        own = set(_parents(module))
        targets = set()
        for imported in imports_of(source, sources):
            targets.update(m for m in (imported, *_parents(imported)) if m in sources and m not in own)
        targets.discard(module)
        graph[module] = targets
    return graph


def find_cycle(graph):
    """One import cycle of `graph` as `[a, b, ..., a]`, or None when it has none."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def private_imports(module, source, modules=MODULES):
    """`[(line, name)]` of private names `module` takes from another package: `from alae_tf.x import _y`,
    `import alae_tf.x._y`, or `_y` read off a module of another package it imported (`x._y`)."""
    found, aliases = [], {}

    def private(name):
        return name.startswith("_") and not name.startswith("__")

    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("alae_tf"):
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                if child in modules:
                    aliases[alias.asname or alias.name] = child
                elif private(alias.name) and _package(node.module) != _package(module):
                    found.append((node.lineno, f"{node.module}.{alias.name}"))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if alias.name.startswith("alae_tf.") and any(private(p) for p in parts):
                    if _package(alias.name) != _package(module):
                        found.append((node.lineno, alias.name))
                if alias.asname and alias.name in modules:
                    aliases[alias.asname] = alias.name
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and private(node.attr):
            target = aliases.get(node.value.id)
            if target is not None and _package(target) != _package(module):
                found.append((node.lineno, f"{target}.{node.attr}"))
    return sorted(found)


# Methods of a list that do not change it; any other call on sys.path is an edit.
_READ_ONLY = {"copy", "count", "index", "__contains__", "__getitem__", "__iter__", "__len__"}
# Calls that add to sys.path however they are spelt.
_PATH_CALLS = {("site", "addsitedir"), ("site", "addpackage"), ("site", "main")}
_PYTEST_PATH_CALLS = {"syspath_prepend"}


def sys_path_edits(source):
    """`[(line, what)]` of every change `source` makes to `sys.path`, found in its syntax tree.

    Caught: `sys.path.insert / append / extend / remove / ...(...)`, `sys.path = ...`, `sys.path += ...`,
    `sys.path[...] = ...`, `del sys.path[...]`, `setattr(sys, "path", ...)`, `site.addsitedir(...)`
    and pytest's `monkeypatch.syspath_prepend(...)`, also through `import sys as s`, `from sys import path`
    and `from site import addsitedir`.
    """
    tree = ast.parse(source)
    sys_names, path_names, call_names = {"sys"}, set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            sys_names.update(a.asname for a in node.names if a.name == "sys" and a.asname)
        elif isinstance(node, ast.ImportFrom) and node.module in ("sys", "site"):
            for alias in node.names:
                if node.module == "sys" and alias.name == "path":
                    path_names.add(alias.asname or alias.name)
                elif (node.module, alias.name) in _PATH_CALLS:
                    call_names.add(alias.asname or alias.name)

    def is_path(node):
        if isinstance(node, ast.Name):
            return node.id in path_names
        return (
            isinstance(node, ast.Attribute)
            and node.attr == "path"
            and isinstance(node.value, ast.Name)
            and node.value.id in sys_names
        )

    def targets(node):
        if isinstance(node, (ast.Tuple, ast.List)):
            return [t for element in node.elts for t in targets(element)]
        if isinstance(node, ast.Starred):
            return targets(node.value)
        return [node]

    edits = []
    for node in ast.walk(tree):
        written = []
        if isinstance(node, ast.Assign):
            written = [t for target in node.targets for t in targets(target)]
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            written = targets(node.target)
        elif isinstance(node, ast.Delete):
            written = [t for target in node.targets for t in targets(target)]
        for target in written:
            if is_path(target) or (isinstance(target, ast.Subscript) and is_path(target.value)):
                edits.append((node.lineno, f"{type(node).__name__.lower()} of sys.path"))
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and is_path(func.value) and func.attr not in _READ_ONLY:
                edits.append((node.lineno, f"sys.path.{func.attr}()"))
            elif isinstance(func, ast.Attribute) and func.attr in _PYTEST_PATH_CALLS:
                edits.append((node.lineno, f"{func.attr}()"))
            elif (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and (func.value.id, func.attr) in _PATH_CALLS
            ):
                edits.append((node.lineno, f"{func.value.id}.{func.attr}()"))
            elif isinstance(func, ast.Name) and func.id in call_names:
                edits.append((node.lineno, f"{func.id}()"))
            elif (
                isinstance(func, ast.Name)
                and func.id == "setattr"
                and len(node.args) >= 2
                and isinstance(node.args[0], ast.Name)
                and node.args[0].id in sys_names
                and isinstance(node.args[1], ast.Constant)
                and node.args[1].value == "path"
            ):
                edits.append((node.lineno, "setattr(sys, 'path')"))
    return sorted(edits)


# --- the package as it is ---------------------------------------------------------------------


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


def test_every_downstream_package_has_a_rank_of_its_own():
    # A layer of several packages could hide a cycle between them; only the base-like layers share.
    shared = {"base", "data", "networks", "model", "training", "binaries"}
    crowded = [name for name, prefixes in LAYERS if name not in shared and len(prefixes) > 1]
    assert not crowded, f"layers {crowded} hold several packages: give each its own rank"


def test_no_import_cycle():
    cycle = find_cycle(import_graph(SOURCES))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m != "alae_tf"))
def test_no_private_name_is_imported_from_another_package(module):
    found = private_imports(module, SOURCES[module])
    assert not found, f"{module} takes private names of other packages: {found}; make them public there"


SCRIPTS = sorted([*(ROOT / "export").glob("*.py"), *(ROOT / "benchmarks").glob("*.py")])
PYTHON_FILES = sorted(
    {*MODULES.values(), *SCRIPTS, *(ROOT / "benchmarks").rglob("*.py"), *(ROOT / "tests").rglob("*.py")}
)


# `python export/X.py` runs a command: each shim imports its own one and no other.
EXPORT_SHIMS = {
    "onnx_model.py": "alae_tf.commands.export_onnx",
    "saved_model.py": "alae_tf.commands.export_saved_model",
    "tflite.py": "alae_tf.commands.export_tflite",
}


def script_binary_imports(path, source):
    """The binaries a script outside the package imports that it may not: every one, but for an
    `export/*.py` shim its own command (`EXPORT_SHIMS`)."""
    binaries = {m for m in imports_of(source) if m in MODULES and LAYERS[_layer(m)][0] == BINARY_LAYER}
    if path.parent == ROOT / "export":
        binaries.discard(EXPORT_SHIMS.get(path.name))
    return sorted(binaries)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_scripts_do_not_import_binaries(script):
    binaries = script_binary_imports(script, script.read_text())
    assert not binaries, f"{script} imports the binaries {binaries}"


def test_every_export_shim_runs_its_own_command():
    shims = {p.name: p for p in (ROOT / "export").glob("*.py")}
    assert sorted(shims) == sorted(EXPORT_SHIMS), "a new export/*.py shim: name its command in EXPORT_SHIMS"
    for name, command in EXPORT_SHIMS.items():
        assert command in MODULES, f"export/{name} names {command}, which is not a module"
        assert command in _imports(shims[name]), f"export/{name} does not import its command {command}"


@pytest.mark.parametrize("path", PYTHON_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_file_edits_sys_path(path):
    edits = sys_path_edits(path.read_text())
    assert not edits, f"{path.relative_to(ROOT)} changes sys.path: {edits}; install the package (pip install -e .)"


def test_no_module_is_too_long():
    long = {m: n for m, s in SOURCES.items() if (n := len(s.splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}; split them by job"


# --- the checks can fail --------------------------------------------------------------------------


def test_the_layer_check_sees_a_backwards_import(tmp_path):
    # The check itself must be able to fail: a model-layer file importing the evaluation layer.
    bad = tmp_path / "bad.py"
    bad.write_text("from alae_tf import evaluation\nfrom alae_tf.export import tflite\n")
    assert _imports(bad) == {"alae_tf.evaluation", "alae_tf.export.tflite"}
    assert _layer("alae_tf.evaluation") > _layer("alae_tf.model")
    assert _layer("alae_tf.commands.train_judge") == len(LAYERS) - 1
    planted = {**SOURCES, "alae_tf.model": SOURCES["alae_tf.model"] + "\nfrom alae_tf import evaluation\n"}
    assert ("alae_tf.model", "alae_tf.evaluation") in layer_violations(planted)


def test_the_script_check_sees_a_shim_importing_another_command():
    shim = ROOT / "export" / "tflite.py"
    assert script_binary_imports(shim, "from alae_tf.commands.export_tflite import run\n") == []
    other = "from alae_tf.commands.export_tflite import run\nfrom alae_tf.commands import export_onnx\n"
    assert script_binary_imports(shim, other) == ["alae_tf.commands.export_onnx"]
    # Outside export/ no script may import a command, its name notwithstanding.
    bench = ROOT / "benchmarks" / "tflite.py"
    assert script_binary_imports(bench, "from alae_tf.commands.export_tflite import run\n") == [
        "alae_tf.commands.export_tflite"
    ]


def test_the_checks_see_a_planted_cycle_between_packages():
    # The old shape: metrics.editing imports editing, editing's methods import metrics.judge, and
    # metrics/__init__ loads metrics.editing. Both the layers and the cycle check must refuse it.
    planted = {
        **SOURCES,
        "alae_tf.editing.methods": "from alae_tf.metrics.judge import class_mean_codes\n",
        "alae_tf.editing": SOURCES["alae_tf.editing"] + "from alae_tf.editing import methods\n",
    }
    assert ("alae_tf.editing.methods", "alae_tf.metrics.judge") in layer_violations(planted)
    cycle = find_cycle(import_graph(planted))
    assert cycle is not None and {"alae_tf.editing", "alae_tf.metrics", "alae_tf.metrics.editing"} <= set(cycle)


def test_the_cycle_check_sees_a_cycle_inside_a_package():
    # Inside one layer the ranks cannot see it: only the cycle check can.
    planted = {
        "alae_tf.editing": "from alae_tf.editing import a\n",
        "alae_tf.editing.a": "from alae_tf.editing.b import f\n",
        "alae_tf.editing.b": "def f():\n    from alae_tf.editing import a\n",
    }
    assert not layer_violations(planted)
    assert find_cycle(import_graph(planted)) == ["alae_tf.editing.a", "alae_tf.editing.b", "alae_tf.editing.a"]
    # A submodule importing its own package's other submodules is no cycle.
    fine = {
        "alae_tf.editing": "from alae_tf.editing import a\n",
        "alae_tf.editing.a": "from alae_tf.editing import b\n",
        "alae_tf.editing.b": "import numpy\n",
    }
    assert find_cycle(import_graph(fine)) is None


def test_the_private_name_check_sees_every_form():
    source = (
        "from alae_tf.metrics.judge import _judge, eval_labels\n"
        "from alae_tf.editing import workflows\n"
        "from alae_tf.features import classifier\n"
        "import alae_tf.data.image_ops as ops\n"
        "x = classifier._unit_scale\n"
        "y = ops._to_pil\n"
        "z = workflows._private_of_my_own_package\n"
    )
    found = private_imports("alae_tf.editing.photo_edits", source)
    assert [name for _, name in found] == [
        "alae_tf.metrics.judge._judge",
        "alae_tf.features.classifier._unit_scale",
        "alae_tf.data.image_ops._to_pil",
    ]
    # Inside its own package a module may share private names.
    assert private_imports("alae_tf.metrics.editing", "from alae_tf.metrics.judge import _judge\n") == []


@pytest.mark.parametrize(
    "line",
    [
        "import sys\nsys.path.insert(0, '/x')",
        "import sys\nsys.path.append('/x')",
        "import sys\nsys.path.extend(['/x'])",
        "import sys\nsys.path = ['/x'] + sys.path",
        "import sys\nsys.path += ['/x']",
        "import sys\nsys.path[:0] = ['/x']",
        "import sys\nsys.path[0] = '/x'",
        "import sys\ndel sys.path[0]",
        "import sys\nsys.path.remove('/x')",
        "import sys as system\nsystem.path.insert(0, '/x')",
        "from sys import path\npath.insert(0, '/x')",
        "from sys import path as p\np[0:0] = ['/x']",
        "import sys\nsetattr(sys, 'path', [])",
        "import site\nsite.addsitedir('/x')",
        "from site import addsitedir\naddsitedir('/x')",
        "def test(monkeypatch):\n    monkeypatch.syspath_prepend('/x')",
        "import sys\n\ndef f():\n    a, sys.path[0] = 1, '/x'",
    ],
)
def test_the_sys_path_check_sees_every_edit(line):
    assert sys_path_edits(line), line


def test_the_sys_path_check_lets_reading_it_be():
    reading = (
        "import sys\nprint(sys.path[0], sys.path.index('/x'), '/x' in sys.path, list(sys.path))\n"
        "text = 'sys.path.insert(0, here)'\n"
    )
    assert sys_path_edits(reading) == []
