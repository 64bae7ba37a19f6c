"""Test photos made from aligned faces, deterministically: each face scaled, rotated and placed on a canvas.

Shared by the face tests and `benchmarks/official_align_fixtures.py` (which made the committed
fixtures from these very photos), so a test remakes exactly the photo the official function saw.
A face's own landmarks (in its aligned image) map into the photo through the placement's affine
map, `placed_points`, which is how a scene gets "given" landmarks at any angle.

Coordinates: pixel (x, y) indices, the convention of dlib's points; PIL's transforms work on
continuous coordinates, pixel i covering [i, i + 1), hence the 0.5 shifts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import pathlib

import numpy as np
from PIL import Image


@dataclasses.dataclass(frozen=True)
class Placement:
    """One face on the canvas: `face` (a file name), its `scale`, `angle` (degrees, counter-clockwise as
    seen) and where its centre lands (`centre`, continuous photo coordinates)."""

    face: str
    scale: float
    angle: float
    centre: tuple[float, float]


@dataclasses.dataclass(frozen=True)
class Scene:
    name: str
    canvas: tuple[int, int]  # width, height
    placements: tuple[Placement, ...]


def _face(faces_dir: pathlib.Path, name: str) -> Image.Image:
    with Image.open(faces_dir / name) as image:
        return image.convert("RGB")


def background(width: int, height: int) -> np.ndarray:
    """A smooth, faceless uint8 RGB background: gradients and a slow wave."""
    y, x = np.mgrid[:height, :width].astype(np.float64)
    r = 60 + 120 * x / max(width - 1, 1)
    g = 90 + 80 * y / max(height - 1, 1)
    b = 140 + 50 * np.sin(x / 37.0) * np.cos(y / 53.0)
    return np.clip(np.rint(np.stack([r, g, b], -1)), 0, 255).astype(np.uint8)


def _affine(side: int, placement: Placement) -> np.ndarray:
    """2x3 map from the face image's continuous coordinates to the photo's."""
    s, a = placement.scale, math.radians(placement.angle)
    rot = np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]]) * s
    offset = np.array(placement.centre) - rot @ np.array([side / 2, side / 2])
    return np.concatenate([rot, offset[:, None]], axis=1)


def render(scene: Scene, faces_dir) -> tuple[np.ndarray, list[np.ndarray]]:
    """The photo, uint8 [H, W, 3], and each placement's 2x3 affine map (face continuous -> photo continuous)."""
    faces_dir = pathlib.Path(faces_dir)
    width, height = scene.canvas
    photo = Image.fromarray(background(width, height))
    maps = []
    for placement in scene.placements:
        face = _face(faces_dir, placement.face)
        side = face.size[0]
        # Resize first (Lanczos: antialiased when shrinking), then rotate and place (bicubic).
        resized = max(1, round(side * placement.scale))
        face = face.resize((resized, resized), Image.Resampling.LANCZOS)
        affine = _affine(side, placement)
        rot = affine[:, :2] / (resized / side)  # the rotation alone, on the resized face
        inverse = np.linalg.inv(rot)
        offset = -inverse @ affine[:, 2]
        coefficients = (*inverse[0], offset[0], *inverse[1], offset[1])
        warped = face.transform((width, height), Image.Transform.AFFINE, coefficients, Image.Resampling.BICUBIC)
        mask = Image.new("L", (resized, resized), 255).transform(
            (width, height), Image.Transform.AFFINE, coefficients, Image.Resampling.BICUBIC
        )
        photo = Image.composite(warped, photo, mask)
        maps.append(affine)
    return np.asarray(photo), maps


def placed_points(affine: np.ndarray, points) -> np.ndarray:
    """Face pixel coordinates [N, 2] -> photo pixel coordinates through a placement's map."""
    points = np.asarray(points, np.float64) + 0.5
    return points @ affine[:, :2].T + affine[:, 2] - 0.5


def digest(image: np.ndarray) -> str:
    """A short hash of a photo's pixels: the fixtures record it to tell a changed photo from a changed crop."""
    return hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest()[:16]


