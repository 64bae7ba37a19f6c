"""Faces and their landmarks: dlib's detector and 68-point predictor, or points read from a file.

The predictor is `shape_predictor_68_face_landmarks.dat` from the `face-recognition-models`
package (installed with the requirements; nothing is downloaded), found through the package's
spec rather than its own `pose_predictor_model_location()`, which needs setuptools'
`pkg_resources`. Detector and predictor load once, on first use (about a second).

Detection is the official script's: dlib's frontal face detector with no upsampling, so the
smallest face it finds is about `MIN_FACE_PX` px wide. A photo where it finds none is searched
again at 2x, only to tell "a face too small" from "no face" in the error.

Faces are numbered from the largest (detection box area) down; `--face_index` picks one.

Landmark files (for users with their own detector), `.json` or `.txt`:
  * 68 points in dlib's order, or 5 in CelebA's (left eye, right eye, nose, left and right
    mouth corners; "left" is the photo's left; the nose is not used), as (x, y) pixels;
  * JSON: a list of [x, y] pairs for one photo, or an object from photo file names to such lists;
  * text: one "x y" pair per line for one photo, or lines "NAME x1 y1 x2 y2 ..." (CelebA's
    `list_landmarks_*.txt`, whose count and header lines are skipped). Lines starting with # are comments.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import json
import math
import os

import numpy as np

from alae_tf.faces.alignment import KeyPoints

MODEL_PACKAGE = "face-recognition-models"
MODEL_FILE = "shape_predictor_68_face_landmarks.dat"
# dlib's HOG detector scans an 80 x 80 window over an image pyramid: smaller faces are not found without upsampling.
MIN_FACE_PX = 80
POINT_COUNTS = (68, 5)
LANDMARKS_FORMAT = (
    "68 (dlib's order) or 5 (CelebA's: left eye, right eye, nose, left and right mouth corner) x,y points per face: "
    'a .json list of [x, y] pairs (or {"photo.jpg": [[x, y], ...], ...} for several photos), or a .txt file '
    "of 'x y' lines (or 'NAME x1 y1 x2 y2 ...' lines, as in CelebA's list_landmarks_*.txt)"
)


class FaceError(ValueError):
    """No usable face in a photo, or landmarks that cannot be read; the message says which and why."""


class NoFaceError(FaceError):
    pass


class FaceTooSmallError(FaceError):
    pass


@dataclasses.dataclass(frozen=True)
class Face:
    """One detected face: its box `(left, top, right, bottom)` and its 68 points (int [68, 2], x then y)."""

    box: tuple[int, int, int, int]
    points: np.ndarray

    @property
    def width(self) -> int:
        return self.box[2] - self.box[0]

    @property
    def area(self) -> int:
        return max(self.box[2] - self.box[0], 0) * max(self.box[3] - self.box[1], 0)

    def key_points(self) -> KeyPoints:
        return KeyPoints.from_68(self.points)


def model_path() -> str:
    """The 68-point predictor file that `face-recognition-models` installs; FaceError if it is not installed."""
    spec = importlib.util.find_spec("face_recognition_models")  # finds the package without importing it
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = os.path.join(folder, "models", MODEL_FILE)
        if os.path.isfile(path):
            return path
    raise FaceError(
        f"the landmark model {MODEL_FILE} is not installed: pip install -r requirements.txt "
        f"(it comes with the {MODEL_PACKAGE} package), or pass --landmarks with your own points."
    )


@functools.cache
def _models():
    try:
        import dlib
    except ImportError as e:
        raise FaceError(f"dlib is not installed ({e}): pip install -r requirements.txt (dlib-bin).") from e
    return dlib.get_frontal_face_detector(), dlib.shape_predictor(model_path())


def detect(image: np.ndarray, upsample: int = 0) -> list[Face]:
    """All faces dlib finds in a uint8 RGB [H, W, 3] photo, largest first, with their 68 points."""
    detector, predictor = _models()
    image = np.ascontiguousarray(image)
    faces = []
    for box in detector(image, upsample):
        shape = predictor(image, box)
        points = np.array([[p.x, p.y] for p in shape.parts()], np.int64)
        faces.append(Face((box.left(), box.top(), box.right(), box.bottom()), points))
    return sorted(faces, key=lambda f: (-f.area, f.box[0], f.box[1]))


def find_face(image: np.ndarray, face_index: int = 0) -> tuple[Face, int]:
    """The `face_index`-th largest face of the photo and how many were found.

    Raises:
      NoFaceError: no face, or `face_index` past the faces found.
      FaceTooSmallError: the only faces are smaller than the detector's minimum.
    """
    faces = detect(image)
    if not faces:
        small = detect(image, upsample=1)
        if small:
            width = max(f.width for f in small)  # dlib gives boxes in the photo's pixels
            raise FaceTooSmallError(
                f"the face is too small: about {width} px wide, and the detector finds faces of about "
                f"{MIN_FACE_PX} px or more; use a larger photo of the face, or pass --landmarks"
            )
        raise NoFaceError("no face found (dlib's frontal face detector); pass --landmarks to give the points")
    if not 0 <= face_index < len(faces):
        raise NoFaceError(
            f"--face_index={face_index} but {len(faces)} face{'s' if len(faces) != 1 else ''} found "
            f"(indices 0 to {len(faces) - 1}, largest first)"
        )
    return faces[face_index], len(faces)


def key_points(points, where: str) -> KeyPoints:
    """The recipe's points from 68 or 5 (x, y) points; FaceError naming `where` if they are not."""
    try:
        array = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise FaceError(f"{where}: landmarks must be numbers ({e}); expected {LANDMARKS_FORMAT}") from e
    if array.ndim == 1 and array.size in (2 * n for n in POINT_COUNTS):
        array = array.reshape(-1, 2)
    if array.ndim != 2 or array.shape[1] != 2 or array.shape[0] not in POINT_COUNTS:
        raise FaceError(f"{where}: got landmarks of shape {list(array.shape)}; expected {LANDMARKS_FORMAT}")
    if not np.all(np.isfinite(array)):
        raise FaceError(f"{where}: the landmarks hold a non-finite number")
    return KeyPoints.from_68(array) if array.shape[0] == 68 else KeyPoints.from_5(array)


