r"""Face-alignment parity with the OFFICIAL `align_faces.py`: make the fixtures, measure the difference.

The official function `align(img, parts, ...)` of podgorskiy/ALAE 42bcf2e (`use_1024 = True`,
the FFHQ recipe) runs verbatim in its own small venv: this script lifts the function's source
out of `align_faces.py` with `ast` (the file's module level loads dlib's model and walks a
`celbs/` folder, so it is not imported) and calls it on test photos with landmarks we pass, the
"given landmarks". None of the official code is kept here or in the fixtures.

Test photos are `tests/faces/scenes.py`'s: aligned faces scaled, rotated and placed on canvases.
Given landmarks: dlib's 68 points on each aligned face (enlarged to 512 px to be found), mapped
into the photo by the placement's affine map, so any angle works.

Setup (once, outside the repository):

    python3 -m venv /work/alignvenv
    /work/alignvenv/bin/pip install numpy==1.26.4 scipy==1.11.4 pillow==9.5.0  # PIL.Image.ANTIALIAS: Pillow < 10
    mkdir -p /work/official_alae/42bcf2e && git -C ALAE_CLONE archive 42bcf2e | tar -x -C /work/official_alae/42bcf2e

Then, from the repository root, in the project's venv (it needs dlib for the landmarks):

    # the committed fixtures: 256 px crops of faces128 scenes -> tests/faces/data/official_256/
    .venv/bin/python -m benchmarks.official_align_fixtures --faces=faces128 --write_fixtures
    # the check at full size, measured only: scenes of the official 1024 px samples at 1024 px,
    # given-landmark parity and, with detected landmarks, the eye and mouth error
    .venv/bin/python -m benchmarks.official_align_fixtures --faces=official

Each crop's row: mean and max |ours - official| in grey levels (over all pixels and channels),
the share of values that differ, and for detectable scenes the largest distance of the eye
centres and mouth corners found (dlib) on our crop from a detected-landmark alignment to those
found on the original aligned face, in % of the crop side.
"""

import json
import os
import pathlib
import subprocess
import tempfile

import numpy as np
from absl import app, flags
from PIL import Image

from alae_tf.faces import alignment, landmarks
from benchmarks import harness
from tests.faces import scenes

REPO = pathlib.Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "faces" / "data"
FIXTURE_SIZE = 256
OFFICIAL_COMMIT = "42bcf2e"

FLAGS = flags.FLAGS
flags.DEFINE_enum("faces", "faces128", ["faces128", "official"], "Which aligned faces the scenes are made of.")
flags.DEFINE_string(
    "official_dir",
    str(REPO.parent / "official_alae" / OFFICIAL_COMMIT),
    "A checkout of podgorskiy/ALAE at 42bcf2e (align_faces.py and, for --faces=official, dataset_samples/).",
)
flags.DEFINE_string(
    "official_python",
    str(REPO.parent / "alignvenv" / "bin" / "python"),
    "Python of a venv with numpy, scipy and Pillow < 10 (PIL.Image.ANTIALIAS) to run the official function.",
)
flags.DEFINE_string("faces128_dir", str(REPO.parent / "shared" / "data" / "faces128"), "The faces128 folder.")
flags.DEFINE_bool("write_fixtures", False, "--faces=faces128: write tests/faces/data/official_256/ and its JSON.")

# Runs in the official venv: the official `align` function, lifted verbatim, on the jobs of argv[1].
OFFICIAL_DRIVER = r"""
import ast, json, os, sys
import numpy as np, PIL, PIL.Image, scipy, scipy.ndimage
from PIL import Image
source_path, jobs_path = sys.argv[1], sys.argv[2]
tree = ast.parse(open(source_path).read())
keep = [n for n in tree.body if (isinstance(n, ast.FunctionDef) and n.name == "align")
        or (isinstance(n, ast.Assign) and any(getattr(t, "id", None) == "use_1024" for t in n.targets))]
assert len(keep) == 2, "align_faces.py has changed: no align() or use_1024"
space = {"np": np, "Image": Image, "PIL": PIL, "scipy": scipy, "os": os}
exec(compile(ast.Module(keep, []), source_path, "exec"), space)
assert space["use_1024"] is True
for job in json.load(open(jobs_path)):
    space["use_1024"] = job["use_1024"]  # the script's module-level switch, read by align()
    img = np.asarray(Image.open(job["photo"]))
    space["align"](img, job["parts"], dst_dir=job["dst_dir"], output_size=job["output_size"],
                   transform_size=job["transform_size"], item_idx=job["item_idx"])
print(json.dumps({"numpy": np.__version__, "scipy": scipy.__version__, "pillow": PIL.__version__}))
"""


