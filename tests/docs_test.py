"""The docs stay true (README.md, BUILD.md, docs/*.md): flag tables against the commands' flags, the models.config
example against what an export writes, the demo's recipe against its preset, command names against pyproject.toml's
console scripts, links against the files and headings they point to, and measured numbers quoted in the docs against
the results files they come from."""

import dataclasses
import importlib.util
import json
import os
import re
import subprocess
import sys
import tomllib

import pytest

from alae_tf import configs
from tests.conftest import REPO

DOCS = {
    path.relative_to(REPO).as_posix(): path.read_text()
    for path in [REPO / "README.md", REPO / "BUILD.md", *sorted((REPO / "docs").glob("*.md"))]
}
README = DOCS["README.md"]
SCRIPTS = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]


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


# Each documented table: the page it is on, and the command (plus the shared flag module) it describes.
TABLES = {
    "flag": ("docs/training.md", ("alae_tf.commands.train", "alae_tf.config_flags")),
    "`alae-convert` flag": ("docs/published_models.md", ("alae_tf.commands.convert", "alae_tf.config_flags")),
}


def test_every_flag_table_in_the_docs_is_checked():
    found = {(page, header) for page, text in DOCS.items() for header in flag_tables(text)}
    assert found == {(page, header) for header, (page, _) in TABLES.items()}


@pytest.mark.parametrize("header", sorted(TABLES))
def test_every_flag_table_lists_the_commands_flags_with_their_defaults(header):
    page, modules = TABLES[header]
    rows = flag_tables(DOCS[page])[header]
    defined = binary_flags(*modules)
    documented = {name for names, _ in rows for name in names}
    unknown = sorted(documented - set(defined))
    assert not unknown, f"{page}'s {header!r} table lists flags the command does not have: {unknown}"
    if header != "flag":  # the convert table points to the train table for the shared preset flags
        shared = binary_flags("alae_tf.config_flags")
        defined = {k: v for k, v in defined.items() if k not in shared}
    missing = sorted(set(defined) - documented)
    assert not missing, f"{page}'s {header!r} table leaves out the command's flags {missing}"
    for names, default_text in rows:
        want = literal(default_text)
        if want is ... or len(names) != 1:
            continue
        default = defined[names[0]]
        got = "required" if want == "required" and default is None else default
        assert got == want, f"--{names[0]}: {page} says the default is {default_text}, the command has {default!r}"


def test_the_flag_table_check_can_fail():
    table = "| flag | default | meaning |\n|---|---|---|\n| `--seed` | 5 | x |\n| `--no_such_flag` | 1 | x |\n"
    rows = flag_tables(table)["flag"]
    assert rows == [(["seed"], "5"), (["no_such_flag"], "1")]
    assert literal("5") != binary_flags("alae_tf.config_flags")["seed"]


def test_the_models_config_example_lists_the_parts_an_export_writes():
    from alae_tf.export.saved_model import PARTS

    example = re.search(r"model_config_list \{\n(.*?)\n\}", DOCS["docs/export.md"], re.S).group(1)
    names = re.findall(r'name: "(\w+)"', example)
    assert sorted(names) == sorted(PARTS)


# --- measured numbers quoted in the docs ---------------------------------------------------------------------


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


def editing(metric):
    return row(results("editing.json"), metric=metric, run="runs/mnist_mlp_demo")["value"]


def quality(name, run, images, **match):
    return row(results(name), run=run, images=images, **match)


PUBLISHED = "docs/published_models.md"
EDITING = "docs/editing.md"
DEMO = "docs/demo.md"
QUALITY = "benchmarks/quality.md"
HALF_PERCENT = ("abs", 0.5)  # a whole percentage, rounded

