"""The FFHQ face crop of the official `align_faces.py` (podgorskiy/ALAE 42bcf2e, its `use_1024` branch).

Each step is the official function's, with its rounding, its order of operations and the same
PIL calls, so a crop made here matches the official one within a grey level (the parity test
measures it against crops the official function made from the same landmarks):

1. From the landmarks: the eye centres, the mouth corners, `eye_avg`, `eye_to_eye`, `eye_to_mouth`.
2. The oriented square: `x = eye_to_eye - flipud(eye_to_mouth) * [-1, 1]`, normalised, scaled by
   `max(2.0 |eye_to_eye|, 1.8 |eye_to_mouth|)`; `y = flipud(x) * [-1, 1]`; centre
   `c = eye_avg + 0.1 eye_to_mouth`; the quad `c - x - y, c - x + y, c + x + y, c + x - y`.
3. Shrink: a photo much larger than the crop is first reduced by an integer factor (Lanczos).
4. Crop to the quad plus a border of 10 % of its side.
5. Pad where the quad leaves the photo: reflect, blur towards the pad's edges (Gaussian, sigma
   2 % of the side) and fade to the median colour.
6. Transform the quad to a `transform_size` square (bilinear), then resize it to the output size
   (Lanczos, PIL's old `ANTIALIAS`).

The official script's other branch (`use_1024 = False`: the 128 px samples of
`dataset_samples/faces/realign128x128`, which ../shared/data/faces128 holds) differs in step 2
only: scale `(1.641 |eye_to_eye| + 1.56 |eye_to_mouth|) / 2`, centre `eye_avg + 0.317 eye_to_mouth`;
`use_1024=False` selects it (the tests use it to re-find faces128's own framing).

Two details of the official environment are kept: the pad's fade mask is float32 (NumPy 1's
promotion of `float32 array / int64 scalar`; NumPy 2 would give float64), and the Gaussian is
SciPy's `gaussian_filter` (truncate 4, 'reflect' edges, float32 out after each axis), written
here in NumPy so SciPy is not a dependency.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from PIL import Image


class AlignmentError(ValueError):
    """Landmarks that give no crop (both eyes at one point, say): the message says why."""


@dataclasses.dataclass(frozen=True)
class KeyPoints:
    """The four points the recipe uses, in photo pixel coordinates (x, y), float64 [2] each.

    "left" is the photo's left: `eye_left` is the eye of dlib's points 36-41 (the person's right eye).
    """

    eye_left: np.ndarray
    eye_right: np.ndarray
    mouth_left: np.ndarray
    mouth_right: np.ndarray

    @classmethod
    def from_68(cls, points) -> KeyPoints:
        """From dlib's 68 points: eye centres are the means of points 36-41 and 42-47; corners 48 and 54."""
        lm = np.array(points)
        return cls(np.mean(lm[36:42], axis=0), np.mean(lm[42:48], axis=0), lm[48], lm[54])

    @classmethod
    def from_5(cls, points) -> KeyPoints:
        """From 5 points in CelebA's order: left eye, right eye, nose (unused), left and right mouth corners."""
        lm = np.array(points)
        return cls(lm[0], lm[1], lm[3], lm[4])

    def as_dict(self) -> dict[str, list[float]]:
        return {f.name: [float(v) for v in getattr(self, f.name)] for f in dataclasses.fields(self)}


# The official script calls its function with transform_size=4098 for the 1024 px crops (the
# function's own default is 4096); other sizes use the default's ratio, 4 x the output.
OFFICIAL_OUTPUT_SIZE = 1024
OFFICIAL_TRANSFORM_SIZE = 4098


def default_transform_size(output_size: int) -> int:
    """The official script's 4098 at 1024 px, else 4 x `output_size`."""
    return OFFICIAL_TRANSFORM_SIZE if output_size == OFFICIAL_OUTPUT_SIZE else 4 * output_size


def crop_quad(points: KeyPoints, use_1024: bool = True) -> tuple[np.ndarray, float]:
    """The oriented square of the recipe: `(quad float64 [4, 2], its side qsize)` in photo pixels.

    The corners run top-left, bottom-left, bottom-right, top-right of the crop.
    """
    eye_left, eye_right = points.eye_left, points.eye_right
    eye_avg = (eye_left + eye_right) * 0.5
    eye_to_eye = eye_right - eye_left
    mouth_avg = (points.mouth_left + points.mouth_right) * 0.5
    eye_to_mouth = mouth_avg - eye_avg

    x = eye_to_eye - np.flipud(eye_to_mouth) * [-1, 1]
    norm = np.hypot(*x)
    if not np.isfinite(norm) or norm == 0:
        raise AlignmentError(
            f"the landmarks give no crop (eye to eye {eye_to_eye.tolist()}, eye to mouth {eye_to_mouth.tolist()}): "
            "the eyes and the mouth must be distinct points."
        )
    x /= norm
    if use_1024:
        x *= max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8)
    else:
        x *= (np.hypot(*eye_to_eye) * 1.6410 + np.hypot(*eye_to_mouth) * 1.560) / 2.0
    y = np.flipud(x) * [-1, 1]
    c = eye_avg + eye_to_mouth * (0.1 if use_1024 else 0.317)
    quad = np.stack([c - x - y, c - x + y, c + x + y, c + x - y])
    qsize = np.hypot(*x) * 2
    return quad, qsize