def _faces_dir():
    if FLAGS.faces == "faces128":
        return pathlib.Path(FLAGS.faces128_dir)
    return pathlib.Path(FLAGS.official_dir) / "dataset_samples" / "faces" / "realign1024x1024"


def _cases(faces_dir):
    """One case per placement and recipe: the scene, its photo, the given 68 points in the photo, sizes."""
    scene_list = scenes.faces_128() if FLAGS.faces == "faces128" else scenes.official_1024()
    size = FIXTURE_SIZE if FLAGS.faces == "faces128" else alignment.OFFICIAL_OUTPUT_SIZE
    reference = {}
    cases = []
    for scene in scene_list:
        photo, maps = scenes.render(scene, faces_dir)
        for index, (placement, affine) in enumerate(zip(scene.placements, maps)):
            if placement.face not in reference:
                face = np.asarray(Image.open(faces_dir / placement.face).convert("RGB"))
                reference[placement.face] = (face.shape[0], scenes.face_landmarks(face))
            recipes = [(True, size, alignment.default_transform_size(size))]
            if scene.name in scenes.TRANSFORM_4098:
                recipes = [(True, size, alignment.OFFICIAL_TRANSFORM_SIZE)]
            if FLAGS.faces == "faces128" and scene.name in scenes.BRANCH_128:
                recipes.append((False, 128, 512))
            for use_1024, output_size, transform_size in recipes:
                cases.append(
                    dict(
                        name=f"{scene.name}_{index}" + ("" if use_1024 else "_branch128"),
                        scene=scene,
                        placement=index,
                        photo=photo,
                        face_side=reference[placement.face][0],
                        face_points=reference[placement.face][1],
                        # Rounded to 1e-6 px, so the JSON fixture holds exactly the points the official function saw.
                        points=np.round(scenes.placed_points(affine, reference[placement.face][1]), 6),
                        use_1024=use_1024,
                        output_size=output_size,
                        transform_size=transform_size,
                    )
                )
    return cases


def _run_official(cases, work):
    jobs = []
    for i, case in enumerate(cases):
        path = work / f"photo_{i:03d}.png"
        if not path.exists():
            Image.fromarray(case["photo"]).save(path)
        jobs.append(
            dict(
                photo=str(path),
                parts=case["points"].tolist(),
                dst_dir=str(work / "official"),
                output_size=case["output_size"],
                transform_size=case["transform_size"],
                item_idx=i,
                use_1024=case["use_1024"],
            )
        )
    (work / "jobs.json").write_text(json.dumps(jobs))
    source = pathlib.Path(FLAGS.official_dir) / "align_faces.py"
    done = subprocess.run(
        [FLAGS.official_python, "-c", OFFICIAL_DRIVER, str(source), str(work / "jobs.json")],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"the official function failed:\n{done.stderr}")
    versions = json.loads(done.stdout.strip().splitlines()[-1])
    return [np.asarray(Image.open(work / "official" / f"{i:05d}.png")) for i in range(len(cases))], versions


