"""Reconstruction error of real faces with and without w refinement (`--refine_steps`), through a converted checkpoint.

    .venv/bin/python benchmarks/photo_refinement.py --workdir=W --photos=FOLDER [--count=8] [--steps=0,10,50]

Each photo goes through the photo path of `alae-edit` (`editing.photo_edits.load_photos`;
`--align` to detect and align, else the photos are aligned crops pooled as `interactive_demo.py` does), is
encoded, and its code refined by `operations.refine` (Adam on the pixel MSE, noise fixed). Reported per step
count: the pixel MSE of the reconstruction (in the model's pixel range, [-1, 1] for the official models) and,
as an identity proxy, the distance between dlib's face descriptors (`dlib_face_recognition_resnet_model_v1`,
from face-recognition-models; the same person is < 0.6 by its authors' threshold) of the input and the
reconstruction, both enlarged to 150 px, with the landmarks found on the input (a reconstruction need not
look like a face for the distance to be defined; it is only meaningful when it does). Writes JSON.
"""

import json
import os
import time

import numpy as np
from absl import app, flags
from PIL import Image

import alae_tf.startup  # noqa: F401
from alae_tf import image_grids, workdir
from alae_tf.editing import operations, photo_edits
from alae_tf.faces import landmarks

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Converted run folder.", required=True)
flags.DEFINE_list("photos", None, "Photos or folders (aligned crops unless --align).", required=True)
flags.DEFINE_bool("align", False, "Detect and align the faces first.")
flags.DEFINE_integer("count", 8, "Photos used (the first ones).")
flags.DEFINE_list("steps", ["0", "10", "50"], "Refinement step counts measured.")
flags.DEFINE_float("learning_rate", 0.01, "Adam's step size (the CLI's default).")
flags.DEFINE_string("output", None, "JSON written here.")

DESCRIPTOR_SIDE = 150


def _descriptor_model():
    import dlib

    folder = os.path.dirname(landmarks.model_path())
    return dlib.face_recognition_model_v1(os.path.join(folder, "dlib_face_recognition_resnet_model_v1.dat"))


def descriptors(images_uint8, reference_uint8):
    """dlib face descriptors [N, 128] of `images`, with the 68 points found on `reference` (or the whole image)."""
    import dlib

    model = _descriptor_model()
    _, predictor = landmarks._models()
    out = []
    for image, reference in zip(images_uint8, reference_uint8):
        big = lambda x: np.asarray(Image.fromarray(x).resize((DESCRIPTOR_SIDE,) * 2, Image.Resampling.LANCZOS))  # noqa: E731
        ref = big(reference)
        faces = landmarks.detect(np.asarray(Image.fromarray(reference).resize((512, 512), Image.Resampling.LANCZOS)))
        if faces:
            box = [int(round(v * DESCRIPTOR_SIDE / 512)) for v in faces[0].box]
            rect = dlib.rectangle(*box)
        else:
            rect = dlib.rectangle(0, 0, DESCRIPTOR_SIDE - 1, DESCRIPTOR_SIDE - 1)
        shape = predictor(np.ascontiguousarray(ref), rect)
        out.append(np.asarray(model.compute_face_descriptor(np.ascontiguousarray(big(image)), shape)))
    return np.stack(out)


def main(argv):
    del argv
    run = workdir.open_run(FLAGS.workdir)
    paths = sorted(
        os.path.join(p, f) if os.path.isdir(p) else p
        for p in FLAGS.photos
        for f in (sorted(os.listdir(p)) if os.path.isdir(p) else [""])
        if (f or p).lower().endswith((".png", ".jpg", ".jpeg"))
    )[: FLAGS.count]
    photo_set = photo_edits.load_photos(run, paths, align=FLAGS.align)
    model, pixel_range = run.model, run.config.pixel_range
    x = photo_set.pixels
    w0 = operations.encode(model, x).numpy()
    steps = sorted({int(s) for s in FLAGS.steps})
    reference = descriptors(photo_set.aligned, photo_set.aligned)
    rows = []
    for n in steps:
        start = time.perf_counter()
        w_n, loss_n = operations.refine(model, x, w0, n, FLAGS.learning_rate)
        seconds = time.perf_counter() - start
        rec = image_grids.to_uint8(operations.decode_styles(model, operations.styles_from_w(model, w_n)), pixel_range)
        distance = np.linalg.norm(descriptors(rec, photo_set.aligned) - reference, axis=1)
        mse = np.asarray(loss_n[-1])
        rows.append(
            {
                "refine_steps": n,
                "refine_seconds": seconds,
                "pixel_mse_mean": float(mse.mean()),
                "pixel_mse_per_photo": mse.tolist(),
                "identity_distance_mean": float(distance.mean()),
                "identity_distance_per_photo": distance.tolist(),
            }
        )
        print(f"steps {n:3d}: pixel MSE {mse.mean():.4f}, dlib descriptor distance {distance.mean():.3f}")
    report = {
        "workdir": FLAGS.workdir,
        "preset": run.config.name,
        "resolution": int(model.resolution),
        "photos": [os.path.basename(p) for p in paths],
        "align": FLAGS.align,
        "learning_rate": FLAGS.learning_rate,
        "rows": rows,
    }
    if FLAGS.output:
        with open(FLAGS.output, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    app.run(main)
