r"""Are class edits clean? Success and high-frequency energy of class edits, by strength.

    python -m benchmarks.edit_realism --workdirs=runs/mnist_mlp_demo,runs/other \
        --feature_net=runs/fmnist_classifier.keras

Per run (a Fashion-MNIST MLP workdir, EMA nets): the codes E(x) of the training split give
one mean per class; each of `--images` test images moves from its class's mean towards a
random other class's (seeded), `w + s * (mean[target] - mean[source])`, for every strength s
of `--strengths`, is decoded (clipped) and judged by the project's classifier (`--feature_net`).
The class-mean edit metric of the evaluation report is the s = 1 column.

Per strength: `success` (the judge sees the target class) and `hf_ratio`, the edited images'
mean squared 3x3 Laplacian (the quality bar's HF measure, on a [0, 1] scale) over that of real
test images of the same target classes (each edit weighed against its target class's real
mean): below 1 the edits are faint or ghosted, above 1 speckled. `at_80` is the first
strength where at least 80 % of edits reach their target, with its HF ratio: the number the
clean-edit target (HF within 0.8-1.2x there) reads. Grids of the first 8 edits at every
strength go to `--grids_dir`. `--latent_map` moves each edited code towards F's distribution
in w before decoding (`LATENT_MAPS`: tried fixes for faint edits, none kept). Results:
`benchmarks/results/edit_realism.json`.
"""

import pathlib

import numpy as np
import tensorflow as tf
from absl import app, flags

import alae_tf.startup  # noqa: F401  (first: loads TensorFlow without its start-up notices)
from alae_tf import data, editing, features, image_grids, probes, workdir
from alae_tf.metrics import distribution
from alae_tf.metrics.judge import laplacian_energy
from benchmarks import harness

FLAGS = flags.FLAGS
# Edits decode codes of E's distribution, and G draws those blurred (the pixel term) where it draws
# F(z) sharp: these move an edited code towards F's distribution first. `expanded`: away from the
# mean of E(x) by --expansion (F(z) spreads wider in w: `latent_spread`); `transported`: the
# Gaussian optimal-transport map from E(x)'s mean and covariance to F(z)'s; `half_transported`:
# half-way there. None makes edits clean (benchmarks/quality.md, "Clean edits?").
LATENT_MAPS = ("none", "expanded", "transported", "half_transported")
EDITS = ("class_mean", "class_transport")

flags.DEFINE_list("workdirs", None, "Fashion-MNIST MLP runs to edit.", required=True)
flags.DEFINE_list("names", None, "A label per workdir (default: the folder names).")
flags.DEFINE_string("feature_net", "runs/fmnist_classifier.keras", "The judge (`alae-train-judge`).")
flags.DEFINE_list("strengths", ["0.5", "1", "1.25", "1.5", "1.75", "2", "2.5", "3"], "Edit strengths.")
flags.DEFINE_enum("edit", "class_mean", list(EDITS), "How an edit moves a code (see the docstring).")
flags.DEFINE_integer("images", 2000, "Test images edited per strength.", lower_bound=10)
flags.DEFINE_integer("seed", 0, "Seed of the target classes.")
flags.DEFINE_string("grids_dir", "benchmarks/results/editing", "Where the edit grids go.")
flags.DEFINE_enum(
    "latent_map",
    "none",
    list(LATENT_MAPS),
    "What happens to an edited code before it is decoded (a tried fix for faint edits; see LATENT_MAPS).",
)
flags.DEFINE_float("expansion", 1.3, "--latent_map=expanded: the factor about the mean of E(x).", lower_bound=0.0)
flags.DEFINE_integer("mapping_samples", 20000, "F(z) codes that estimate F's distribution in w.", lower_bound=1000)

COLUMNS = (
    ("run", "run"),
    ("strength", "strength"),
    ("success", "reach target"),
    ("hf_ratio", "HF vs real target"),
)
SUCCESS_LINE = 0.8


def latent_map(kind, real_codes, fake_codes, expansion):
    """The map of `LATENT_MAPS[kind]` on codes `[n, d]`, fitted on E(x) `real_codes` and F(z) `fake_codes`."""
    mean_real = real_codes.mean(axis=0)
    if kind == "none":
        return lambda w: w
    if kind == "expanded":
        return lambda w: mean_real + expansion * (w - mean_real)
    # N(m_E, C_E) -> N(m_F, C_F): w -> m_F + A (w - m_E), A = C_E^-1/2 (C_E^1/2 C_F C_E^1/2)^1/2 C_E^-1/2.
    _, cov_real = distribution.feature_stats(real_codes)
    mean_fake, cov_fake = distribution.feature_stats(fake_codes)
    transport = probes.gaussian_transport_matrix(cov_real, cov_fake)
    share = 1.0 if kind == "transported" else 0.5
    return lambda w: (1 - share) * w + share * (mean_fake + (w - mean_real) @ transport.T)


def _batches(array, size=500):
    for start in range(0, len(array), size):
        yield array[start : start + size]


def _unit(images, pixel_range):
    lo, hi = pixel_range
    return (np.clip(images, lo, hi) - lo) / (hi - lo)


