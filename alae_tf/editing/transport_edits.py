"""Class transport edits on a run folder (`alae-edit --mode=transport`): images moved to another class.

`fit_class_transport` encodes a labelled split (the training one by default) and fits
`ClassTransport`'s per-class Gaussians; `apply_class_transport` moves each image's code from its
class (the labels given, or the class whose Gaussian fits the code best: `ClassTransport.classify`)
to the target class at several strengths and writes the grid, every image and `edits.json` at once
(`outputs`), like the other edit workflows. Strength 0 is the reconstruction, 1 the full transport.
"""

from __future__ import annotations

import numpy as np

from alae_tf import image_grids
from alae_tf.editing import operations
from alae_tf.editing.checks import check_int
from alae_tf.editing.codes import encode_dataset, run_provenance
from alae_tf.editing.direction_builders import DEFAULT_MAX_IMAGES
from alae_tf.editing.errors import EditingError
from alae_tf.editing.inputs import check_images, load_run_split
from alae_tf.editing.options import parse_strengths, strength_label
from alae_tf.editing.outputs import IMAGES_FOLDER, MANIFEST, Written, manifest, output_folder, write_outputs
from alae_tf.editing.transport import ClassTransport
from alae_tf.editing.workflows import DEFAULT_STRENGTHS, decode_batched, encode_batched

# The run's fitted transport (`save_run_transport`): the export bakes it into the editor's `transport` signature.
WORKDIR_TRANSPORT = "class_transport.npz"


def fit_class_transport(
    run,
    *,
    split: str | None = None,
    max_images: int = DEFAULT_MAX_IMAGES,
    dataset: str | None = None,
    data_dir: str | None = None,
    use_ema: bool = True,
) -> ClassTransport:
    """`ClassTransport` fitted on the codes of a labelled split's first `max_images` images (default: "train").

    Raises:
        EditingError / DatasetError: data without class labels, a class with a single image among them.
    """
    split = split or "train"
    spec = dataset or run.config.dataset
    max_images = check_int(max_images, "max_images", 3)
    image_set = load_run_split(run, spec, split, data_dir)
    if image_set.labels is None:
        raise EditingError(
            f"class transport needs class labels, and {spec}/{split} has none (Fashion-MNIST, idx:, tfds: and "
            "tfrecord: sources with a 'label' have them; a folder: source when its images sit in one subfolder "
            "per class)"
        )
    codes = encode_dataset(run.model, image_set.images[:max_images], run.config.pixel_range, use_ema=use_ema)
    provenance = {**run_provenance(run, split, use_ema), "source": f"{spec}/{split}", "max_images": max_images}
    return ClassTransport.fit(codes, image_set.labels[:max_images], provenance)


def save_run_transport(run, transport: ClassTransport):
    """Write `transport` to `WORKDIR/class_transport.npz` (atomically, replacing one saved before); returns the path.

    The export bakes it into the editor's `transport` signature.
    """
    return transport.save(run.path / WORKDIR_TRANSPORT)


def apply_class_transport(
    run,
    images,
    names,
    transport: ClassTransport,
    target: int,
    strengths=DEFAULT_STRENGTHS,
    *,
    sources=None,
    output_dir=None,
    use_ema: bool = True,
    overwrite: bool = False,
) -> Written:
    """Move images to class `target` by `transport`; write `transport_to_<target>.png` and each image.

    Args:
        run: an opened run; images, names: as `workflows.apply_edits` takes them.
        transport: fitted on this run's codes (`fit_class_transport`).
        target: the class the images move to.
        strengths: numbers (or their texts); 0 is the reconstruction, 1 the full transport.
        sources: each image's class (an int for all, or `[N]`); None: `transport.classify` of its code.
    Returns:
        `Written`: the grid (rows: images, columns: strengths), `images/<image>__to_<target>__<strength>.png`
        and `edits.json` (the classes each image moved from, and how they were found).
    Raises:
        EditingError: a target or source class without codes, codes of another size, bad strengths, images or
            output folder. Nothing is written then.
    """
    model = run.model
    x, names = check_images(run, images, names, "transport")
    values = parse_strengths(strengths)
    if int(transport.latent_size) != int(model.dlatent_size):
        raise EditingError(
            f"transport: fitted on codes of {transport.latent_size} numbers, this run's are {model.dlatent_size}"
        )
    target = transport.check_class(check_int(target, "transport: target class", 0), "transport: target")
    final = output_folder(run, output_dir, "transport", overwrite)
    w = encode_batched(model, x, use_ema)
    found_by = "given" if sources is not None else "classified"
    sources = transport.classify(w) if sources is None else np.broadcast_to(np.asarray(sources), (len(w),))
    for s in set(np.asarray(sources).tolist()):
        transport.check_class(s, "transport: source")
    columns = []
    for value in values:
        moved = transport.apply(w, sources, target, value).astype(np.float32)

        def styles(rows, moved=moved):
            return operations.styles_from_w(model, moved[rows])

        columns.append(image_grids.to_uint8(decode_batched(model, styles, len(x), use_ema), run.config.pixel_range))
    frames = np.stack(columns, axis=1)  # [N, S, H, W, C]
    name = f"transport_to_{target}"
    pictures = {f"{name}.png": operations.grid(frames, zoom=image_grids.tile_zoom(run.image_shape[0]))}
    for i, image_name in enumerate(names):
        for j, value in enumerate(values):
            pictures[f"{IMAGES_FOLDER}/{image_name}__to_{target}__{strength_label(value)}.png"] = frames[i, j]
    document = manifest(
        run,
        "transport",
        use_ema,
        images=names,
        strengths=values,
        target_class=target,
        source_classes=dict(zip(names, np.asarray(sources).tolist())),
        source_classes_found_by=found_by,
        transport=transport.provenance,
    )
    return write_outputs(final, pictures, {MANIFEST: document}, [])
