"""The commands are console scripts: pyproject.toml's [project.scripts] names `alae_tf.commands.NAME:run` for every
command module, each resolves to a callable, and each one's `--helpshort` runs and lists the command's own flags
(all ten in one child process that imports TensorFlow once and forks per command: a binary's flags are global)."""

import json
import os
import pathlib
import subprocess
import sys
import tomllib

import pytest

from alae_tf import command_runner, flagfiles
from tests.conftest import REPO

SCRIPTS = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
COMMANDS = REPO / "alae_tf" / "commands"
MODULES = sorted(p.stem for p in COMMANDS.glob("*.py") if p.stem != "__init__")


def test_every_command_module_is_a_console_script_and_nothing_else_is():
    targets = {}
    for script, target in SCRIPTS.items():
        module, _, function = target.partition(":")
        assert script.startswith("alae-") and function == "run", f"{script} = {target!r}"
        assert module.startswith("alae_tf.commands."), f"{script} = {target!r}: commands live in alae_tf/commands/"
        targets[module.removeprefix("alae_tf.commands.")] = script
    assert sorted(targets) == MODULES, "alae_tf/commands/ and pyproject.toml's [project.scripts] disagree"
    assert len(targets) == len(SCRIPTS)


def test_the_commands_package_docstring_lists_every_script():
    import alae_tf.commands

    for script, target in SCRIPTS.items():
        module = target.partition(":")[0].removeprefix("alae_tf.commands.")
        assert f"| `{script}` | `{module}` |" in alae_tf.commands.__doc__, script


def test_the_export_shims_run_the_packaged_commands():
    for shim, module in [
        ("saved_model", "export_saved_model"),
        ("tflite", "export_tflite"),
        ("onnx_model", "export_onnx"),
    ]:
        text = (REPO / "export" / f"{shim}.py").read_text()
        assert f"from alae_tf.commands.{module} import run\n" in text and "    run()\n" in text, shim
        assert "flags.DEFINE" not in text, f"export/{shim}.py defines flags: the command's module should"


# One child process: TensorFlow is imported once, then each command is imported and run in a fork of it.
_CHILD = r"""
import importlib, json, os, sys
import alae_tf.startup  # noqa: F401
from absl import flags

results = {}
for script, target in json.loads(sys.argv[1]).items():
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        os.dup2(write, 1)
        os.dup2(write, 2)
        code = 99
        try:
            module_name, _, function = target.partition(":")
            module = importlib.import_module(module_name)
            run = getattr(module, function)
            assert callable(run), f"{target} is not callable"
            own = [f.name for f in flags.FLAGS.get_flags_for_module(module_name)]
            print("OWN_FLAGS " + json.dumps(own), flush=True)
            sys.argv = [script, "--helpshort"]
            run()
        except SystemExit as e:  # absl's help exits 1 by design
            code = e.code if isinstance(e.code, int) else 1
        except BaseException as e:
            print(f"FAILED {type(e).__name__}: {e}", flush=True)
            code = 98
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    _, status = os.waitpid(pid, 0)
    results[script] = {"status": os.waitstatus_to_exitcode(status), "output": b"".join(chunks).decode(errors="replace")}
print("RESULTS " + json.dumps(results))
"""


@pytest.fixture(scope="module")
def helps():
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(SCRIPTS)],
        capture_output=True,
        text=True,
        env=env,
        cwd="/",
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(x for x in result.stdout.splitlines() if x.startswith("RESULTS "))
    return json.loads(line.removeprefix("RESULTS "))


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_helpshort_of_each_command_shows_its_docstring_and_its_flags(script, helps):
    got = helps[script]
    output = got["output"]
    assert got["status"] == 1 and "FAILED" not in output, output[-3000:]
    own = json.loads(next(x for x in output.splitlines() if x.startswith("OWN_FLAGS ")).removeprefix("OWN_FLAGS "))
    assert own, f"{script} defines no flags of its own"
    listed = output.split("\nflags:\n", 1)[-1]
    missing = [n for n in own if f"--{n}:" not in listed and f"--[no]{n}:" not in listed]
    assert not missing, f"{script} --helpshort leaves out {missing}:\n{output[-3000:]}"
    module = SCRIPTS[script].partition(":")[0]
    doc = __import__("importlib").util.find_spec(module).origin
    first_line = pathlib.Path(doc).read_text().split('"""', 1)[1].splitlines()[0].strip()
    assert first_line in output, f"{script} --helpshort does not show its docstring"


def test_a_flagfile_missing_here_is_read_from_the_shipped_ones(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["alae-train", "--flagfile=flags/mnist_mlp.cfg", "--flagfile", "ffhq.cfg", "--workdir=w", "--", "x"]
    want = flagfiles.directory()
    assert want == REPO / "flags" and "mnist_mlp_demo" in flagfiles.names()
    assert flagfiles.expand_argv(argv) == [
        "alae-train",
        f"--flagfile={want / 'mnist_mlp.cfg'}",
        "--flagfile",
        str(want / "ffhq.cfg"),
        "--workdir=w",
        "--",
        "x",
    ]
    (tmp_path / "flags").mkdir()
    (tmp_path / "flags" / "mnist_mlp.cfg").write_text("--preset=mnist_mlp_tiny\n")
    assert flagfiles.expand_argv(argv)[1] == "--flagfile=flags/mnist_mlp.cfg"  # one that exists here is kept
    assert flagfiles.expand_argv(["x", "--flagfile=nope.cfg"]) == ["x", "--flagfile=nope.cfg"]  # absl names it


def test_the_runner_is_what_every_command_calls():
    for module in MODULES:
        text = (COMMANDS / f"{module}.py").read_text()
        assert "    command_runner.run(main, __name__)\n" in text, module
        assert 'if __name__ == "__main__":\n    run()\n' in text, module
    assert command_runner.run.__module__ == "alae_tf.command_runner"