def measure_run(
    run_dir, judge, strengths, count, seed, map_kind="none", expansion=1.3, mapping_samples=20000, edit="class_mean"
):
    """`(rows, edited images by strength [n, H, W, C] on [0, 1])` for one run."""
    run = workdir.open_run(run_dir)
    model, pixel_range = run.model, run.config.pixel_range
    train, test = run.load_split("train"), run.load_split("test")

    def encode(images_uint8):
        return np.concatenate(
            [model.encode(tf.constant(data.to_pixel_range(b, pixel_range))).numpy() for b in _batches(images_uint8)]
        )

    train_codes, labels_train = encode(train.images), np.asarray(train.labels)
    num_classes = int(labels_train.max()) + 1
    means = probes.class_mean_codes(train_codes, labels_train)
    transport = editing.ClassTransport.fit(train_codes, labels_train) if edit == "class_transport" else None
    sources = np.asarray(test.labels[:count])
    targets = (sources + np.random.default_rng([seed, 3]).integers(1, num_classes, size=count)) % num_classes
    codes = encode(test.images[:count])
    real_unit = _unit(data.to_pixel_range(test.images, pixel_range), pixel_range)
    real_energy = laplacian_energy(real_unit).numpy()
    labels_test = np.asarray(test.labels)
    class_energy = np.array([real_energy[labels_test == c].mean() for c in range(num_classes)])
    rows, edits = [], {}
    fake_codes = None
    if map_kind in ("transported", "half_transported"):
        mapping = model.nets()[0]
        z = np.random.default_rng([seed, 5]).standard_normal((mapping_samples, run.config.latent_size))
        fake_codes = np.concatenate([mapping(tf.constant(b, tf.float32), training=False).numpy() for b in _batches(z)])
    before_decoding = latent_map(map_kind, train_codes.astype(np.float64), fake_codes, expansion)
    for strength in strengths:
        if transport is None:
            edited = codes + strength * (means[targets] - means[sources])
        else:
            edited = transport.apply(codes, sources, targets, strength)
        moved = before_decoding(edited)
        images = np.concatenate([model.decode(tf.constant(w, tf.float32)).numpy() for w in _batches(moved)])
        judged = features.classes_of_images(judge, np.clip(images, *pixel_range), pixel_range)
        energy = laplacian_energy(_unit(images, pixel_range)).numpy()
        rows.append(
            {
                "strength": strength,
                "success": float(np.mean(judged == targets)),
                "hf_ratio": float(energy.mean() / class_energy[targets].mean()),
            }
        )
        edits[strength] = _unit(images[:8], pixel_range)
    originals = _unit(data.to_pixel_range(test.images[:8], pixel_range), pixel_range)
    return rows, edits, originals


def main(argv):
    del argv
    judge = features.load_feature_extractor(FLAGS.feature_net)
    strengths = [float(s) for s in FLAGS.strengths]
    names = FLAGS.names or [pathlib.Path(w).name for w in FLAGS.workdirs]
    if len(names) != len(FLAGS.workdirs):
        raise app.UsageError("--names needs one label per --workdirs entry")
    grids_dir = pathlib.Path(FLAGS.grids_dir)
    grids_dir.mkdir(parents=True, exist_ok=True)
    rows, summary = [], {}
    for name, run_dir in zip(names, FLAGS.workdirs):
        run_rows, edits, originals = measure_run(
            run_dir,
            judge,
            strengths,
            FLAGS.images,
            FLAGS.seed,
            FLAGS.latent_map,
            FLAGS.expansion,
            FLAGS.mapping_samples,
            FLAGS.edit,
        )
        grid_name = f"{name}_{FLAGS.edit}" if FLAGS.latent_map == "none" else f"{name}_{FLAGS.latent_map}_{FLAGS.edit}"
        name = name if FLAGS.edit == "class_mean" else f"{name}_{FLAGS.edit}"
        name = name if FLAGS.latent_map == "none" else f"{name}_{FLAGS.latent_map}"
        for row in run_rows:
            rows.append({"run": name, **row})
            harness.print_row(rows[-1], COLUMNS)
        reached = [row for row in run_rows if row["success"] >= SUCCESS_LINE]
        summary[name] = (
            {"strength": reached[0]["strength"], "success": reached[0]["success"], "hf_ratio": reached[0]["hf_ratio"]}
            if reached
            else None
        )
        # Rows: the 8 test images, then their edits at each strength, one strength per row.
        grid = np.concatenate([originals] + [edits[s] for s in strengths])
        tiles = image_grids.grid(image_grids.to_uint8(grid, (0.0, 1.0)), columns=8)
        image_grids.write_png(grids_dir / f"{grid_name}_edit_strengths.png", image_grids.zoom(tiles, 3))
    harness.write_results(
        "edit_realism",
        {
            "workdirs": FLAGS.workdirs,
            "strengths": strengths,
            "images": FLAGS.images,
            "success_line": SUCCESS_LINE,
            "edit": FLAGS.edit,
            "latent_map": FLAGS.latent_map,
            "expansion": FLAGS.expansion if FLAGS.latent_map == "expanded" else None,
        },
        rows,
        COLUMNS,
        output=FLAGS.output,
        extra={"at_80": summary},
    )


if __name__ == "__main__":
    app.run(main)
