"""Your own photo, end to end: align the face, encode, edit (official or own directions) or mix, write it all.

What `alae-edit --photos=...` does, as library calls on an opened run:

- `load_photos`: every photo (files or folders; any size; RGB, RGBA, grey, palette; EXIF orientation
  honoured; `alae_tf.faces.photos`) is, with `align`, aligned by the official FFHQ recipe
  (`alae_tf.faces`: dlib's detector and 68 landmarks, or a landmarks file) at 1024 px as the
  official `align_faces.py` writes them, then brought to the model's resolution as the official
  `interactive_demo.py` does: 2x2 average pooling while larger, then an adaptive average pool.
  Without `align` the photo is taken as an aligned crop (it must be square) and pooled alike.
  A photo with no face, a face too small or too few faces for `face_index` stops everything
  with the faces' error naming it (several faces: the largest, unless `face_index`).
- `edit_photos`: the aligned input, its reconstruction `G(E(x))`, the edited image by the official
  rule (`official.official_styles`: set or shift the coordinates) or the project's strength rule
  (`w + sum_k s_k d_k`, `operations.edited_styles`), and, with `refine_steps`, the same from codes
  refined on the pixels (`operations.refine`), with the pixel MSE before and after.
- `mix_photos`: two photos, the official style-mixing ranges (`style_mixing/stylemix.py`: styles
  [0:4], [4:8] and [8:] of photo A into photo B's).

Each writes its whole output folder at once (a temp folder renamed into place): `grid.png`
(a row per photo), `aligned/`, `reconstruction/`, `edited/` (or `mix/`), `refined/...`, `codes.npz`
(the codes and styles behind the edits), and `edits.json` (what made them: photos, faces found, key
points, directions with provenance, coordinates, values, layers). A refused request writes nothing.
Nothing is downloaded.
"""

from __future__ import annotations

import dataclasses
import io
import numbers
import os
import pathlib

import numpy as np

from alae_tf import atomic, data, image_grids
from alae_tf.editing import official, operations, options, outputs, workflows
from alae_tf.editing.checks import check_int
from alae_tf.editing.directions import Direction
from alae_tf.editing.errors import EditingError
from alae_tf.editing.style_layers import num_style_layers, style_layer_range
from alae_tf.faces import alignment, landmarks, photos

ALIGN_SIZE = alignment.OFFICIAL_OUTPUT_SIZE  # the official script aligns at 1024 px
RULES = ("official", "strength")
# style_mixing/stylemix.py: style_ranges = [range(0, 4)] * 3 + [range(4, 8)] * 2 + [range(8, layer_count * 2)]
MIX_RANGES = (("coarse", 0, 4), ("middle", 4, 8), ("fine", 8, None))
# The codes behind the images: `names`, `directions`, and per code set ("encoded", "refined") `<set>_w`
# [N, latent], `<set>_styles` (G's input) and, for the official rule, `<set>_coordinates` [N, K].
CODES = "codes.npz"


@dataclasses.dataclass(frozen=True)
class PhotoSet:
    """Photos ready to encode.

    Attributes:
        pixels: float32 `[N, H, W, 3]` in the run's pixel range at its resolution (what E reads: the pooled
            floats, not rounded, as the official code encodes them).
        aligned: uint8 `[N, H, W, 3]`, `pixels` rounded (the aligned input written).
        names: one file-safe name per photo (its file name without suffix, made unique).
        records: per photo, JSON-able: source path, faces found, the face aligned, key points.
    """

    pixels: np.ndarray
    aligned: np.ndarray
    names: list[str]
    records: list[dict]


def _check_run(run, what: str) -> None:
    shape = tuple(run.image_shape)
    if shape[2] != 3:
        raise EditingError(
            f"{what}: photos are RGB faces, and {run.path} draws {shape[2]}-channel images (preset "
            f"{run.config.name}); use --images for its own kind of images"
        )