# (page, text the page must contain, (the number in it, the number the results file holds), tolerance: relative,
# ("abs", a) absolute, or None for a bound the measurement must lie under)
CLAIMS = [
    (PUBLISHED, "| 2,259 MiB (a weights-only file:", lambda: (2259, fullsize("ffhq", "legacy")["peak_rss_mib"]), 0.005),
    (PUBLISHED, "(a weights-only file: 2,033 MiB)", lambda: (2033, fullsize("ffhq", "weights")["peak_rss_mib"]), 0.005),
    (
        PUBLISHED,
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
        PUBLISHED,
        "the reconstruction G(E(x)) within 3.5e-5",
        lambda: (
            3.5e-5,
            max(r[k] for r in results("fullsize_parity.json") for k in ("err_x_from_w", "err_x_rec") if k in r),
        ),
        None,
    ),
    (
        PUBLISHED,
        "| 2.58 GB | 711 MB",
        lambda: (711, export_row("saved_model", "6 parts + models.config", 1024)["size_mb"]),
        0.01,
    ),
    (
        PUBLISHED,
        "| 2.58 GB | 711 MB",
        lambda: (2.58, export_row("saved_model", "6 parts + models.config", 1024)["peak_rss_gb"]),
        0.01,
    ),
    (
        PUBLISHED,
        "| SavedModel, 1024 px | 0.399 s |",
        lambda: (0.399, export_row("saved_model", "6 parts + models.config", 1024)["encode_s"]),
        0.01,
    ),
    (
        PUBLISHED,
        "| 0.648 s | 0.931 s |",
        lambda: (0.648, export_row("saved_model", "6 parts + models.config", 1024)["decode_s"]),
        0.01,
    ),
    (
        PUBLISHED,
        "| 0.648 s | 0.931 s |",
        lambda: (0.931, export_row("saved_model", "6 parts + models.config", 1024)["reconstruct_s"]),
        0.01,
    ),
    (
        PUBLISHED,
        "| 0.205 / 0.0525 s |",
        lambda: (0.0525, export_row("tflite", "encoder dynamic", 256)["encode_s"]),
        0.01,
    ),
    (
        PUBLISHED,
        "| 9.11 GB | 277 MB |",
        lambda: (9.11, export_row("onnx", "encoder encode_float", 1024)["peak_rss_gb"]),
        0.01,
    ),
    (
        PUBLISHED,
        "within 5e-4 of max|w| (cosine >= 0.99999)",
        lambda: (5e-4, export_row("tflite", "encoder float16", 1024)["check_vs_saved_model"]["w_rel"]),
        None,
    ),
    (
        DEMO,
        "(95.3 % of the judge's accuracy)",
        lambda: (95.3, 100 * demo_seed(0)["recon_class_kept"] / demo_seed(0)["judge_accuracy_real"]),
        ("abs", 0.05),
    ),
    (DEMO, "right on 89.2 % of real test images", lambda: (89.2, 100 * editing("judge_accuracy_real")), ("abs", 0.05)),
    (EDITING, "**88 %** of test images", lambda: (88, 100 * editing("class_edit_success")), HALF_PERCENT),
    (EDITING, "for 93 % (moving the image", lambda: (93, 100 * editing("ink_edit_class_kept_at_target")), HALF_PERCENT),
    (EDITING, "loses nothing\n(87.9 %)", lambda: (87.9, 100 * editing("class_edit_success_tflite")), ("abs", 0.05)),
    (
        EDITING,
        "67 % at strength 1",
        lambda: (67, 100 * quality("quality_ablations_2.json", "C_px10_l256", 2500096)["class_mean_edit_success"]),
        HALF_PERCENT,
    ),
    # The fast recipe and CPUs without AVX512 (docs/demo.md): the demo's own run, the search, the cost ratios.
    (DEMO, "| 323 s (about 225 of them", lambda: (323, fast_demo()["seconds_after_setup"]), 0.005),
    (DEMO, "| 731 s (about 654 of them", lambda: (731, full_demo()["seconds_after_setup"]), 0.005),
    (DEMO, "| 731 s (about 654 of them", lambda: (654, full_demo()["training_seconds"]), 0.005),
    (DEMO, "0.047 PFLOP (0.163 of it)", lambda: (0.163, fast_recipe(2)["cost_vs_old_demo"]), ("abs", 0.0005)),
    (DEMO, "0.047 PFLOP (0.163 of it)", lambda: (0.047, fast_recipe(2)["training_pflop"]), ("abs", 0.0005)),
    (
        DEMO,
        "| 0.289 PFLOP |",
        lambda: (0.289, results_file("quality_per_flop.json")["settings"]["old_demo_pflop"]),
        0.002,
    ),
    (DEMO, "0.068 PFLOP (0.236 of the", lambda: (0.068, demo_seed(0)["training_pflop"]), ("abs", 0.0005)),
    (
        DEMO,
        "0.068 PFLOP (0.236 of the",
        lambda: (
            0.236,
            demo_seed(0)["training_pflop"] / results_file("quality_per_flop.json")["settings"]["old_demo_pflop"],
        ),
        ("abs", 0.0005),
    ),
    # The AVX2 estimates: 50 minutes times the same-run ratio of training times (demo_cost.py --jit_compile).
    (
        DEMO,
        "| 0.229 | 0.137 | 0.683 |",
        lambda: (0.229, demo_cost("avx2_xla", "mnist_mlp_demo")["time_vs_old"]),
        ("abs", 0.0005),
    ),
    (
        DEMO,
        "| 0.229 | 0.137 | 0.683 |",
        lambda: (0.137, demo_cost("avx2_xla", "mnist_mlp_fast")["time_vs_old"]),
        ("abs", 0.0005),
    ),
    (
        DEMO,
        "| 0.229 | 0.137 | 0.683 |",
        lambda: (0.683, demo_cost("avx2_xla", "mnist_mlp_wide")["time_vs_old"]),
        ("abs", 0.0005),
    ),
    (
        DEMO,
        "previous recipe at 1,428 images/s",
        lambda: (1428, demo_cost("avx2_xla", "old demo")["images_per_second"]),
        0.001,
    ),
    (
        DEMO,
        "the demo's game at 4,540",
        lambda: (4540, demo_cost("avx2_xla", "mnist_mlp_demo")["images_per_second"]),
        0.001,
    ),
    (
        DEMO,
        "its refinement at 11,802",
        lambda: (11802, demo_cost("avx2_xla", "mnist_mlp_demo")["refine_images_per_second"]),
        0.001,
    ),
    # The sixth search's step rates (benchmarks/quality.md): the refinement's step by batch / anchor samples.
    (QUALITY, "| **10.5** | **1.38** |", lambda: (1.38, refine_step("128/32")["speed_vs_first"]), ("abs", 0.005)),
    (QUALITY, "| 12.2 | 1.56 |", lambda: (1.56, refine_step("256/128")["speed_vs_first"]), ("abs", 0.005)),
    (QUALITY, "| 12.2 | 1.24 |", lambda: (1.24, refine_step("128/64")["speed_vs_first"]), ("abs", 0.005)),
    (QUALITY, "256 / 256, runs 1.25 times", lambda: (1.25, refine_step("256/256")["speed_vs_first"]), ("abs", 0.005)),
    (DEMO, "| 359 s (about 283 of them", lambda: (359, demo_run("demo_refined_run")["seconds_after_setup"]), 0.005),
    (DEMO, "| 359 s (about 283 of them", lambda: (283, demo_run("demo_refined_run")["training_seconds"]), 0.005),
    (
        DEMO,
        "**359 s\n(6.0 minutes) after setup**",
        lambda: (359, demo_run("demo_refined_run")["seconds_after_setup"]),
        0.005,
    ),
    (
        "README.md",
        "359 s after setup on\na 2-core Xeon",
        lambda: (359, demo_run("demo_refined_run")["seconds_after_setup"]),
        0.005,
    ),
    (
        "README.md",
        "about 13 minutes on an AVX2-only CPU",
        lambda: (13, demo_run("demo_avx2_emulated_run")["epyc_seconds_after_setup_computed"] / 60),
        ("abs", 0.5),
    ),
    (DEMO, "| 454 s (383 of them", lambda: (454, demo_run("demo_avx2_emulated_run")["seconds_after_setup"]), 0.005),
    (DEMO, "| 454 s (383 of them", lambda: (383, demo_run("demo_avx2_emulated_run")["training_seconds"]), 0.005),
    (
        DEMO,
        "**about 12.9 minutes** (454 s x 1,436 / 840)",
        lambda: (12.9, demo_run("demo_avx2_emulated_run")["epyc_seconds_after_setup_computed"] / 60),
        ("abs", 0.05),
    ),
    (
        DEMO,
        "training 10.9\nminutes",
        lambda: (10.9, demo_run("demo_avx2_emulated_run")["training_seconds"] * 1436 / 840 / 60),
        ("abs", 0.05),
    ),
    # Clean edits (benchmarks/quality.md, "Clean edits?"): where 80 % first reach their class, and the HF there.
    (EDITING, "every seed (81-83 %, HF 0.86-0.91)", lambda: (81, 100 * min(at_80("edges", "success"))), HALF_PERCENT),
    (EDITING, "every seed (81-83 %, HF 0.86-0.91)", lambda: (83, 100 * max(at_80("edges", "success"))), HALF_PERCENT),
    (EDITING, "every seed (81-83 %, HF 0.86-0.91)", lambda: (0.86, min(at_80("edges", "hf_ratio"))), ("abs", 0.005)),
    (EDITING, "every seed (81-83 %, HF 0.86-0.91)", lambda: (0.91, max(at_80("edges", "hf_ratio"))), ("abs", 0.005)),
    (
        EDITING,
        "the target class for **87-88 %**",
        lambda: (87, 100 * min(at_80("edges_transport", "success"))),
        HALF_PERCENT,
    ),
    (
        EDITING,
        "the target class for **87-88 %**",
        lambda: (88, 100 * max(at_80("edges_transport", "success"))),
        HALF_PERCENT,
    ),
    (
        EDITING,
        "high-frequency energy, as the",
        lambda: (0.85, min(at_80("edges_transport", "hf_ratio"))),
        ("abs", 0.005),
    ),
    (
        EDITING,
        "reaches the target for 68 % of test images",
        lambda: (68, 100 * demo_seed(0)["class_mean_edit_success"]),
        HALF_PERCENT,
    ),
    (
        DEMO,
        "keep the class for 81 % of test",
        lambda: (81, 100 * sum(fast_recipe(s)["recon_class_kept"] for s in (0, 1, 2)) / 3),
        HALF_PERCENT,
    ),
]


