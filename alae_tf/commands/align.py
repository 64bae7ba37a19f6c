r"""Align photos of faces the way the official ALAE models were trained (FFHQ recipe, `align_faces.py`).

    alae-align --photos=me.jpg,us.png --output_dir=aligned/
    alae-align --photos=holiday/ --output_dir=aligned/ --resolution=256
    alae-align --photos=us.png --face_index=1 --output_dir=aligned/   # the second largest face
    alae-align --photos=me.jpg --landmarks=me.json --output_dir=aligned/  # your own detector's points

Each photo gives OUTPUT_DIR/<name>.png, written atomically. Faces are found by dlib's detector
and 68-point predictor (installed with the requirements; nothing is downloaded); a photo with
no face, a face too small, or too few faces for --face_index gets one error line naming it and
writes nothing, and the command then exits with status 1.
"""

import sys

from absl import app, flags

import alae_tf.startup  # noqa: F401  (first: loads TensorFlow without its start-up notices)
from alae_tf import command_runner
from alae_tf.data.base import DatasetError
from alae_tf.faces import alignment, landmarks, workflow

FLAGS = flags.FLAGS

flags.DEFINE_list("photos", None, "PNG/JPEG photos, or folders of them (searched recursively).", required=True)
flags.DEFINE_string("output_dir", None, "Folder for the aligned crops, OUTPUT_DIR/<photo name>.png.", required=True)
flags.DEFINE_integer(
    "resolution", alignment.OFFICIAL_OUTPUT_SIZE, "Side of the aligned crop (the model's resolution).", lower_bound=1
)
flags.DEFINE_integer("face_index", 0, "Which detected face to align, counted from the largest (0) down.", lower_bound=0)
flags.DEFINE_string(
    "landmarks", None, f"A file of landmarks to use instead of detecting faces: {landmarks.LANDMARKS_FORMAT}."
)
flags.DEFINE_integer(
    "transform_size",
    None,
    "Side of the quad transform before the final resize (default: the official 4098 at 1024 px, else 4 x "
    "--resolution).",
    lower_bound=1,
)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    try:
        outcomes = workflow.align_photos(
            FLAGS.photos,
            FLAGS.output_dir,
            resolution=FLAGS.resolution,
            face_index=FLAGS.face_index,
            landmarks_file=FLAGS.landmarks,
            transform_size=FLAGS.transform_size,
        )
    except (DatasetError, landmarks.FaceError) as e:
        raise SystemExit(f"alae-align: {e}") from None
    failed = 0
    for outcome in outcomes:
        if outcome.error:
            failed += 1
            print(f"alae-align: {outcome.error}", file=sys.stderr)
        else:
            which = f" (face {outcome.face_index} of {outcome.faces})" if outcome.faces else ""
            print(f"{outcome.photo} -> {outcome.output}{which}")
    print(f"aligned {len(outcomes) - failed} of {len(outcomes)} photos into {FLAGS.output_dir}")
    if failed:
        raise SystemExit(1)


def run():
    """The `alae-align` console script: `app.run(main)` (`alae_tf.command_runner`)."""
    command_runner.run(main, __name__)


if __name__ == "__main__":
    run()
