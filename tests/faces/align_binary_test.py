"""`alae-align` end to end, and the photo workflow under it: modes, EXIF, faces, landmark files."""

import functools
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from alae_tf.data.base import DatasetError
from alae_tf.faces import alignment, landmarks, photos, workflow
from tests.conftest import FACES, REPO, needs_faces
from tests.faces import scenes

pytestmark = needs_faces
SIZE = 128
SCENES = {scene.name: scene for scene in scenes.faces_128()}


@functools.cache
def _scene(name):
    return scenes.render(SCENES[name], FACES)


def _given(name, index=0):
    """The true key points of a scene's face `index` (dlib on the aligned face, mapped into the photo)."""
    placement, affine = SCENES[name].placements[index], _scene(name)[1][index]
    face = np.asarray(Image.open(FACES / placement.face).convert("RGB"))
    return alignment.KeyPoints.from_68(scenes.placed_points(affine, scenes.face_landmarks(face)))


def _read(path):
    return np.asarray(Image.open(path)).astype(np.int16)


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    Image.fromarray(scenes.background(320, 240)).save(folder / "noface.png")
    Image.fromarray(_scene("two_faces")[0]).save(folder / "two.png")
    upright = _scene("upright")[0]
    alpha = np.linspace(0, 255, upright.shape[1], dtype=np.uint8)[None, :, None].repeat(upright.shape[0], 0)
    Image.fromarray(np.concatenate([upright, alpha], -1), "RGBA").save(folder / "rgba.png")
    Image.fromarray(_scene("tilted")[0]).convert("L").save(folder / "grey.png")
    # Stored turned a quarter (dlib finds no face that way), with the EXIF tag that turns it back (6: rotate 270).
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90).save(folder / "exif.jpg", quality=95, exif=exif)
    Image.fromarray(upright).save(folder / "upright.jpg", quality=95)
    return folder


def test_photos_are_read_upright_and_rgb(photo_dir):
    exif, upright = photos.read(str(photo_dir / "exif.jpg")), photos.read(str(photo_dir / "upright.jpg"))
    assert exif.shape == upright.shape and np.abs(exif.astype(int) - upright).mean() < 3
    rgba = photos.read(str(photo_dir / "rgba.png"))
    np.testing.assert_array_equal(rgba, _scene("upright")[0])  # alpha dropped, as the official script does
    grey = photos.read(str(photo_dir / "grey.png"))
    assert grey.shape[-1] == 3 and (grey[..., 0] == grey[..., 2]).all()


def test_the_binary_aligns_a_folder_and_names_the_photo_without_a_face(photo_dir, tmp_path):
    out = tmp_path / "out"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "alae_tf.commands.align",
            f"--photos={photo_dir}",
            f"--output_dir={out}",
            f"--resolution={SIZE}",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
    )
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("alae-align:")]
    assert errors == [f"alae-align: {photo_dir / 'noface.png'}: no face found (dlib's frontal face detector); pass "
                      "--landmarks to give the points"]  # fmt: skip
    assert "aligned 5 of 6 photos" in result.stdout and f"{photo_dir / 'two.png'} -> " in result.stdout
    assert "(face 0 of 2)" in result.stdout
    assert sorted(os.listdir(out)) == ["exif.png", "grey.png", "rgba.png", "two.png", "upright.png"]  # no temp files
    for name in os.listdir(out):
        assert Image.open(out / name).size == (SIZE, SIZE)
    # Default: the largest face. Its crop is the one made from the larger face's true points.
    two = _read(out / "two.png")
    photo = _scene("two_faces")[0]
    largest, other = (alignment.align(photo, _given("two_faces", i), SIZE) for i in (0, 1))
    assert np.abs(two - largest).mean() < 0.5 * np.abs(two - other).mean()
    # EXIF honoured: the quarter-turned JPEG aligns like the upright one.
    assert np.abs(_read(out / "exif.png") - _read(out / "upright.png")).mean() < 3
    assert (_read(out / "grey.png")[..., 0] == _read(out / "grey.png")[..., 1]).all()


def test_face_index_picks_the_other_face_and_out_of_range_is_an_error(photo_dir, tmp_path):
    photo = str(photo_dir / "two.png")
    (done,) = workflow.align_photos([photo], str(tmp_path / "a"), resolution=SIZE, face_index=1)
    assert done.error is None and (done.faces, done.face_index) == (2, 1)
    second = alignment.align(_scene("two_faces")[0], _given("two_faces", 1), SIZE)
    assert np.abs(_read(done.output) - second).mean() < 4
    (failed,) = workflow.align_photos([photo], str(tmp_path / "b"), resolution=SIZE, face_index=2)
    assert failed.output is None and failed.error == (
        f"{photo}: --face_index=2 but 2 faces found (indices 0 to 1, largest first)"
    )
    assert not (tmp_path / "b").exists()


def test_a_landmarks_file_replaces_detection(photo_dir, tmp_path):
    given = _given("two_faces", 1)
    path = tmp_path / "points.json"
    five = [given.eye_left, given.eye_right, [0, 0], given.mouth_left, given.mouth_right]
    path.write_text(json.dumps({"two.png": [list(map(float, p)) for p in five]}))
    photos_given = [str(photo_dir / "two.png"), str(photo_dir / "noface.png")]
    done, missing = workflow.align_photos(
        photos_given, str(tmp_path / "out"), resolution=SIZE, landmarks_file=str(path)
    )
    np.testing.assert_array_equal(_read(done.output), alignment.align(_scene("two_faces")[0], given, SIZE))
    assert (
        done.faces is None
        and missing.error == f"{photos_given[1]}: the landmarks file {path} has no entry for noface.png"
    )
    with pytest.raises(landmarks.FaceError, match="cannot be used with --landmarks"):
        workflow.align_photos(photos_given, str(tmp_path / "x"), landmarks_file=str(path), face_index=1)
    path.write_text(json.dumps(five, default=list))
    with pytest.raises(landmarks.FaceError, match="one set of landmarks but 2 photos"):
        workflow.align_photos(photos_given, str(tmp_path / "x"), landmarks_file=str(path))
    assert not (tmp_path / "x").exists()


def test_requests_that_write_nothing(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "a" / "same.png")
    Image.new("RGB", (8, 8)).save(tmp_path / "b" / "same.jpg")
    with pytest.raises(DatasetError, match="would both be written to"):
        workflow.align_photos([str(tmp_path / "a"), str(tmp_path / "b")], str(tmp_path / "o"))
    with pytest.raises(DatasetError, match="does not exist"):
        workflow.align_photos([str(tmp_path / "nope.jpg")], str(tmp_path / "o"))
    assert not (tmp_path / "o").exists()


def test_a_file_that_does_not_decode_is_one_line_and_no_output(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a jpeg")
    (failed,) = workflow.align_photos([str(bad)], str(tmp_path / "o"), resolution=SIZE)
    assert failed.output is None and failed.error.startswith(f"{bad} is not a readable PNG/JPEG image")
    assert "\n" not in failed.error and not (tmp_path / "o").exists()