def at_80(label, key):
    """`key` of each seed at the first strength where 80 % of edits reach their class (edit_realism_demo_<label>)."""
    return [row[key] for row in results_file(f"edit_realism_demo_{label}.json")["at_80"].values()]


def results_file(name):
    return json.loads((REPO / "benchmarks" / "results" / name).read_text())


def fast_demo():
    (only,) = results("demo_fast_run.json")
    return only


def demo_run(name):
    (only,) = results(f"{name}.json")
    return only


def full_demo():
    (only,) = results("demo_run.json")
    return only


def demo_seed(seed):
    return row(results("quality_demo_edges.json"), run="mnist_mlp_demo", seed=seed)


def fast_recipe(seed):
    return row(results("quality_per_flop.json"), candidate="h512_lazy4_g1_px20_lr3", seed=seed, images=1100032)


def refine_step(variant):
    return row(results("refine_step_avx2_xla.json"), variant=variant)


def demo_cost(label, recipe):
    return row(results(f"demo_cost_{label}.json"), recipe=recipe)


def xla_row(variant, preset):
    return row(results("train_throughput_xla.json"), variant=variant, preset=preset)["images_per_s"]


def check_claim(text, page_text, numbers, tolerance):
    assert text in page_text, f"the page no longer says {text!r}: update it and this claim together"
    quoted, measured = numbers()
    if tolerance is None:  # a bound: what was measured lies under the quoted number
        assert measured <= quoted, f"{text!r}: measured {measured:.3g} exceeds the quoted {quoted:g}"
    elif isinstance(tolerance, tuple):
        assert abs(measured - quoted) <= tolerance[1] + 1e-9, f"{text!r}: quoted {quoted}, measured {measured:.4g}"
    else:
        assert abs(measured - quoted) <= tolerance * abs(quoted), f"{text!r}: quoted {quoted}, measured {measured:.4g}"


