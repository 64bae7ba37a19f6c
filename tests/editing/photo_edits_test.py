"""`alae-edit --photos=... --align` end to end on a converted official checkpoint, and its library.

Photos are made from ../shared/data/faces128 faces placed on canvases (`tests.faces.scenes`): one face,
two faces, none, the one face as RGBA and a tilted one as grey. The command runs with every network
connection refused (a `sitecustomize` that makes sockets fail): nothing is downloaded. The styles it
writes (`codes.npz`) equal the official rule written out in numpy (`official_test.official_rule`).
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from alae_tf import editing
from alae_tf import image_grids as image_files
from alae_tf import workdir as workdir_lib
from alae_tf.editing import official, photo_edits
from alae_tf.faces import landmarks
from tests.conftest import FACES, REPO, needs_faces
from tests.editing.official_test import INDICES, PTH, converted_workdir, official_rule, write_random_directions
from tests.faces import scenes

pytestmark = [needs_faces, pytest.mark.needs_path(PTH, "the official checkpoint of ../shared/fixtures/official")]
SCENES = {scene.name: scene for scene in scenes.faces_128()}
NO_NETWORK = """
import socket
def _refuse(*args, **kwargs):
    raise OSError("network access refused by the test: nothing may be downloaded")
socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.create_connection = _refuse
socket.getaddrinfo = _refuse
"""


@pytest.fixture(scope="module")
def run_path(tmp_path_factory):
    return converted_workdir(tmp_path_factory.mktemp("photo_run") / "w")


@pytest.fixture(scope="module")
def run(run_path):
    return workdir_lib.open_run(run_path)


@pytest.fixture(scope="module")
def folder(run, tmp_path_factory):
    path = tmp_path_factory.mktemp("principal_directions")
    write_random_directions(path, int(run.model.dlatent_size), seed=3)
    return path


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("photos")
    upright = scenes.render(SCENES["upright"], FACES)[0]
    Image.fromarray(upright).save(out / "me.png")
    Image.fromarray(scenes.render(SCENES["two_faces"], FACES)[0]).save(out / "us.png")
    Image.fromarray(scenes.background(320, 240)).save(out / "noface.png")
    alpha = np.full(upright.shape[:2] + (1,), 128, np.uint8)
    Image.fromarray(np.concatenate([upright, alpha], -1), "RGBA").save(out / "me_rgba.png")
    Image.fromarray(scenes.render(SCENES["tilted"], FACES)[0]).convert("L").save(out / "grey.png")
    return out


@pytest.fixture(scope="module")
def no_network(tmp_path_factory):
    path = tmp_path_factory.mktemp("no_network")
    (path / "sitecustomize.py").write_text(NO_NETWORK)
    return path


def run_edit(no_network, *args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=f"{no_network}{os.pathsep}{REPO}")
    return subprocess.run(
        [sys.executable, "-m", "alae_tf.commands.edit", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
    )


def _png(path):
    return np.asarray(Image.open(path))


def test_one_command_aligns_edits_and_writes_the_official_rules_styles(
    run, run_path, folder, photo_dir, no_network, tmp_path
):
    out = tmp_path / "out"
    photos = f"{photo_dir / 'me.png'},{photo_dir / 'me_rgba.png'},{photo_dir / 'grey.png'}"
    result = run_edit(
        no_network,
        f"--workdir={run_path}",
        f"--photos={photos}",
        "--align",
        f"--official_directions={folder}",
        "--directions=official:smile,official:young,official:chubby",
        "--values=20,-13.5,3",
        f"--output_dir={out}",
    )
    assert result.returncode == 0, result.stderr
    assert f"wrote 12 files to {out}" in result.stdout and str(out / "grid.png") in result.stdout
    names = ["me", "me_rgba", "grey"]
    side = int(run.model.resolution)
    for sub in ("aligned", "reconstruction", "edited"):
        for name in names:
            assert _png(out / sub / f"{name}.png").shape == (side, side, 3)
    np.testing.assert_array_equal(_png(out / "aligned/me.png"), _png(out / "aligned/me_rgba.png"))  # alpha dropped
    # The photo path's own pixels and codes: the library on the same photos gives the same w.
    photo_set = photo_edits.load_photos(run, [str(photo_dir / f"{n}.png") for n in names], align=True)
    codes = np.load(out / photo_edits.CODES)
    assert list(codes["names"]) == names
    np.testing.assert_allclose(codes["encoded_w"], editing.encode(run.model, photo_set.pixels).numpy(), atol=1e-5)
    matrix = np.stack([np.load(folder / f"direction_{i}.npy") for i in INDICES])
    want, want_v = official_rule(codes["encoded_w"], matrix, run.model.dlatent_avg.numpy(), 8, values=[20, -13.5, 3])
    np.testing.assert_allclose(codes["encoded_styles"], want, atol=1e-5, rtol=0)
    np.testing.assert_allclose(codes["encoded_coordinates"], want_v, atol=1e-5, rtol=0)
    # The edited images are those styles decoded with the library's noise.
    decoded = image_files.to_uint8(editing.decode_styles(run.model, want), run.config.pixel_range)
    for i, name in enumerate(names):
        assert np.abs(_png(out / "edited" / f"{name}.png").astype(int) - decoded[i]).max() <= 1
    manifest = json.loads((out / "edits.json").read_text())
    assert manifest["rule"] == "official" and manifest["layers"] == [0, 8]
    assert manifest["directions"]["smile"]["sha256"] and manifest["photos"]["me"]["faces_found"] == 1
    assert manifest["values"] == {"smile": 20.0, "young": -13.5, "chubby": 3.0}


def test_a_photo_without_a_face_is_refused_and_nothing_is_written(run_path, folder, photo_dir, no_network, tmp_path):
    out = tmp_path / "out"
    result = run_edit(
        no_network,
        f"--workdir={run_path}",
        f"--photos={photo_dir / 'me.png'},{photo_dir / 'noface.png'}",
        "--align",
        f"--official_directions={folder}",
        "--directions=official:smile",
        "--shifts=5",
        f"--output_dir={out}",
    )
    assert result.returncode != 0
    assert f"alae-edit: error: {photo_dir / 'noface.png'}: no face found" in result.stderr
    assert not out.exists() and not (run_path / "edits").exists()


def test_two_faces_take_the_largest_unless_face_index(run, folder, photo_dir, no_network, run_path, tmp_path):
    result = run_edit(
        no_network,
        f"--workdir={run_path}",
        f"--photos={photo_dir / 'us.png'}",
        "--align",
        "--face_index=1",
        f"--directions=official:{folder / 'direction_4.npy'}",
        "--shifts=-3",
        f"--output_dir={tmp_path / 'second'}",
    )
    assert result.returncode == 0, result.stderr
    assert "2 faces found; aligned face 1" in result.stdout
    second = json.loads((tmp_path / "second" / "edits.json").read_text())["photos"]["us"]
    largest = photo_edits.load_photos(run, [str(photo_dir / "us.png")], align=True)
    assert largest.records[0]["faces_found"] == 2 and largest.records[0]["face_index"] == 0
    box, other = largest.records[0]["face_box"], second["face_box"]
    area = lambda b: (b[2] - b[0]) * (b[3] - b[1])  # noqa: E731
    assert area(box) > area(other)
    assert not np.array_equal(largest.aligned[0], _png(tmp_path / "second" / "aligned" / "us.png"))
    with pytest.raises(landmarks.NoFaceError, match="--face_index=2 but 2 faces found"):
        photo_edits.load_photos(run, [str(photo_dir / "us.png")], align=True, face_index=2)


def test_two_photos_mix_with_the_official_ranges(run, run_path, photo_dir, no_network, tmp_path):
    out = tmp_path / "mix"
    result = run_edit(
        no_network,
        "--mode=mix",
        f"--workdir={run_path}",
        f"--photos={photo_dir / 'me.png'},{photo_dir / 'grey.png'}",
        "--align",
        f"--output_dir={out}",
    )
    assert result.returncode == 0, result.stderr
    assert "official ranges past 8 are empty" in result.stdout
    ranges = json.loads((out / "edits.json").read_text())["ranges"]
    assert ranges == {"coarse": [0, 4], "middle": [4, 8]}
    photo_set = photo_edits.load_photos(run, [str(photo_dir / "me.png"), str(photo_dir / "grey.png")], align=True)
    styles = editing.styles_from_w(run.model, editing.encode(run.model, photo_set.pixels)).numpy()
    mixed = styles[1:2].copy()
    mixed[:, 0:4] = styles[0:1, 0:4]  # stylemix.py: style = dst.clone(); style[:, r] = src[:, r]
    want = image_files.to_uint8(editing.decode_styles(run.model, mixed), run.config.pixel_range)[0]
    got = _png(out / "mix" / "me__into__grey__coarse.png")
    assert np.abs(got.astype(int) - want).max() <= 1


def test_refinement_lowers_the_pixel_error_and_is_written_apart(run, folder, photo_dir, tmp_path):
    photo_set = photo_edits.load_photos(run, [str(photo_dir / "me.png")], align=True)
    directions = official.resolve_official(["official:smile"], folder, 32)
    written = photo_edits.edit_photos(
        run, photo_set, directions, shifts=[2.0], refine_steps=5, refine_learning_rate=0.05, output_dir=tmp_path / "o"
    )
    refine = json.loads((tmp_path / "o" / "edits.json").read_text())["refine"]
    assert refine["pixel_mse_after"]["me"] < refine["pixel_mse_before"]["me"]
    assert (tmp_path / "o" / "refined" / "edited" / "me.png").is_file() and "refined codes" in written.notes[0]
    codes = np.load(tmp_path / "o" / photo_edits.CODES)
    assert not np.allclose(codes["refined_w"], codes["encoded_w"])


def test_the_strength_rule_takes_official_directions_too(run, folder, photo_dir, tmp_path):
    photo_set = photo_edits.load_photos(run, [str(photo_dir / "me.png")], align=True)
    directions = official.resolve_official(["official:smile", "official:young"], folder, 32)
    photo_edits.edit_photos(run, photo_set, directions, rule="strength", strengths=[1.5, -2], output_dir=tmp_path / "o")
    codes = np.load(tmp_path / "o" / photo_edits.CODES)
    want = editing.edited_styles(run.model, codes["encoded_w"], directions, np.array([1.5, -2.0], np.float32))
    np.testing.assert_allclose(codes["encoded_styles"], want.numpy(), atol=1e-6)


def test_a_failure_while_writing_leaves_no_output(run, folder, photo_dir, tmp_path, monkeypatch):
    photo_set = photo_edits.load_photos(run, [str(photo_dir / "me.png")], align=True)
    directions = official.resolve_official(["official:smile"], folder, 32)
    calls = []

    def fail(path, picture):
        calls.append(path)
        if len(calls) == 3:
            raise OSError("disk full")
        return original(path, picture)

    original = image_files.write_png
    monkeypatch.setattr(image_files, "write_png", fail)
    with pytest.raises(OSError, match="disk full"):
        photo_edits.edit_photos(run, photo_set, directions, values=[1.0], output_dir=tmp_path / "o")
    assert not (tmp_path / "o").exists() and not [p for p in tmp_path.iterdir() if p.name != "o"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"values": [1.0, 2.0]}, "2 numbers for 1 directions"),
        ({"values": [1.0], "shifts": [1.0]}, "not both"),
        ({"rule": "strength"}, "needs --strengths"),
        ({"values": [1.0], "layers": "0:9"}, "0 <= start < end <= 8"),
    ],
)
def test_edit_refusals_write_nothing(run, folder, photo_dir, tmp_path, kwargs, message):
    photo_set = photo_edits.load_photos(run, [str(photo_dir / "me.png")], align=True)
    directions = official.resolve_official(["official:smile"], folder, 32)
    with pytest.raises(editing.EditingError, match=message):
        photo_edits.edit_photos(run, photo_set, directions, output_dir=tmp_path / "o", **kwargs)
    assert not (tmp_path / "o").exists()


def test_without_align_a_photo_is_an_aligned_crop_pooled_as_the_official_demo(run, tmp_path):
    crop = np.random.default_rng(0).integers(0, 256, [64, 64, 3], dtype=np.uint8)
    Image.fromarray(crop).save(tmp_path / "crop.png")
    photo_set = photo_edits.load_photos(run, [str(tmp_path / "crop.png")], align=False)
    x = crop.astype(np.float32) / 127.5 - 1.0  # interactive_demo.py: / 127.5 - 1, then avg_pool2d(2, 2) twice
    want = x.reshape(16, 4, 16, 4, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(photo_set.pixels[0], want, atol=1e-6)
    Image.fromarray(crop[:, :40]).save(tmp_path / "wide.png")
    with pytest.raises(editing.EditingError, match="not square"):
        photo_edits.load_photos(run, [str(tmp_path / "wide.png")], align=False)