def gaussian_filter_2d(image: np.ndarray, sigma: float) -> np.ndarray:
    """SciPy's `gaussian_filter(image, [sigma, sigma, 0])` for float32 [H, W, C]: truncate 4.0, 'reflect' edges.

    One axis at a time, rows first, each in float64 and stored as float32 (as SciPy's `correlate1d` does).
    """
    radius = int(4.0 * sigma + 0.5)
    taps = np.arange(-radius, radius + 1)
    weights = np.exp(-0.5 / (sigma * sigma) * taps.astype(np.float64) ** 2)
    weights /= weights.sum()
    out = image
    for axis in (0, 1):
        lines = np.ascontiguousarray(np.moveaxis(out, axis, 0), dtype=np.float64)
        n = lines.shape[0]
        # SciPy's 'reflect' (d c b a | a b c d | d c b a), repeated for a radius past the other edge.
        period = np.concatenate([np.arange(n), np.arange(n)[::-1]])
        padded = lines[period[np.arange(-radius, n + radius) % (2 * n)]]
        # SciPy's order of operations for a symmetric kernel: centre tap, then (left + right) * w per distance.
        acc = padded[radius : radius + n] * weights[radius]
        pair = np.empty_like(acc)
        for j in range(1, radius + 1):
            np.add(padded[radius - j : radius - j + n], padded[radius + j : radius + j + n], out=pair)
            pair *= weights[radius + j]
            acc += pair
        out = np.moveaxis(acc.astype(np.float32), 0, axis)
    return out


def align(
    image: np.ndarray,
    points: KeyPoints,
    output_size: int = OFFICIAL_OUTPUT_SIZE,
    transform_size: int | None = None,
    enable_padding: bool = True,
    use_1024: bool = True,
) -> np.ndarray:
    """The official crop of one face: uint8 RGB [H, W, 3] photo in, uint8 [output_size, output_size, 3] out.

    Args:
      image: the photo, uint8 [H, W, 3].
      points: the face's eye centres and mouth corners in `image`'s pixel coordinates.
      output_size: the crop's side.
      transform_size: the side of the quad transform before the final resize (default
        `default_transform_size(output_size)`: the official 4098 at 1024).
      enable_padding: the official function's flag (on in the official script).
      use_1024: the official script's switch: True is the FFHQ recipe of the 1024 px models,
        False its 128 px branch (see the module docstring).
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"align needs a uint8 RGB image [H, W, 3], got {image.dtype} {image.shape}")
    transform_size = transform_size or default_transform_size(output_size)
    quad, qsize = crop_quad(points, use_1024)
    img = Image.fromarray(image)

    # Shrink.
    shrink = int(np.floor(qsize / output_size * 0.5))
    if shrink > 1:
        rsize = (int(np.rint(float(img.size[0]) / shrink)), int(np.rint(float(img.size[1]) / shrink)))
        img = img.resize(rsize, Image.Resampling.LANCZOS)
        quad /= shrink
        qsize /= shrink

    # Crop.
    border = max(int(np.rint(qsize * 0.1)), 3)
    crop = (
        int(np.floor(min(quad[:, 0]))),
        int(np.floor(min(quad[:, 1]))),
        int(np.ceil(max(quad[:, 0]))),
        int(np.ceil(max(quad[:, 1]))),
    )
    crop = (
        max(crop[0] - border, 0),
        max(crop[1] - border, 0),
        min(crop[2] + border, img.size[0]),
        min(crop[3] + border, img.size[1]),
    )
    if crop[2] - crop[0] < img.size[0] or crop[3] - crop[1] < img.size[1]:
        img = img.crop(crop)
        quad -= crop[0:2]

    # Pad.
    pad = (
        int(np.floor(min(quad[:, 0]))),
        int(np.floor(min(quad[:, 1]))),
        int(np.ceil(max(quad[:, 0]))),
        int(np.ceil(max(quad[:, 1]))),
    )
    pad = (
        max(-pad[0] + border, 0),
        max(-pad[1] + border, 0),
        max(pad[2] - img.size[0] + border, 0),
        max(pad[3] - img.size[1] + border, 0),
    )
    if enable_padding and max(pad) > border - 4:
        pad = np.maximum(pad, int(np.rint(qsize * 0.3)))
        arr = np.pad(np.float32(img), ((pad[1], pad[3]), (pad[0], pad[2]), (0, 0)), "reflect")
        h, w, _ = arr.shape
        y, x, _ = np.ogrid[:h, :w, :1]
        # float32 throughout, as NumPy 1 computed the official expression (see the module docstring).
        p0, p1, p2, p3 = (np.float32(p) for p in pad)
        mask = np.maximum(
            np.float32(1.0) - np.minimum(np.float32(x) / p0, np.float32(w - 1 - x) / p2),
            np.float32(1.0) - np.minimum(np.float32(y) / p1, np.float32(h - 1 - y) / p3),
        )
        blur = qsize * 0.02
        arr += (gaussian_filter_2d(arr, blur) - arr) * np.clip(mask * 3.0 + 1.0, 0.0, 1.0)
        arr += (np.median(arr, axis=(0, 1)) - arr) * np.clip(mask, 0.0, 1.0)
        img = Image.fromarray(np.uint8(np.clip(np.rint(arr), 0, 255)), "RGB")
        quad += pad[:2]

    # Transform.
    img = img.transform(
        (transform_size, transform_size), Image.Transform.QUAD, tuple((quad + 0.5).flatten()), Image.Resampling.BILINEAR
    )
    if output_size < transform_size:
        img = img.resize((output_size, output_size), Image.Resampling.LANCZOS)
    return np.asarray(img)
