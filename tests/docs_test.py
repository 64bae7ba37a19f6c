"""The docs stay true: flag tables against the binaries' flags, the models.config example against what an export
writes, and measured numbers quoted in the README against the results files they come from."""

import json
import os
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO

BUILD = (REPO / "BUILD.md").read_text()
README = (REPO / "README.md").read_text()


def flag_tables(text):
    """`{header's first cell: [(flag names, default text)]}` of the Markdown tables whose rows start with a flag."""
    tables, current = {}, None
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else None
        if cells and len(cells) >= 3 and cells[0].endswith("flag") and cells[1] == "default":
            current = tables.setdefault(cells[0], [])
        elif cells and current is not None and cells[0].startswith("`--"):
            names = re.findall(r"`--(?:\[no\])?([a-z0-9_]+)", cells[0])
            current.append((names, cells[1]))
        elif not cells or not cells[0].startswith(("`--", "---")):
            current = None if not cells else current
    return tables


def binary_flags(*modules):
    """`{name: default}` of the flags these modules define, read in a child process: importing a binary defines
    its flags (some required) in this process's global FLAGS, where other tests parse theirs."""
    code = (
        "import importlib, json, sys; from absl import flags; mods = sys.argv[1:]; "
        "[importlib.import_module(m) for m in mods]; "
        "print(json.dumps({f.name: f.default for m in mods for f in flags.FLAGS.get_flags_for_module(m)}))"
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, "-c", code, *modules], capture_output=True, text=True, env=env, cwd=REPO, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def literal(default_text):
    """The default a table cell states, or `...` when it states none to compare (preset-dependent, prose)."""
    text = default_text.strip("`").strip()
    if text in ("required", "(required)"):
        return "required"
    if text in ("false", "off"):
        return False
    if text in ("true", "on"):
        return True
    if text == "none":
        return None
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if re.fullmatch(r"-?\d*\.\d+(e-?\d+)?", text):
        return float(text)
    if re.fullmatch(r"`[^`]+`", default_text.strip()):
        return text
    return ...


# Each documented table and the binary (plus the shared flag module) it describes.
TABLES = {
    "flag": ("alae_tf.train", "alae_tf.config_flags"),
    "`alae_tf.convert` flag": ("alae_tf.convert.__main__", "alae_tf.config_flags"),
}


@pytest.mark.parametrize("header", sorted(TABLES))
def test_every_flag_table_lists_the_binarys_flags_with_their_defaults(header):
    rows = flag_tables(BUILD)[header]
    defined = binary_flags(*TABLES[header])
    documented = {name for names, _ in rows for name in names}
    unknown = sorted(documented - set(defined))
    assert not unknown, f"BUILD.md's {header!r} table lists flags the binary does not have: {unknown}"
    if header != "flag":  # the convert table points to the train table for the shared preset flags
        shared = binary_flags("alae_tf.config_flags")
        defined = {k: v for k, v in defined.items() if k not in shared}
    missing = sorted(set(defined) - documented)
    assert not missing, f"BUILD.md's {header!r} table leaves out the binary's flags {missing}"
    for names, default_text in rows:
        want = literal(default_text)
        if want is ... or len(names) != 1:
            continue
        default = defined[names[0]]
        got = "required" if want == "required" and default is None else default
        assert got == want, f"--{names[0]}: BUILD.md says the default is {default_text}, the binary has {default!r}"


def test_the_flag_table_check_can_fail():
    table = "| flag | default | meaning |\n|---|---|---|\n| `--seed` | 5 | x |\n| `--no_such_flag` | 1 | x |\n"
    rows = flag_tables(table)["flag"]
    assert rows == [(["seed"], "5"), (["no_such_flag"], "1")]
    assert literal("5") != binary_flags("alae_tf.config_flags")["seed"]