def _is_number(token: str) -> bool:
    try:
        return math.isfinite(float(token))
    except ValueError:
        return False


def table_for_photos(landmarks_file, photo_paths, face_index: int = 0) -> dict[str | None, KeyPoints] | None:
    """`read_file(landmarks_file)` checked against the photos it is for, or None without a file.

    Raises:
        FaceError: `face_index` given too (it picks a detected face), or one unkeyed set for several photos.
    """
    if landmarks_file is None or landmarks_file == "":
        return None
    if face_index:
        raise FaceError("--face_index picks a detected face: it cannot be used with --landmarks")
    table = read_file(landmarks_file)
    if None in table and len(photo_paths) > 1:
        raise FaceError(
            f"{landmarks_file} holds one set of landmarks but {len(photo_paths)} photos were given: align one photo "
            "with it, or key the points by photo file name"
        )
    return table


def read_file(path: str) -> dict[str | None, KeyPoints]:
    """Landmarks from a file, by photo file name (the key None: one set, for a single photo).

    Raises:
      FaceError: the file cannot be read or holds no landmarks in one of the formats (named).
    """
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise FaceError(f"cannot read the landmarks file {path}: {e}") from e
    if path.lower().endswith(".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise FaceError(f"{path} is not valid JSON ({e}); expected {LANDMARKS_FORMAT}") from e
        if isinstance(data, dict):
            return {str(name): key_points(points, f"{path} [{name!r}]") for name, points in data.items()}
        return {None: key_points(data, path)}
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        tokens = line.split()
        if not tokens or tokens[0].startswith("#"):
            continue
        if len(tokens) == 1 and not rows and tokens[0].isdigit():
            continue  # CelebA's first line: the count of lines below
        if not any(_is_number(t) for t in tokens):
            continue  # CelebA's header line: lefteye_x lefteye_y ...
        rows.append((number, tokens))
    if not rows:
        raise FaceError(f"{path} holds no landmarks; expected {LANDMARKS_FORMAT}")
    if all(len(t) == 2 and all(_is_number(v) for v in t) for _, t in rows):
        return {None: key_points([[float(v) for v in t] for _, t in rows], path)}
    found = {}
    for number, tokens in rows:
        name, values = tokens[0], tokens[1:]
        if _is_number(name) or not all(_is_number(v) for v in values):
            raise FaceError(f"{path} line {number}: expected 'NAME x1 y1 x2 y2 ...' or 'x y'; {LANDMARKS_FORMAT}")
        found[name] = key_points([float(v) for v in values], f"{path} line {number} ({name})")
    return found


def points_for(table: dict[str | None, KeyPoints], photo: str, source: str) -> KeyPoints:
    """The points a landmarks table gives `photo` (by its path, relative path or file name)."""
    if None in table:
        return table[None]
    for key in (photo, os.path.basename(photo)):
        if key in table:
            return table[key]
    raise FaceError(f"the landmarks file {source} has no entry for {os.path.basename(photo)}")