def faces_128() -> tuple[Scene, ...]:
    """The parity scenes on ../shared/data/faces128 (128 px aligned faces): every branch of the crop."""
    p = Placement
    return (
        Scene("upright", (480, 400), (p("00000.png", 2.0, 0.0, (240.0, 200.0)),)),
        Scene("tilted", (700, 560), (p("00007.png", 2.6, 23.0, (330.0, 300.0)),)),
        Scene("left_edge", (520, 640), (p("00021.png", 2.2, -31.0, (90.0, 400.0)),)),
        Scene("corner", (600, 450), (p("00035.png", 3.0, 8.0, (560.0, 40.0)),)),
        Scene("large_shrunk", (1500, 1300), (p("00050.png", 9.0, -12.0, (760.0, 640.0)),)),
        Scene("sideways", (500, 700), (p("00063.png", 2.4, 90.0, (250.0, 350.0)),)),
        Scene("small", (300, 260), (p("00077.png", 0.9, 5.0, (150.0, 130.0)),)),
        Scene(
            "two_faces",
            (900, 500),
            (p("00102.png", 2.5, 4.0, (250.0, 250.0)), p("00118.png", 1.7, -9.0, (700.0, 260.0))),
        ),
    )


# Scenes aligned with the official 1024 px branch's transform size (4098) at the fixtures' 256 px output.
TRANSFORM_4098 = ("tilted",)
# Scenes also aligned by the official 128 px branch (`use_1024=False`, 128 px, transform 512): faces128's own.
BRANCH_128 = ("tilted", "corner")


def official_1024() -> tuple[Scene, ...]:
    """Scenes on the official 1024 px samples (`dataset_samples/faces/realign1024x1024`), for the benchmark
    and the slow test: photos of the official samples, tilted, scaled, small, cut and paired."""
    p = Placement
    return (
        Scene("o_tilted", (1400, 1200), (p("00003.png", 0.8, 17.0, (700.0, 600.0)),)),
        Scene("o_edge", (1300, 1000), (p("00010.png", 0.7, -25.0, (250.0, 520.0)),)),
        Scene("o_large", (1900, 1700), (p("00020.png", 1.3, 6.0, (950.0, 850.0)),)),
        Scene("o_small", (900, 800), (p("00030.png", 0.3, -8.0, (450.0, 400.0)),)),
        Scene("o_sideways", (1100, 1400), (p("00040.png", 0.9, 90.0, (550.0, 700.0)),)),
        Scene(
            "o_two",
            (1800, 1000),
            (p("00050.png", 0.8, 3.0, (480.0, 500.0)), p("00060.png", 0.55, -12.0, (1350.0, 520.0))),
        ),
    )


def detectable(scene: Scene) -> bool:
    """dlib's frontal detector finds upright faces (within about 30 degrees) only."""
    return all(abs(p.angle) <= 30 for p in scene.placements)


def face_landmarks(image: np.ndarray, work_side: int = 512) -> np.ndarray:
    """The 68 points dlib finds on an aligned face [S, S, 3]: float [68, 2] in its pixels.

    A small face is enlarged (Lanczos) to at least `work_side` px first, since the detector needs
    faces of 80 px or more; the points come back to the face's own pixels.
    """
    from alae_tf.faces import landmarks

    side = image.shape[0]
    factor = max(1, math.ceil(work_side / side))
    if factor > 1:
        image = np.asarray(Image.fromarray(image).resize((side * factor,) * 2, Image.Resampling.LANCZOS))
    faces = landmarks.detect(image)
    if not faces:
        raise AssertionError("dlib finds no face in an aligned face image")
    return (faces[0].points + 0.5) / factor - 0.5


def recipe_positions(given, size: int, use_1024: bool = True):
    """Where the recipe puts the given key points in a `size` px crop made from them: `KeyPoints` in crop pixels.

    The crop maps the quad onto the square (a similarity), pixel centres at +0.5 as in the official transform.
    """
    from alae_tf.faces import alignment

    quad, _ = alignment.crop_quad(given, use_1024)
    centre, x, y = quad.mean(axis=0), (quad[3] - quad[0]) / 2, (quad[1] - quad[0]) / 2

    def place(p):
        d = np.asarray(p, np.float64) - centre
        return (np.array([d @ x / (x @ x), d @ y / (y @ y)]) + 1) * size / 2 - 0.5

    return alignment.KeyPoints(*(place(getattr(given, f.name)) for f in dataclasses.fields(given)))


def key_point_error(found, expected) -> float:
    """The largest distance (px) between the eye centres and mouth corners of two `KeyPoints`."""
    names = ("eye_left", "eye_right", "mouth_left", "mouth_right")
    return max(float(np.hypot(*(getattr(found, n) - getattr(expected, n)))) for n in names)
