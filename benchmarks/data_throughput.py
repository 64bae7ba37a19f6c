r"""Input throughput of every data source, and of the training pipeline fed from it.

    python -m benchmarks.data_throughput                                  # every source
    python -m benchmarks.data_throughput --sources=folder,tfrecord --batches=50   # a quick check

Every source goes the way training takes it (`data.load_split`, then
`data.training_batches`), at its preset's resolution, channels and batch size:

| source | spec | preset (px, batch) |
|---|---|---|
| fashion_mnist | fashion_mnist (Debian IDX files) | mnist_mlp (28 grey, 128) |
| idx | idx:--idx_dir (the same files) | mnist_mlp |
| tfds | tfds:alae_bench_fashion_mnist, built offline from the same files (`tfds_local.py`) | mnist_mlp |
| folder | folder:--folder (PNG) | faces_tiny (32 RGB, 32) |
| tfrecord | tfrecord: written from --folder's images by `data.write_tfrecords` | faces_tiny |

Columns: prepare_s (writing the TFRecord / building the TFDS copy, once); load: the
first `load_images` call (read + decode + resize into memory: the sources decode once,
never per epoch) and the same call again (files in the OS cache); pipeline: images/s
of `training_batches` over the in-memory images (shuffle, gather, uint8 -> float,
flips), over `--batches` batches after `--warmup_batches`, and the time to its first
batch. The network is blocked while tfds runs: nothing is ever downloaded.
"""

import contextlib
import pathlib
import tempfile

import tensorflow as tf
from absl import app, flags

from alae_tf import configs, data
from alae_tf.data import fashion_mnist
from benchmarks import harness

NAME = "data_throughput"
SOURCES = ("fashion_mnist", "idx", "tfds", "folder", "tfrecord")
# The faces_tiny preset's folder, resolved against the repo root (the preset's path is relative to it).
_FACES = str((harness.REPO_ROOT / configs.PRESETS["faces_tiny"].dataset.partition(":")[2]).resolve())

FLAGS = flags.FLAGS
flags.DEFINE_list("sources", list(SOURCES), f"Sources to measure: {', '.join(SOURCES)}.")
flags.DEFINE_string("idx_dir", fashion_mnist.DEFAULT_DIR, "IDX folder of the idx and tfds sources.")
flags.DEFINE_string("folder", _FACES, "Image folder of the folder and tfrecord sources.")
flags.DEFINE_string("mnist_preset", "mnist_mlp", "Preset (resolution, channels, batch) of the IDX/TFDS sources.")
flags.DEFINE_string("faces_preset", "faces_tiny", "Preset of the folder and tfrecord sources.")
flags.DEFINE_integer(
    "tfds_examples", None, "Images in the offline TFDS copy (default: the whole train split).", lower_bound=1
)
flags.DEFINE_integer("tfrecord_shards", 1, "TFRecord files to write.", lower_bound=1)
flags.DEFINE_integer("batches", 300, "Timed pipeline batches.", lower_bound=1)
flags.DEFINE_integer("warmup_batches", 10, "Untimed pipeline batches first.", lower_bound=0)
flags.DEFINE_integer("seed", 0, "Shuffling seed.")

flags.register_validator("sources", lambda v: all(s in SOURCES for s in v), message=f"--sources: {SOURCES}")
for _name in ("mnist_preset", "faces_preset"):
    flags.register_validator(_name, lambda v: v in configs.PRESETS, message=f"--{_name}: a preset name")

COLUMNS = [
    ("source", "source"),
    ("preset", "preset"),
    ("images", "images"),
    ("resolution", "px"),
    ("batch_size", "batch"),
    ("prepare_s", "prepare s"),
    ("load_s", "load s"),
    ("load_images_per_s", "load images/s"),
    ("load_again_s", "load again s"),
    ("load_again_images_per_s", "load again images/s"),
    ("pipeline_first_batch_s", "first batch s"),
    ("pipeline_images_per_s", "pipeline images/s"),
]


def _load(config, data_dir):
    """`(ImageSet, seconds)` of one `data.load_split` call."""
    with harness.Stopwatch() as watch:
        image_set = data.load_split(config.dataset, "train", config.image_shape, data_dir=data_dir)
    return image_set, watch.seconds


