"""Detected landmarks: the installed dlib model, face selection, the errors, landmark files, and accuracy.

Accuracy: a photo made from an aligned face, aligned from the landmarks dlib detects in it; the
eye centres and mouth corners dlib finds on our crop lie within 2 % of the crop's side of where
they should be: where the recipe puts the true points, and (with the recipe that made the faces)
where they are on the original aligned face.
"""

import functools
import json
import pathlib

import numpy as np
import pytest
from PIL import Image

from alae_tf.faces import alignment, landmarks
from tests.conftest import FACES, needs_faces
from tests.faces import scenes

OFFICIAL_SAMPLES = (
    pathlib.Path(__file__).resolve().parents[2].parent
    / "official_alae"
    / "42bcf2e"
    / "dataset_samples"
    / "faces"
    / "realign1024x1024"
)
SCENES = {scene.name: scene for scene in scenes.faces_128()}
TOLERANCE = 0.02


@functools.cache
def _face_points(faces_dir, name):
    face = np.asarray(Image.open(pathlib.Path(faces_dir) / name).convert("RGB"))
    return face.shape[0], scenes.face_landmarks(face)


def _errors(scene, faces_dir, size, use_1024, compare_original):
    """Per placement: (error vs the recipe's positions, error vs the original face) as fractions of `size`."""
    photo, maps = scenes.render(scene, faces_dir)
    errors = []
    for index, (placement, affine) in enumerate(zip(scene.placements, maps)):
        face, count = landmarks.find_face(photo, index)
        assert count == len(scene.placements)
        crop = alignment.align(photo, face.key_points(), size, use_1024=use_1024)
        found = alignment.KeyPoints.from_68(scenes.face_landmarks(crop))
        side, points = _face_points(str(faces_dir), placement.face)
        given = alignment.KeyPoints.from_68(scenes.placed_points(affine, points))
        vs_recipe = scenes.key_point_error(found, scenes.recipe_positions(given, size, use_1024)) / size
        original = alignment.KeyPoints.from_68((points + 0.5) * size / side - 0.5)
        vs_original = scenes.key_point_error(found, original) / size if compare_original else 0.0
        errors.append((vs_recipe, vs_original))
    return errors


@needs_faces
@pytest.mark.parametrize("name", ["upright", "tilted", "two_faces"])
def test_detected_landmarks_put_eyes_and_mouth_where_the_recipe_does(name):
    # Measured: 0.31 %, 0.85 %, 0.34 % / 0.30 % of the side.
    for vs_recipe, _ in _errors(SCENES[name], FACES, 256, use_1024=True, compare_original=False):
        assert vs_recipe <= TOLERANCE


@needs_faces
def test_detected_landmarks_find_faces128s_own_framing_again():
    # faces128 was made by the official 128 px branch: re-aligning a tilted copy finds its framing (measured 0.2 %).
    for _, vs_original in _errors(SCENES["tilted"], FACES, 128, use_1024=False, compare_original=True):
        assert vs_original <= TOLERANCE


@pytest.mark.slow
@pytest.mark.needs_path(OFFICIAL_SAMPLES, "the official 1024 px samples (podgorskiy/ALAE 42bcf2e dataset_samples)")
@pytest.mark.parametrize("name", ["o_tilted", "o_large", "o_small", "o_two"])
def test_detected_landmarks_on_the_official_samples_at_1024(name):
    # The alignment target: eye and mouth within 2 % of the side of where the official samples have them (measured
    # 1.1 %, 0.6 %, 0.2 %, 0.2 % / 0.5 %). A face cut by the photo's edge (o_edge) measures 2.7 %: dlib's box there
    # reaches past the border and its points drift; see benchmarks/official_align_fixtures.py.
    scene = next(s for s in scenes.official_1024() if s.name == name)
    for vs_recipe, vs_original in _errors(scene, OFFICIAL_SAMPLES, 1024, use_1024=True, compare_original=True):
        assert vs_recipe <= TOLERANCE and vs_original <= TOLERANCE


def test_the_predictor_comes_from_the_installed_package():
    path = pathlib.Path(landmarks.model_path())
    assert path.name == landmarks.MODEL_FILE and path.is_file() and "face_recognition_models" in str(path)


