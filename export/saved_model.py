r"""Export a trained ALAE for TF Serving, one SavedModel per part, always float32.

    python export/saved_model.py --workdir=W --output_dir=OUT [--version=N] [--overwrite] [--resolution=PX]

Writes OUT/{mapping,generator,encoder,discriminator,alae,editor}/N from the EMA weights of
W's newest checkpoint (the editor with W/directions/ baked in, if any), and OUT/models.config
for tensorflow_model_server (see BUILD.md).
A StyleALAE is exported at the level (and fade-in blend) it trained last: its images
are at that level's resolution, printed at the end; `--resolution` exports a lower level
instead (e.g. 256 for a 1024 px model: its 256 px encoder and generator).
"""

import sys

from absl import app, flags

import alae_tf.startup  # noqa: F401  (first: loads TensorFlow without its start-up notices)
from alae_tf.checkpoint import CheckpointError
from alae_tf.export import ExportError, saved_model

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Run folder written by alae_tf.train.", required=True)
flags.DEFINE_string(
    "output_dir", None, "Model server base folder OUT; parts go to OUT/<part>/<version>.", required=True
)
flags.DEFINE_integer("version", None, "Version folder; default: one more than the newest in OUT.", lower_bound=1)
flags.DEFINE_bool("overwrite", False, "Replace existing OUT/<part>/<version> folders.")
flags.DEFINE_string(
    "server_base_path",
    None,
    "OUT as the model server sees it (e.g. /models inside a container), for models.config; "
    "default: OUT's absolute path.",
)

flags.DEFINE_integer(
    "resolution",
    None,
    "StyleALAE: image size of the signatures, a level's (4 * 2**level) up to the trained one; "
    "default: the level it trained last.",
    lower_bound=4,
)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    try:
        result = saved_model.export_workdir(
            FLAGS.workdir,
            FLAGS.output_dir,
            FLAGS.version,
            FLAGS.overwrite,
            FLAGS.server_base_path,
            resolution=FLAGS.resolution,
        )
    except (CheckpointError, ExportError) as e:
        sys.exit(f"export/saved_model.py: error: {e}")
    for part, path in result.saved_models.items():
        print(f"{part}: {path}")
    print(f"models.config: {result.models_config}")
    height, width, channels = result.image_shape
    level = "" if result.level is None else f" (StyleALAE level {result.level})"
    print(f"images: {height}x{width}x{channels}{level}")


if __name__ == "__main__":
    app.run(main)