def _pipeline(images, config):
    """`(first batch seconds, images/s)` of `training_batches` over in-memory images."""
    batch_size = config.batch_size
    images = tf.constant(images)
    with harness.Stopwatch() as first:
        iterator = iter(
            data.training_batches(
                images, batch_size=batch_size, seed=FLAGS.seed, pixel_range=config.pixel_range, flip=config.flip
            )
        )
        next(iterator).numpy()
    times = harness.time_calls(lambda: next(iterator).numpy(), FLAGS.batches, warmup=FLAGS.warmup_batches)
    return first.seconds, batch_size * len(times) / sum(times)


def measure(source, spec, config, data_dir=None, prepare_s=None, guard=contextlib.nullcontext):
    """One row: load twice, then the training pipeline."""
    config = config.replace(dataset=spec)
    row = {
        "source": source,
        "spec": spec,
        "preset": config.name,
        "resolution": config.image_shape[0],
        "channels": config.image_shape[2],
        "batch_size": config.batch_size,
        "prepare_s": prepare_s,
    }
    try:
        with guard():
            image_set, load_s = _load(config, data_dir)
            _, load_again_s = _load(config, data_dir)
        first_batch_s, images_per_s = _pipeline(image_set.images, config)
    except Exception as e:  # a missing data set must not hide the other sources
        row = harness.skipped(row, e)
        harness.print_row(row, COLUMNS)
        return row
    n = len(image_set)
    row.update(
        {
            "status": "ok",
            "images": n,
            "load_s": load_s,
            "load_images_per_s": n / load_s,
            "load_again_s": load_again_s,
            "load_again_images_per_s": n / load_again_s,
            "pipeline_first_batch_s": first_batch_s,
            "pipeline_images_per_s": images_per_s,
        }
    )
    harness.print_row(row, COLUMNS)
    return row


def _tfrecord_row(temp, faces):
    with harness.Stopwatch() as write:
        native = data.load_images(f"folder:{FLAGS.folder}", "train", channels=faces.image_shape[2]).images
        paths = data.write_tfrecords(str(pathlib.Path(temp) / "faces.tfrecord"), native, shards=FLAGS.tfrecord_shards)
    return measure(
        "tfrecord",
        f"tfrecord:{paths[0] if len(paths) == 1 else paths[0].rsplit('-', 3)[0] + '*'}",
        faces,
        prepare_s=write.seconds,
    )


def _tfds_row(temp, mnist):
    from benchmarks import tfds_local  # imports tensorflow_datasets: only when asked for

    data_dir = str(pathlib.Path(temp) / "tfds")
    with harness.Stopwatch() as build:
        tfds_local.prepare(data_dir, FLAGS.idx_dir, FLAGS.tfds_examples)
    return measure(
        "tfds",
        f"tfds:{tfds_local.NAME}",
        mnist,
        data_dir=data_dir,
        prepare_s=build.seconds,
        guard=tfds_local.no_network,
    )


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    mnist, faces = configs.PRESETS[FLAGS.mnist_preset], configs.PRESETS[FLAGS.faces_preset]
    rows = []
    with tempfile.TemporaryDirectory() as temp:
        makers = {
            "fashion_mnist": lambda: measure("fashion_mnist", "fashion_mnist", mnist),
            "idx": lambda: measure("idx", f"idx:{FLAGS.idx_dir}", mnist),
            "tfds": lambda: _tfds_row(temp, mnist),
            "folder": lambda: measure("folder", f"folder:{FLAGS.folder}", faces),
            "tfrecord": lambda: _tfrecord_row(temp, faces),
        }
        for source in FLAGS.sources:
            try:
                rows.append(makers[source]())
            except Exception as e:  # preparing the source failed (tfds build, TFRecord write)
                rows.append(harness.skipped({"source": source}, e))
                harness.print_row(rows[-1], COLUMNS)
    settings = harness.flag_values(
        [
            "sources",
            "idx_dir",
            "folder",
            "mnist_preset",
            "faces_preset",
            "tfds_examples",
            "tfrecord_shards",
            "batches",
            "warmup_batches",
            "seed",
        ]
    )
    harness.write_results(NAME, settings, rows, COLUMNS, FLAGS.output)


if __name__ == "__main__":
    app.run(main)