@needs_faces
def test_faces_are_numbered_from_the_largest():
    photo, _ = scenes.render(SCENES["two_faces"], FACES)
    faces = landmarks.detect(photo)
    assert len(faces) == 2 and faces[0].area > faces[1].area and faces[0].box[0] < faces[1].box[0]
    face, count = landmarks.find_face(photo, 1)
    assert count == 2 and face.box == faces[1].box
    with pytest.raises(landmarks.NoFaceError, match=r"--face_index=2 but 2 faces found \(indices 0 to 1"):
        landmarks.find_face(photo, 2)


def test_a_photo_without_a_face_is_a_clear_error():
    with pytest.raises(landmarks.NoFaceError, match="no face found"):
        landmarks.find_face(scenes.background(320, 240))


@needs_faces
def test_a_face_below_the_detectors_minimum_is_called_too_small():
    scene = scenes.Scene("tiny", (200, 180), (scenes.Placement("00000.png", 0.5, 0.0, (100.0, 90.0)),))
    photo, _ = scenes.render(scene, FACES)
    with pytest.raises(
        landmarks.FaceTooSmallError,
        match=r"too small: about 4\d px wide, and the detector finds faces of about 80 px or more",
    ):
        landmarks.find_face(photo)


# ------------------------------------------------------------------------------------------ landmark files
POINTS_68 = np.arange(136, dtype=np.float64).reshape(68, 2) * 0.5
POINTS_5 = [[10.0, 20.0], [30.0, 20.0], [20.0, 30.0], [12.0, 40.0], [28.0, 40.0]]


def _same(a, b):
    for name in ("eye_left", "eye_right", "mouth_left", "mouth_right"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name))


def test_json_lists_of_68_or_5_points(tmp_path):
    path = tmp_path / "a.json"
    path.write_text(json.dumps(POINTS_68.tolist()))
    _same(landmarks.read_file(str(path))[None], alignment.KeyPoints.from_68(POINTS_68))
    path.write_text(json.dumps(POINTS_5))
    points = landmarks.read_file(str(path))[None]
    assert points.eye_left.tolist() == [10.0, 20.0] and points.mouth_right.tolist() == [28.0, 40.0]


def test_json_keyed_by_photo_name(tmp_path):
    path = tmp_path / "all.json"
    path.write_text(json.dumps({"a.jpg": POINTS_5, "b.png": POINTS_68.tolist()}))
    table = landmarks.read_file(str(path))
    _same(landmarks.points_for(table, "/x/b.png", str(path)), alignment.KeyPoints.from_68(POINTS_68))
    with pytest.raises(landmarks.FaceError, match="has no entry for c.png"):
        landmarks.points_for(table, "/x/c.png", str(path))


def test_text_pairs_and_celeba_lines(tmp_path):
    pairs = tmp_path / "one.txt"
    pairs.write_text("# x y\n" + "\n".join(f"{x} {y}" for x, y in POINTS_5) + "\n")
    assert landmarks.read_file(str(pairs))[None].eye_right.tolist() == [30.0, 20.0]
    celeba = tmp_path / "list_landmarks_align_celeba.txt"
    celeba.write_text(
        "2\nlefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y rightmouth_x rightmouth_y\n"
        "000001.jpg 69 109 106 113 77 142 73 152 108 154\n000002.jpg 69 110 107 112 81 135 70 151 108 153\n"
    )
    table = landmarks.read_file(str(celeba))
    assert set(table) == {"000001.jpg", "000002.jpg"} and table["000002.jpg"].mouth_left.tolist() == [70.0, 151.0]


@pytest.mark.parametrize(
    "name, text, match",
    [
        ("bad.json", "[[1, 2], [3", "is not valid JSON"),
        ("short.json", "[[1, 2], [3, 4], [5, 6]]", r"shape \[3, 2\]; expected 68 .* or 5"),
        ("words.json", '[["a", "b"]]', "landmarks must be numbers"),
        ("nan.json", json.dumps([[float("nan"), 1]] * 5).replace("NaN", "NaN"), "non-finite"),
        ("empty.txt", "# nothing\n", "holds no landmarks"),
        ("ragged.txt", "a.jpg 1 2 3\n", r"line 1 \(a.jpg\): got landmarks of shape \[3\]"),
        ("mixed.txt", "1 2\n3 4 5\n", r"line 1: expected 'NAME x1 y1"),
    ],
)
def test_bad_landmark_files_name_the_file_and_the_format(tmp_path, name, text, match):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(landmarks.FaceError, match=match) as info:
        landmarks.read_file(str(path))
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_a_missing_landmarks_file(tmp_path):
    with pytest.raises(landmarks.FaceError, match="cannot read the landmarks file"):
        landmarks.read_file(str(tmp_path / "none.json"))