def _detected_errors(case):
    """With detected landmarks, the largest distance (% of the crop side) of the eye centres and mouth corners
    found on our crop from (a) where the recipe puts the given ones, (b) where they are on the original aligned
    face (only where the recipe is the one that made the faces: 128 px branch for faces128, 1024 for the samples).
    """
    try:
        face, _ = landmarks.find_face(case["photo"], case["placement"])
    except landmarks.FaceError:
        return None, None
    size, use_1024 = case["output_size"], case["use_1024"]
    crop = alignment.align(case["photo"], face.key_points(), size, case["transform_size"], use_1024=use_1024)
    found = alignment.KeyPoints.from_68(scenes.face_landmarks(crop))
    given = alignment.KeyPoints.from_68(case["points"])
    vs_recipe = 100.0 * scenes.key_point_error(found, scenes.recipe_positions(given, size, use_1024)) / size
    if use_1024 != (FLAGS.faces == "official"):
        return vs_recipe, None
    original = alignment.KeyPoints.from_68((case["face_points"] + 0.5) * size / case["face_side"] - 0.5)
    return vs_recipe, 100.0 * scenes.key_point_error(found, original) / size


def main(argv):
    del argv
    faces_dir = _faces_dir()
    cases = _cases(faces_dir)
    with tempfile.TemporaryDirectory() as tmp:
        official, versions = _run_official(cases, pathlib.Path(tmp))
    rows = []
    for case, expected in zip(cases, official):
        ours = alignment.align(
            case["photo"],
            alignment.KeyPoints.from_68(case["points"]),
            case["output_size"],
            case["transform_size"],
            use_1024=case["use_1024"],
        )
        diff = np.abs(ours.astype(np.int16) - expected.astype(np.int16))
        row = dict(
            case=case["name"],
            photo=f"{case['photo'].shape[1]}x{case['photo'].shape[0]}",
            branch=1024 if case["use_1024"] else 128,
            output=case["output_size"],
            transform=case["transform_size"],
            mean_diff=float(diff.mean()),
            max_diff=int(diff.max()),
            differing=float((diff > 0).mean()),
        )
        row["detected_vs_recipe_pct"], row["detected_vs_original_pct"] = _detected_errors(case)
        harness.print_row(row, COLUMNS)
        rows.append(row)
        case["expected"] = expected
    if FLAGS.write_fixtures:
        if FLAGS.faces != "faces128":
            raise app.UsageError("--write_fixtures is for --faces=faces128 (CI has faces128, not the samples)")
        _write_fixtures(cases, versions)
    output = FLAGS.output or harness.RESULTS_DIR / f"official_align_{FLAGS.faces}.json"
    settings = harness.flag_values(["faces", "write_fixtures"]) | {"official": versions, "commit": OFFICIAL_COMMIT}
    harness.write_results(f"official_align_{FLAGS.faces}", settings, rows, COLUMNS, output=output)


COLUMNS = (
    ("case", "case"),
    ("photo", "photo"),
    ("branch", "branch"),
    ("output", "output px"),
    ("transform", "transform px"),
    ("mean_diff", "mean |diff|"),
    ("max_diff", "max |diff|"),
    ("differing", "share differing"),
    ("detected_vs_recipe_pct", "detected: error vs recipe, % side"),
    ("detected_vs_original_pct", "detected: error vs original face, % side"),
)


def _write_fixtures(cases, versions):
    folder = FIXTURES / "official_256"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    entries = []
    for case in cases:
        Image.fromarray(case["expected"]).save(folder / f"{case['name']}.png", optimize=True)
        entries.append(
            dict(
                name=case["name"],
                scene=case["scene"].name,
                placement=case["placement"],
                photo_sha256_16=scenes.digest(case["photo"]),
                points=case["points"].tolist(),
                use_1024=case["use_1024"],
                output_size=case["output_size"],
                transform_size=case["transform_size"],
            )
        )
    meta = dict(
        made_by="benchmarks/official_align_fixtures.py --faces=faces128 --write_fixtures",
        official=f"podgorskiy/ALAE {OFFICIAL_COMMIT} align_faces.py align(), its use_1024 switch as each case says",
        official_environment=versions,
        cases=entries,
    )
    # One line per case: the points stay readable as rows of a table.
    head = json.dumps({k: v for k, v in meta.items() if k != "cases"}, indent=1)[:-2]
    cases = ",\n  ".join(json.dumps(entry) for entry in entries)
    (FIXTURES / "official_256.json").write_text(f'{head},\n "cases": [\n  {cases}\n ]\n}}\n')
    print(f"wrote {len(entries)} fixtures to {folder} and {FIXTURES / 'official_256.json'}")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    app.run(main)
