r"""Export a trained ALAE for TF Serving, one SavedModel per part, always float32.

    alae-export-saved-model --workdir=W --output_dir=OUT [--version=N] [--overwrite] [--resolution=PX]
    alae-export-saved-model --workdir=W --output_dir=OUT --official_directions_dir=ALAE/principal_directions \
        --official_directions=smile,young,glasses

Writes OUT/{mapping,generator,encoder,discriminator,alae,editor}/N from the EMA weights of
W's newest checkpoint (the editor with W/directions/ baked in, if any), and OUT/models.config
for tensorflow_model_server (docs/export.md). `export/saved_model.py` runs it too.
A StyleALAE is exported at the level (and fade-in blend) it trained last: its images
are at that level's resolution, printed at the end; `--resolution` exports a lower level
instead (e.g. 256 for a 1024 px model: its 256 px encoder and generator).
`--official_directions` bakes the authors' attribute directions into the editor, which then
has the official demo's edit rule as signatures (`edit_official`, `shift_official`,
`official_coordinates`; `alae_tf.editing.official`).
"""

import sys

from absl import app, flags

import alae_tf.startup  # noqa: F401  (first: loads TensorFlow without its start-up notices)
from alae_tf import command_runner
from alae_tf.checkpoint import CheckpointError
from alae_tf.editing import EditingError, official
from alae_tf.editing.workflows import parse_layers
from alae_tf.export import ExportError, saved_model

FLAGS = flags.FLAGS
flags.DEFINE_string("workdir", None, "Run folder written by alae-train.", required=True)
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
flags.DEFINE_list(
    "official_directions",
    [],
    "Official attribute directions for the editor: names (smile, young, ...; read from "
    "--official_directions_dir), direction_N.npy files, or a folder of them.",
)
flags.DEFINE_string(
    "official_directions_dir", None, "The official repository's principal_directions/ folder (for names)."
)
flags.DEFINE_string(
    "official_layers", None, "Style inputs the official rule replaces, START:END (default 0:16, cut to the model)."
)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    try:
        directions = official.resolve_official(FLAGS.official_directions, FLAGS.official_directions_dir)
        result = saved_model.export_workdir(
            FLAGS.workdir,
            FLAGS.output_dir,
            FLAGS.version,
            FLAGS.overwrite,
            FLAGS.server_base_path,
            resolution=FLAGS.resolution,
            official_directions=directions or None,
            official_layers=parse_layers(FLAGS.official_layers),
        )
    except (CheckpointError, ExportError, EditingError) as e:
        sys.exit(f"alae-export-saved-model: error: {e}")
    for part, path in result.saved_models.items():
        print(f"{part}: {path}")
    print(f"models.config: {result.models_config}")
    height, width, channels = result.image_shape
    level = "" if result.level is None else f" (StyleALAE level {result.level})"
    print(f"images: {height}x{width}x{channels}{level}")


def run():
    """The `alae-export-saved-model` console script: `app.run(main)` (`alae_tf.command_runner`)."""
    command_runner.run(main, __name__)


if __name__ == "__main__":
    run()
