"""Photos to align: PNG/JPEG files of any size and mode, turned upright and to RGB.

Decoding and the mode conversions are the data package's (`alae_tf.data.image_ops`: palette,
grey, 16-bit, CMYK; an alpha channel is dropped, as the official script drops it); the one
step added here is the EXIF orientation tag, applied first, so a phone's portrait JPEG is
aligned the way it is shown.
"""

from __future__ import annotations

import os

import numpy as np
from PIL import ImageOps

from alae_tf.data import folder, image_ops
from alae_tf.data.base import DatasetError


def read(path: str) -> np.ndarray:
    """The photo at `path` as uint8 RGB [H, W, 3], EXIF orientation applied.

    Raises:
      DatasetError: the file cannot be read or is not a PNG/JPEG image (named in the message).
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise DatasetError(f"cannot read {path}: {e.strerror or e}") from e
    image = image_ops.decode(data, path)
    try:
        image = ImageOps.exif_transpose(image)
    except Exception:  # a malformed EXIF block: the pixels are still good, kept as stored
        pass
    return image_ops.fit(image, None, 3)


def list_photos(specs: list[str]) -> list[str]:
    """The photo files of `--photos`: files as given, folders searched recursively (PNG/JPEG, sorted); each once.

    Raises:
      DatasetError: a path that does not exist, a folder with no photos, or no photos at all.
    """
    paths: list[str] = []
    for spec in specs:
        if os.path.isdir(spec):
            found = folder.list_images(spec)
            if not found:
                raise DatasetError(f"no PNG/JPEG photos under {spec} (searched recursively)")
            paths += found
        elif os.path.exists(spec):
            paths.append(spec)
        else:
            raise DatasetError(f"{spec} does not exist")
    if not paths:
        raise DatasetError("no photos given: pass --photos=a.jpg,b.png or a folder")
    return list(dict.fromkeys(paths))
