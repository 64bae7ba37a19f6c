"""Class transport edits on a run folder (`alae-edit --mode=transport`): images moved to another class.

`fit_class_transport` encodes a labelled split (the training one by default) and fits
`ClassTransport`'s per-class Gaussians; `apply_class_transport` moves each image's code from its
class (the labels given, or the class whose Gaussian fits the code best: `ClassTransport.classify`)
to the target class at several strengths and writes the grid, every image and `edits.json` at once
(`outputs`), like the other edit workflows. Strength 0 is the reconstruction, 1 the full transport.
"""

from __future__ import annotations

import numpy as np

from alae_tf.editing import operations
from alae_tf.editing.checks import check_int
from alae_tf.editing.codes import encode_dataset, first_of_split, split_provenance
from alae_tf.editing.direction_builders import DEFAULT_MAX_IMAGES
from alae_tf.editing.errors import EditingError
from alae_tf.editing.inputs import check_images
from alae_tf.editing.options import parse_strengths
from alae_tf.editing.outputs import MANIFEST, Written, manifest, output_folder, write_outputs
from alae_tf.editing.transport import ClassTransport
from alae_tf.editing.workflows import DEFAULT_STRENGTHS, encode_batched, strength_frames, strength_pictures

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
    _, images, labels = first_of_split(run, spec, split, max_images, data_dir, needs_labels="class transport")
    codes = encode_dataset(run.model, images, run.config.pixel_range, use_ema=use_ema)
    provenance = split_provenance(run, spec, split, use_ema, max_images)
    return ClassTransport.fit(codes, labels, provenance)


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
    for s in set(sources.tolist()):
        transport.check_class(s, "transport: source")

    def styles(rows, value):
        return operations.styles_from_w(
            model, transport.apply(w[rows], sources[rows], target, value).astype(np.float32)
        )

    frames = strength_frames(run, styles, len(x), values, use_ema)
    pictures = strength_pictures(run, frames, names, values, f"transport_to_{target}", f"to_{target}")
    document = manifest(
        run,
        "transport",
        use_ema,
        images=names,
        strengths=values,
        target_class=target,
        source_classes=dict(zip(names, sources.tolist())),
        source_classes_found_by=found_by,
        transport=transport.provenance,
    )
    return write_outputs(final, pictures, {MANIFEST: document}, [])