def test_the_models_config_example_lists_the_parts_an_export_writes():
    from alae_tf.export.saved_model import PARTS

    example = re.search(r"model_config_list \{\n(.*?)\n\}", BUILD, re.S).group(1)
    names = re.findall(r'name: "(\w+)"', example)
    assert sorted(names) == sorted(PARTS)


# --- measured numbers quoted in the README -------------------------------------------------------------------


def results(name):
    return json.loads((REPO / "benchmarks" / "results" / name).read_text())["results"]


def row(rows, **match):
    found = [r for r in rows if all(r.get(k) == v for k, v in match.items())]
    assert len(found) == 1, (match, len(found))
    return found[0]


def fullsize(arch, fmt, mode="official_config"):
    return row(results("fullsize_parity.json"), arch=arch, format=fmt, mode=mode)


def export_row(fmt, variant, px):
    return row(results("published_export.json"), format=fmt, variant=variant, px=px)


# (text the README must contain, the number in it, the number the results file holds, relative tolerance)
CLAIMS = [
    ("| 2,259 MiB (a weights-only file:", lambda: (2259, fullsize("ffhq", "legacy")["peak_rss_mib"]), 0.005),
    ("(a weights-only file: 2,033 MiB)", lambda: (2033, fullsize("ffhq", "weights")["peak_rss_mib"]), 0.005),
    (
        "within 2e-6 of max|want|",
        lambda: (
            2e-6,
            max(
                r[k]
                for r in results("fullsize_parity.json")
                for k in ("err_w_from_x", "err_d_of_w_from_x", "err_w_from_z")
                if k in r  # rows of the --infer_architecture conversions check the exit code only
            ),
        ),
        None,
    ),
    (
        "the reconstruction G(E(x)) within 3.5e-5",
        lambda: (
            3.5e-5,
            max(r[k] for r in results("fullsize_parity.json") for k in ("err_x_from_w", "err_x_rec") if k in r),
        ),
        None,
    ),
    ("| 2.58 GB | 711 MB", lambda: (711, export_row("saved_model", "6 parts + models.config", 1024)["size_mb"]), 0.01),
    (
        "| 2.58 GB | 711 MB",
        lambda: (2.58, export_row("saved_model", "6 parts + models.config", 1024)["peak_rss_gb"]),
        0.01,
    ),
    (
        "| SavedModel, 1024 px | 0.399 s |",
        lambda: (0.399, export_row("saved_model", "6 parts + models.config", 1024)["encode_s"]),
        0.01,
    ),
    (
        "| 0.648 s | 0.931 s |",
        lambda: (0.648, export_row("saved_model", "6 parts + models.config", 1024)["decode_s"]),
        0.01,
    ),
    (
        "| 0.648 s | 0.931 s |",
        lambda: (0.931, export_row("saved_model", "6 parts + models.config", 1024)["reconstruct_s"]),
        0.01,
    ),
    ("| 0.205 / 0.0525 s |", lambda: (0.0525, export_row("tflite", "encoder dynamic", 256)["encode_s"]), 0.01),
    ("| 9.11 GB | 277 MB |", lambda: (9.11, export_row("onnx", "encoder encode_float", 1024)["peak_rss_gb"]), 0.01),
    (
        "within 5e-4 of max|w| (cosine >= 0.99999)",
        lambda: (5e-4, export_row("tflite", "encoder float16", 1024)["check_vs_saved_model"]["w_rel"]),
        None,
    ),
]


@pytest.mark.parametrize("index", range(len(CLAIMS)))
def test_numbers_quoted_in_the_readme_agree_with_the_results_files(index):
    text, numbers, tolerance = CLAIMS[index]
    assert text in README, f"the README no longer says {text!r}: update it and this claim together"
    quoted, measured = numbers()
    if tolerance is None:  # a bound: what was measured lies under the quoted number
        assert measured <= quoted, f"{text!r}: measured {measured:.3g} exceeds the quoted {quoted:g}"
    else:
        assert abs(measured - quoted) <= tolerance * abs(quoted), f"{text!r}: quoted {quoted}, measured {measured:.4g}"