@pytest.mark.parametrize("index", range(len(CLAIMS)))
def test_numbers_quoted_in_the_docs_agree_with_the_results_files(index):
    page, text, numbers, tolerance = CLAIMS[index]
    check_claim(text, DOCS[page] if page in DOCS else (REPO / page).read_text(), numbers, tolerance)


def test_the_claim_check_can_fail():
    with pytest.raises(AssertionError, match="quoted 88, measured 80"):
        check_claim("88 %", "88 %", lambda: (88, 80.0), HALF_PERCENT)
    with pytest.raises(AssertionError, match="no longer says"):
        check_claim("88 %", "87 %", lambda: (88, 88.0), HALF_PERCENT)


# --- the demo: its recipe quoted in one place, its measured results -------------------------------------------


def markdown_table(text, first_header):
    """`(header cells, [row cells])` of the Markdown table whose header row starts with `first_header`."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_header:
            rows = []
            for body in lines[i + 2 :]:
                if not body.startswith("|"):
                    break
                rows.append([c.strip() for c in body.strip().strip("|").split("|")])
            return cells, rows
    raise AssertionError(f"no table starting with {first_header!r}")


def cell_value(text):
    text = text.strip("`").replace(",", "")
    return text if not re.fullmatch(r"-?\d+(\.\d+)?", text) else float(text)


def test_the_demo_recipe_table_is_the_presets():
    names = ("mnist_mlp_demo", "mnist_mlp_fast", "mnist_mlp_wide", "mnist_mlp")
    presets = [configs.PRESETS[name] for name in names]
    header, rows = markdown_table(DOCS["docs/training.md"], "field")
    assert header[1:] == ["`mnist_mlp_demo`", "`mnist_mlp_fast`", "`mnist_mlp_wide`", "`mnist_mlp` (the paper's)"]
    documented = set()
    for field, *texts in rows:
        name = field.strip("`")
        documented.add(name)
        for preset, text in zip(presets, texts, strict=True):
            want = getattr(preset, name)
            got = text.strip("`") if isinstance(want, tuple) else cell_value(text)
            want = str(want) if isinstance(want, tuple) else want
            assert got == (float(want) if isinstance(want, int | float) else want), (
                f"docs/training.md's demo recipe says {name} = {text} for {preset.name}, the preset has {want!r}"
            )
    paper = presets[-1]
    for preset in presets[:-1]:
        differ = {f for f in dataclasses_fields(preset) if f != "name" and getattr(preset, f) != getattr(paper, f)}
        assert differ <= documented, (
            f"{preset.name} also differs in {sorted(differ - documented)}: add them to the table"
        )


def dataclasses_fields(config):
    return [f.name for f in dataclasses.fields(config)]


# The demo results table (docs/demo.md): its columns and the results rows they quote.
DEMO_COLUMNS = [
    ("quality_demo_edges.json", "mnist_mlp_demo", 2800000, {"seed": 0}),
    ("quality_ablations_2.json", "C_px10_l256", 2500096, {}),
    ("quality_ablations.json", "paper_s0", 300032, {}),
    ("quality_ablations.json", "paper_s0", 3000064, {}),
    ("quality_ablations_2.json", "paper_s0", 10000000, {}),
]
# Row label -> the result keys its cells quote, in order; a cell's numbers before any `%` are percentages.
DEMO_ROWS = {
    "5-NN / linear SVM on E(x)": ("knn5_accuracy", "svm_accuracy"),
    "recon MSE": ("recon_mse",),
    "reconstructions keep the class": ("recon_class_kept",),  # of the judge's accuracy: a claim below
    "FD in the judge's features": ("fd_fmnist_classifier",),
    "samples' high-frequency energy / real": ("sample_hf_ratio",),
    "reconstructions' high-frequency energy / real": ("recon_hf_ratio",),
    "rarest class among samples": ("sample_class_min_fraction",),
    "class-mean edits reach the target (strength 1)": ("class_mean_edit_success",),
}


def check_table_cell(cell, keys, result, where):
    numbers = re.findall(r"(\d+(?:\.\d+)?)( ?%)?", cell.replace("*", ""))
    for (number, percent), key in zip(numbers, keys):
        decimals = len(number.partition(".")[2])
        measured = result[key] * (100 if percent else 1)
        assert abs(measured - float(number)) <= 0.5 * 10**-decimals + 1e-9, (
            f"{where}: {key} is quoted as {number}{percent}, the results file has {measured:.6g}"
        )


def test_the_demo_results_table_agrees_with_the_results_files():
    header, rows = markdown_table(DOCS["docs/demo.md"], "")
    assert len(header) == 1 + len(DEMO_COLUMNS) and {r[0] for r in rows} == set(DEMO_ROWS)
    for label, *cells in rows:
        for cell, (name, run, images, match), title in zip(cells, DEMO_COLUMNS, header[1:]):
            where = f"docs/demo.md {label!r} / {title!r}"
            check_table_cell(cell, DEMO_ROWS[label], quality(name, run, images, **match), where)


def test_the_demo_columns_were_measured_on_the_presets_recipes():
    # The demo's column: the run's own config, recorded in its results file.
    name, run, images, match = DEMO_COLUMNS[0]
    demo = configs.PRESETS["mnist_mlp_demo"]
    measured = configs.ALAEConfig.from_json(results_file(name)["settings"]["config"])
    assert measured.replace(name=demo.name, train_images=demo.train_images) == demo, (
        f"docs/demo.md's demo column was measured with {measured}; the preset is now {demo}: measure it again"
    )
    assert quality(name, run, images, **match)["images"] - demo.train_images < demo.batch_size
    assert f"(`mnist_mlp_demo`, {demo.train_images / 1e6:g}M images)" in DOCS["docs/demo.md"]
    # The previous demo's column: an ablation row, the paper preset with its recorded changes.
    name, run, images, match = DEMO_COLUMNS[1]
    wide, paper = configs.PRESETS["mnist_mlp_wide"], configs.PRESETS["mnist_mlp"]
    changes = dict(c.split("=") for c in quality(name, run, images, **match)["changes"].split())
    recipe = {
        f: getattr(wide, f)
        for f in dataclasses_fields(wide)
        if f not in ("name", "train_images", "autoencoder_variables") and getattr(wide, f) != getattr(paper, f)
    }
    assert {k: float(v) for k, v in changes.items()} == {k: float(v) for k, v in recipe.items()}, (
        f"docs/demo.md's wide column was measured with {changes}; mnist_mlp_wide now changes {recipe}"
    )
    assert abs(images - wide.train_images) < wide.batch_size, (images, wide.train_images)
    assert f"(`mnist_mlp_wide`, {wide.train_images / 1e6:g}M" in DOCS["docs/demo.md"]


def test_the_table_cell_check_can_fail():
    with pytest.raises(AssertionError, match="quoted as 0.865"):
        check_table_cell("**0.865 / 0.858**", ("a", "b"), {"a": 0.8660, "b": 0.858}, "x")
    with pytest.raises(AssertionError, match="quoted as 85.1 %"):
        check_table_cell("85.1 %", ("a",), {"a": 0.8521}, "x")
    check_table_cell("85.1 % (95.4 % of it)", ("a", "b"), {"a": 0.8514, "b": 0.9536}, "x")


# --- command names, help texts and links ------------------------------------------------------------------------


def test_every_command_named_in_the_docs_and_scripts_exists():
    texts = dict(DOCS)
    for path in [*sorted((REPO / "scripts").glob("*.sh")), *sorted((REPO / "flags").glob("*.cfg"))]:
        texts[path.relative_to(REPO).as_posix()] = path.read_text()
    for where, text in texts.items():
        for name in set(re.findall(r"\balae-[a-z][a-z-]*[a-z]\b", text)) - {"alae-tf"}:
            assert name in SCRIPTS, f"{where} names the command {name}, which pyproject.toml does not declare"
        for module in set(re.findall(r"python -m (alae_tf(?:\.[a-z_][a-z0-9_]*)+)\b", text)):
            assert importlib.util.find_spec(module) is not None, f"{where} runs `python -m {module}`: no such module"


def test_the_commands_page_lists_every_command():
    header, rows = markdown_table(DOCS["docs/commands.md"], "command")
    listed = {r[0].strip("`"): r[1].strip("`") for r in rows}
    assert listed == {s: t.partition(":")[0].removeprefix("alae_tf.commands.") for s, t in SCRIPTS.items()}


def test_the_tflite_help_quotes_the_numbers_the_export_page_has():
    source = (REPO / "alae_tf" / "commands" / "export_tflite.py").read_text().replace('"\n    "', "")
    quoted = re.search(r"SavedModel 0\.\d+(?:, \w+ 0\.\d+)+", source).group(0)
    assert quoted in DOCS["docs/export.md"].replace("\n", " "), f"--quantize's help says {quoted!r}"


def _anchor(heading):
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_relative_links_point_to_files_and_headings_that_exist():
    for where, text in DOCS.items():
        base = (REPO / where).parent
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if "://" in target:
                continue
            path, _, anchor = target.partition("#")
            file = (base / path).resolve() if path else REPO / where
            assert file.exists(), f"{where} links to {target}: no such file"
            if anchor and file.suffix == ".md":
                headings = {_anchor(h) for h in re.findall(r"^#+ (.*)$", file.read_text(), re.M)}
                assert anchor in headings, f"{where} links to {target}: no such heading in {file.name}"