def pool_to(image: np.ndarray, size: int) -> np.ndarray:
    """float `[S, S, C]` to `[size, size, C]` as the official `interactive_demo.py`: 2x2 average pooling while
    larger than `size`, then torch's `adaptive_avg_pool2d` (window i: `floor(i S / size)` to `ceil((i + 1) S /
    size)`) if the side is not `size` yet (upsampling by it repeats pixels)."""
    x = np.asarray(image, np.float32)
    while x.shape[0] > size:
        h, w = x.shape[0] // 2 * 2, x.shape[1] // 2 * 2  # torch's avg_pool2d drops an odd last row/column
        x = x[:h, :w].reshape(h // 2, 2, w // 2, 2, -1).mean(axis=(1, 3), dtype=np.float32)
    if x.shape[0] != size or x.shape[1] != size:
        out = np.empty((size, size, x.shape[2]), np.float32)
        rows = [(i * x.shape[0] // size, -(-(i + 1) * x.shape[0] // size)) for i in range(size)]
        cols = [(j * x.shape[1] // size, -(-(j + 1) * x.shape[1] // size)) for j in range(size)]
        for i, (r0, r1) in enumerate(rows):
            for j, (c0, c1) in enumerate(cols):
                out[i, j] = x[r0:r1, c0:c1].mean(axis=(0, 1))
        x = out
    return x


def _names(paths: list[str]) -> list[str]:
    stems = [options.safe_name(os.path.splitext(os.path.basename(p))[0], "photo") for p in paths]
    return options.unique_names(stems)


def load_photos(
    run,
    photo_specs,
    *,
    align: bool = True,
    face_index: int = 0,
    landmarks_file: str | None = None,
    align_size: int = ALIGN_SIZE,
) -> PhotoSet:
    """Read, align (with `align`) and pool every photo of `photo_specs` to the run's resolution.

    Raises:
        DatasetError: a missing path, a folder without photos, a file that does not decode.
        FaceError (`alae_tf.faces.landmarks`): no face, a face too small, `face_index` past the faces found,
            an unreadable landmarks file; the message names the photo.
        EditingError: a run that does not draw RGB images, a non-square photo without `align`.
    """
    _check_run(run, "--photos")
    if isinstance(photo_specs, (str, os.PathLike)):
        photo_specs = [str(photo_specs)]
    paths = photos.list_photos([str(s) for s in photo_specs if str(s).strip()])
    check_int(face_index, "face_index", 0)
    if not align and (landmarks_file or face_index):
        raise EditingError("--face_index and --landmarks choose the face to align: they need --align")
    table = landmarks.table_for_photos(landmarks_file, paths, face_index)
    resolution = int(run.model.resolution)
    pixel_range = run.config.pixel_range
    pixels, records = [], []
    for path in paths:
        try:
            image = photos.read(path)
            record = {"photo": os.path.abspath(path), "photo_shape": list(image.shape), "aligned": bool(align)}
            if align:
                if table is not None:
                    points = landmarks.points_for(table, path, landmarks_file)
                    record.update(landmarks="file", landmarks_file=os.path.abspath(landmarks_file))
                else:
                    face, found = landmarks.find_face(image, face_index)
                    points = face.key_points()
                    record.update(landmarks="dlib", faces_found=found, face_index=face_index, face_box=list(face.box))
                record["key_points"] = points.as_dict()
                image = alignment.align(image, points, align_size)
                record["align_size"] = int(align_size)
            elif image.shape[0] != image.shape[1]:
                raise EditingError(
                    f"{image.shape[1]} x {image.shape[0]} px is not square: an aligned face crop is; pass --align to "
                    "find and align the face"
                )
        except (landmarks.FaceError, alignment.AlignmentError, EditingError) as e:
            message = str(e) if path in str(e) else f"{path}: {e}"
            raise type(e)(message) from e
        x = data.to_pixel_range(image, pixel_range).numpy()
        pixels.append(pool_to(x, resolution))
        records.append(record)
    stacked = np.stack(pixels).astype(np.float32)
    return PhotoSet(stacked, image_grids.to_uint8(stacked, pixel_range), _names(paths), records)


def _rows(images_uint8_columns) -> np.ndarray:
    return np.stack(images_uint8_columns, axis=1)  # [N, columns, H, W, C]


def _write(final: pathlib.Path, pictures, texts, notes, arrays=None) -> outputs.Written:
    """Write `{relative path: uint8 [H, W, C]}`, texts and `{relative path: {key: array}}` (.npz) at once."""
    arrays = arrays or {}
    with atomic.directory(final, overwrite=final.exists()) as tmp:
        for relative, picture in pictures.items():
            image_grids.write_png(tmp / relative, picture)
        for relative, text in texts.items():
            atomic.write_text(tmp / relative, text)
        for relative, fields in arrays.items():
            buffer = io.BytesIO()
            np.savez(buffer, **fields)
            atomic.write_bytes(tmp / relative, buffer.getvalue())
    grids = [final / r for r in pictures if "/" not in r]
    singles = [final / r for r in pictures if "/" in r]
    others = [final / r for r in (*texts, *arrays)]
    return outputs.Written(final, grids, singles, [*grids, *singles, *others], list(notes))


def _numbers(values, count: int, what: str) -> list[float] | None:
    if values is None or (isinstance(values, (list, tuple)) and not values):
        return None
    if isinstance(values, (str, numbers.Number)):
        values = [values]
    out = []
    for v in values:
        try:
            number = float(v)
        except (TypeError, ValueError):
            number = float("nan")
        if not np.isfinite(number):
            raise EditingError(f"--{what} must be finite numbers, got {v!r}")
        out.append(number)
    if len(out) != count:
        raise EditingError(f"--{what}: {len(out)} numbers for {count} directions; give one per direction, in order")
    return out


def edit_photos(
    run,
    photo_set: PhotoSet,
    directions: list[Direction],
    *,
    rule: str = "official",
    values=None,
    shifts=None,
    strengths=None,
    layers=None,
    refine_steps: int = 0,
    refine_learning_rate: float = 0.01,
    output_dir=None,
    overwrite: bool = False,
    use_ema: bool = True,
) -> outputs.Written:
    """Edit aligned photos and write the aligned input, reconstruction, edit and grid (see the module docstring).

    Args:
        photo_set: `load_photos`' result.
        directions: `Direction`s (official or the run's own), K of them.
        rule: "official" (`values`: the new coordinates, the official sliders from -40 to 40; or `shifts`
            added to them; neither: the coordinates stay) or "strength" (`strengths`, one per direction:
            `w + sum_k s_k d_k`).
        layers: official rule: the style inputs replaced (default `official.official_layers`: [0, 16) cut to the
            model); strength rule: those moved (default every one), as `--layers`.
        refine_steps: if > 0, also fit each code to its photo with that many Adam steps (`operations.refine`)
            and write the reconstruction and edit of the refined codes in `refined/`.
    Raises:
        EditingError: a bad rule, numbers that do not fit the directions, layers out of range, an output folder
            in use. Nothing is written then.
    """
    model = run.model
    if rule not in RULES:
        raise EditingError(f"--edit_rule must be one of {', '.join(RULES)}, got {rule!r}")
    directions = list(directions)
    if not directions or not all(isinstance(d, Direction) for d in directions):
        raise EditingError("give at least one direction (--directions=official:smile, or a saved direction's name)")
    latent = int(model.dlatent_size)
    wrong = [d.name for d in directions if d.latent_size != latent]
    if wrong:
        raise EditingError(f"directions {wrong} are not {latent} numbers long: they were made for another model")
    count = len(directions)
    layers = options.parse_layers(layers)
    if rule == "official":
        if strengths:
            raise EditingError(
                "--strengths belong to --edit_rule=strength; the official rule takes --values or --shifts"
            )
        values, shifts = _numbers(values, count, "values"), _numbers(shifts, count, "shifts")
        if values is not None and shifts is not None:
            raise EditingError("give --values (set the coordinates) or --shifts (move them), not both")
        span = official.official_layers(model, layers)
    else:
        if values or shifts:
            raise EditingError("--values and --shifts belong to the official rule (--edit_rule=official)")
        strengths = _numbers(strengths, count, "strengths")
        if strengths is None:
            raise EditingError(f"--edit_rule=strength needs --strengths, one per direction ({count})")
        span = style_layer_range(model, layers, "--layers")
    workflows.check_refinement(refine_steps, refine_learning_rate)
    final = outputs.output_folder(run, output_dir, "photo", overwrite)

    x, names, pixel_range = photo_set.pixels, photo_set.names, run.config.pixel_range
    to_uint8 = lambda images: image_grids.to_uint8(images, pixel_range)  # noqa: E731
    codes = {"": workflows.encode_batched(model, x, use_ema)}
    notes, refine_report = [], None
    if refine_steps:
        codes["refined/"], refine_report, note = workflows.refine_codes(
            model, x, codes[""], names, refine_steps, refine_learning_rate, use_ema
        )
        notes.append(f"{note}; in {final / 'refined'}")
    pictures = {f"aligned/{n}.png": photo_set.aligned[i] for i, n in enumerate(names)}
    columns = [photo_set.aligned]
    coordinates = {}
    arrays = {CODES: {"names": np.array(names), "directions": np.array([d.name for d in directions])}}
    for prefix, w in codes.items():
        reconstruction = to_uint8(operations.decode_styles(model, operations.styles_from_w(model, w), use_ema))
        if rule == "official":
            styles, v = official.official_styles(model, w, directions, values, shifts, layers)
            coordinates[prefix.rstrip("/") or "encoded"] = {
                n: dict(zip([d.name for d in directions], row)) for n, row in zip(names, v.numpy().tolist())
            }
        else:
            styles = operations.edited_styles(model, w, directions, np.asarray(strengths, np.float32), layers)
        edited = to_uint8(operations.decode_styles(model, styles, use_ema))
        key = prefix.rstrip("/") or "encoded"
        arrays[CODES].update({f"{key}_w": np.asarray(w, np.float32), f"{key}_styles": np.asarray(styles, np.float32)})
        if rule == "official":
            arrays[CODES][f"{key}_coordinates"] = v.numpy()
        for i, n in enumerate(names):
            pictures[f"{prefix}reconstruction/{n}.png"] = reconstruction[i]
            pictures[f"{prefix}edited/{n}.png"] = edited[i]
        columns += [reconstruction, edited]
    pictures["grid.png"] = operations.grid(_rows(columns), zoom=image_grids.tile_zoom(run.image_shape[0]))
    manifest = outputs.manifest(
        run,
        "photo_edit",
        use_ema,
        photos=dict(zip(names, photo_set.records)),
        rule=rule,
        directions={d.name: d.provenance for d in directions},
        values=None if values is None else dict(zip([d.name for d in directions], values)),
        shifts=None if shifts is None else dict(zip([d.name for d in directions], shifts)),
        strengths=None if strengths is None else dict(zip([d.name for d in directions], strengths)),
        coordinates=coordinates or None,
        layers=None if span is None else list(span),
        grid_columns=[
            "aligned",
            "reconstruction",
            "edited",
            *(["refined reconstruction", "refined edited"] * bool(refine_steps)),
        ],
        refine=refine_report,
    )
    return _write(final, pictures, {outputs.MANIFEST: manifest}, notes, arrays)


def mix_ranges(model) -> list[tuple[str, int, int]]:
    """The official style-mixing ranges `(name, start, end)` cut to the model's style inputs; empty ones left out."""
    total = num_style_layers(model)
    out = []
    for name, start, end in MIX_RANGES:
        end = total if end is None else min(end, total)
        if start < end:
            out.append((name, start, end))
    return out


def mix_photos(run, photo_set: PhotoSet, *, output_dir=None, overwrite: bool = False, use_ema: bool = True):
    """Style mixing of two photos with the official ranges: B's styles with A's in [0:4], [4:8], [8:].

    As `style_mixing/stylemix.py` (A: its source, B: its destination): one image per range, named
    `mix/<a>__into__<b>__<range>.png`; `grid.png` shows A, B, their reconstructions and the mixes.
    """
    workflows.check_style_nets(run, "style mixing of photos (--mode=mix)")
    model = run.model
    if len(photo_set.names) != 2:
        raise EditingError(
            f"--mode=mix with --photos takes two photos (A gives the styles of each range, B the rest), got "
            f"{len(photo_set.names)}"
        )
    final = outputs.output_folder(run, output_dir, "photo_mix", overwrite)
    ranges = mix_ranges(model)
    pixel_range = run.config.pixel_range
    w = workflows.encode_batched(model, photo_set.pixels, use_ema)
    styles = operations.styles_from_w(model, w).numpy()  # [2, S, latent]
    reconstruction = image_grids.to_uint8(operations.decode_styles(model, styles, use_ema), pixel_range)
    mixed = []
    for _, start, end in ranges:
        style = styles[1:2].copy()
        style[:, start:end] = styles[0:1, start:end]
        mixed.append(image_grids.to_uint8(operations.decode_styles(model, style, use_ema), pixel_range)[0])
    a, b = photo_set.names
    pictures = {f"aligned/{n}.png": photo_set.aligned[i] for i, n in enumerate(photo_set.names)}
    for i, n in enumerate(photo_set.names):
        pictures[f"reconstruction/{n}.png"] = reconstruction[i]
    for (name, _, _), image in zip(ranges, mixed):
        pictures[f"mix/{a}__into__{b}__{name}.png"] = image
    row = [*photo_set.aligned, *reconstruction, *mixed]
    pictures["grid.png"] = operations.grid(np.stack(row)[None], zoom=image_grids.tile_zoom(run.image_shape[0]))
    notes = []
    total = num_style_layers(model)
    if len(ranges) < len(MIX_RANGES):
        notes.append(f"this model has {total} style inputs: the official ranges past {total} are empty and left out")
    manifest = outputs.manifest(
        run,
        "photo_mix",
        use_ema,
        photos=dict(zip(photo_set.names, photo_set.records)),
        source=a,
        destination=b,
        ranges={name: [start, end] for name, start, end in ranges},
        grid_columns=[
            f"aligned {a}",
            f"aligned {b}",
            f"reconstruction {a}",
            f"reconstruction {b}",
            *(f"mix {name}" for name, _, _ in ranges),
        ],
    )
    return _write(final, pictures, {outputs.MANIFEST: manifest}, notes)
