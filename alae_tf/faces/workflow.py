"""Align a list of photos: read each, find its landmarks (detected or from a file), crop, write a PNG.

One photo's failure (no face, a face too small, a file that does not decode) is reported on one
line naming the photo and the cause, and nothing is written for it; the other photos go on.
Problems with the request as a whole (a missing photo, an unreadable landmarks file, two photos
that would write the same file) stop everything before any photo is read.
"""

from __future__ import annotations

import dataclasses
import os

from alae_tf import image_grids
from alae_tf.data.base import DatasetError
from alae_tf.faces import alignment, landmarks, photos


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What happened to one photo: `output` written, or `error` (one line) and nothing written.

    `faces` is how many faces the detector found (None with a landmarks file), `face_index` the one aligned.
    """

    photo: str
    output: str | None = None
    error: str | None = None
    faces: int | None = None
    face_index: int | None = None


def output_paths(photo_paths: list[str], output_dir: str) -> dict[str, str]:
    """`OUTPUT_DIR/<photo's name without suffix>.png` for each photo; DatasetError if two would clash."""
    paths: dict[str, str] = {}
    owner: dict[str, str] = {}
    for photo in photo_paths:
        out = os.path.join(output_dir, os.path.splitext(os.path.basename(photo))[0] + ".png")
        if out in owner and owner[out] != photo:
            raise DatasetError(f"{owner[out]} and {photo} would both be written to {out}: rename one of them")
        owner[out] = photo
        paths[photo] = out
    return paths


def align_photos(
    photo_specs: list[str],
    output_dir: str,
    *,
    resolution: int = alignment.OFFICIAL_OUTPUT_SIZE,
    face_index: int = 0,
    landmarks_file: str | None = None,
    transform_size: int | None = None,
) -> list[Outcome]:
    """Aligns each photo of `photo_specs` (files or folders) to a `resolution` px PNG in `output_dir`.

    Raises:
      DatasetError / FaceError: for the request as a whole (see the module docstring); nothing is written.
    """
    if resolution < 1:
        raise DatasetError(f"resolution={resolution} is not valid: pass a positive number of pixels")
    paths = photos.list_photos(photo_specs)
    outputs = output_paths(paths, output_dir)
    table = landmarks.table_for_photos(landmarks_file, paths, face_index)
    outcomes = []
    for photo in paths:
        try:
            image = photos.read(photo)
            faces = index = None
            if table is not None:
                points = landmarks.points_for(table, photo, landmarks_file)
            else:
                face, faces = landmarks.find_face(image, face_index)
                points, index = face.key_points(), face_index
            crop = alignment.align(image, points, resolution, transform_size)
        except (DatasetError, landmarks.FaceError, alignment.AlignmentError) as e:
            message = str(e)
            if photo not in message:
                message = f"{photo}: {message}"
            outcomes.append(Outcome(photo, error=message.splitlines()[0]))
            continue
        image_grids.write_png(outputs[photo], crop)
        outcomes.append(Outcome(photo, output=outputs[photo], faces=faces, face_index=index))
    return outcomes
