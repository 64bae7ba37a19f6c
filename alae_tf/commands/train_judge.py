r"""Train the classifier whose features judge FD, KID and the class checks, and save it.

alae-train-judge --dataset=fashion_mnist --output=runs/fmnist_classifier.keras
"""

import sys

from absl import app, flags

import alae_tf.startup  # noqa: F401  (first: loads TensorFlow without its start-up notices)
from alae_tf import command_runner, data, features

FLAGS = flags.FLAGS
flags.DEFINE_string("dataset", "fashion_mnist", "Labelled data source. " + data.SPEC_HELP)
flags.DEFINE_string("output", None, "Where to save the classifier (.keras).", required=True)
flags.DEFINE_string("data_dir", None, "Overrides the dataset's default location.")
flags.DEFINE_integer("epochs", 2, "Training epochs.", lower_bound=1)
flags.DEFINE_integer("train_images", None, "Train on the first N training images only (default: all).", lower_bound=1)
flags.DEFINE_integer("resolution", None, "Image side (default: native); match the ALAE's.", lower_bound=1)
flags.DEFINE_integer("channels", 1, "1 (grey) or 3 (RGB); match the ALAE's.")
flags.DEFINE_integer("batch_size", 128, "Training batch size.", lower_bound=1)
flags.DEFINE_integer("seed", 0, "Seed of the initial weights and the data order.")
flags.DEFINE_integer("verbose", 1, "Keras fit verbosity (0, 1, 2).")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    try:
        train_set, test_set = (
            data.load_images(
                FLAGS.dataset, split, resolution=FLAGS.resolution, channels=FLAGS.channels, data_dir=FLAGS.data_dir
            )
            for split in ("train", "test")
        )
        if FLAGS.train_images:
            labels = train_set.labels[: FLAGS.train_images] if train_set.labels is not None else None
            train_set = data.ImageSet(train_set.images[: FLAGS.train_images], labels, train_set.name)
        name = features.feature_name(FLAGS.dataset)
        model, accuracy = features.train_classifier(
            train_set,
            test_set,
            name,
            epochs=FLAGS.epochs,
            batch_size=FLAGS.batch_size,
            seed=FLAGS.seed,
            verbose=FLAGS.verbose,
        )
        features.save_classifier(model, FLAGS.output)
    except (data.DatasetError, features.FeatureError) as e:
        sys.exit(f"alae-train-judge: error: {e}")
    print(
        f"{name}: test accuracy {accuracy:.4f} on {len(test_set)} images "
        f"(trained on {len(train_set)}, {FLAGS.epochs} epochs); saved {FLAGS.output}"
    )


def run():
    """The `alae-train-judge` console script: `app.run(main)` (`alae_tf.command_runner`)."""
    command_runner.run(main, __name__)


if __name__ == "__main__":
    run()
