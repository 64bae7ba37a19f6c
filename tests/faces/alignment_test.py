"""The crop equals the official `align_faces.py` arithmetic: parity with crops the official function made.

`data/official_256.json` and `data/official_256/*.png` were made once by
`benchmarks/official_align_fixtures.py --faces=faces128 --write_fixtures` (the official function,
lifted verbatim, in a venv with NumPy 1.26, SciPy 1.11 and Pillow 9.5) on the photos of
`scenes.faces_128()`, from the landmarks stored with them. Here the photos are remade, aligned
from the same landmarks by our code and compared.
"""

import functools
import json
import pathlib

import numpy as np
import pytest
from PIL import Image

from alae_tf.faces import alignment
from tests.conftest import FACES, needs_faces
from tests.faces import scenes

DATA = pathlib.Path(__file__).parent / "data"
FIXTURES = json.loads((DATA / "official_256.json").read_text())
SCENES = {scene.name: scene for scene in scenes.faces_128()}


@functools.cache
def _photo(name):
    photo, _ = scenes.render(SCENES[name], FACES)
    return photo


@needs_faces
@pytest.mark.parametrize("case", FIXTURES["cases"], ids=lambda c: c["name"])
def test_crop_matches_the_official_function_within_a_grey_level(case):
    photo = _photo(case["scene"])
    points = alignment.KeyPoints.from_68(case["points"])
    ours = alignment.align(photo, points, case["output_size"], case["transform_size"], use_1024=case["use_1024"])
    expected = np.asarray(Image.open(DATA / "official_256" / f"{case['name']}.png"))
    assert ours.shape == expected.shape == (case["output_size"], case["output_size"], 3)
    diff = np.abs(ours.astype(np.int16) - expected)
    same_photo = scenes.digest(photo) == case["photo_sha256_16"]
    # Measured when the fixtures were made: mean 0, max 0 on every case (bit-exact).
    assert diff.mean() <= 1.0, f"{case['name']}: mean |diff| {diff.mean():.3f}, max {diff.max()} grey levels" + (
        "" if same_photo else " (the remade photo differs from the one the official function saw)"
    )


def test_the_fixtures_cover_every_branch_of_the_official_function():
    names = {c["name"] for c in FIXTURES["cases"]}
    # shrink (large_shrunk), reflect-pad (left_edge, corner), no pad (upright), 4098 transform (tilted),
    # the 128 px branch, a face smaller than the crop (small), two faces.
    assert {"large_shrunk_0", "left_edge_0", "corner_0", "upright_0", "small_0", "two_faces_1"} <= names
    assert any(not c["use_1024"] for c in FIXTURES["cases"])
    assert any(c["transform_size"] == alignment.OFFICIAL_TRANSFORM_SIZE for c in FIXTURES["cases"])
    assert sum(p.stat().st_size for p in DATA.rglob("*")) < 2_000_000


@needs_faces
def test_five_points_give_the_same_crop_as_the_68_they_summarise():
    case = next(c for c in FIXTURES["cases"] if c["name"] == "left_edge_0")
    lm = np.array(case["points"])
    five = [lm[36:42].mean(axis=0), lm[42:48].mean(axis=0), lm[30], lm[48], lm[54]]
    photo = _photo(case["scene"])
    from_68 = alignment.align(photo, alignment.KeyPoints.from_68(lm), 64)
    np.testing.assert_array_equal(alignment.align(photo, alignment.KeyPoints.from_5(five), 64), from_68)


def test_default_transform_size_is_the_official_scripts():
    assert alignment.default_transform_size(1024) == 4098
    assert alignment.default_transform_size(256) == 1024


def _reference_gaussian(image, sigma):
    """scipy.ndimage.gaussian_filter(image, [sigma, sigma, 0]) by its definition, one output pixel at a time."""
    radius = int(4.0 * sigma + 0.5)
    w = np.exp(-0.5 * np.arange(-radius, radius + 1) ** 2 / sigma**2)
    w /= w.sum()

    def mirror(i, n):  # scipy 'reflect': ... b a | a b c | c b ...
        i = i % (2 * n)
        return i if i < n else 2 * n - 1 - i

    out = image.astype(np.float64)
    for axis in (0, 1):
        src = np.moveaxis(out, axis, 0)
        n = src.shape[0]
        res = np.stack([sum(w[k] * src[mirror(i + k - radius, n)] for k in range(2 * radius + 1)) for i in range(n)])
        out = np.moveaxis(res.astype(np.float32), 0, axis).astype(np.float64)
    return out.astype(np.float32)


@pytest.mark.parametrize("sigma", [0.7, 2.3, 9.0])  # 9.0: a radius (36) past the image's side (7)
def test_gaussian_is_scipys_with_reflect_edges(sigma):
    image = np.random.default_rng(0).uniform(0, 255, (7, 11, 3)).astype(np.float32)
    np.testing.assert_allclose(alignment.gaussian_filter_2d(image, sigma), _reference_gaussian(image, sigma), atol=1e-3)


def test_landmarks_with_the_eyes_on_one_point_are_an_alignment_error():
    same = np.array([10.0, 10.0])
    with pytest.raises(alignment.AlignmentError, match="eyes and the mouth must be distinct"):
        alignment.align(np.zeros((20, 20, 3), np.uint8), alignment.KeyPoints(same, same, same, same), 16)


def test_align_refuses_a_non_rgb_array():
    points = alignment.KeyPoints(*(np.array(p, np.float64) for p in ([4, 4], [12, 4], [5, 12], [11, 12])))
    with pytest.raises(ValueError, match="uint8 RGB"):
        alignment.align(np.zeros((20, 20), np.uint8), points, 16)
