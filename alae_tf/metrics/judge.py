"""Metrics a classifier of the dataset judges, and the samples' high-frequency energy.

The judge is the context's feature network when it has a class head (the project's
classifier, `alae_tf.features.classifier`): its features of real images, samples and
reconstructions are computed once per context (`EvalContext.image_features`) and its head
turns them into classes, so these metrics add no pass over the images beyond FD's.

- `recon_class`: does G(E(x)) keep the class of x? (`recon_class_kept`, and the judge's own
  accuracy on the real images beside it, since a reconstruction cannot be judged better
  than the judge judges the original.)
- `class_coverage`: the judge's class histogram of samples G(F(z)): a generator that drops
  a class shows it as a fraction near zero.
- `hf_ratio`: mean squared 3x3 Laplacian of samples (and reconstructions) over that of the
  real images: speckle reads above 1, blur below.

The class-mean edit the judge scores (`class_mean_edit`) is with the other class edits, in
`alae_tf.metrics.editing`.
"""

import numpy as np
import tensorflow as tf

from alae_tf.features import classes_from_features
from alae_tf.metrics.registry import register

# The 4-neighbour discrete Laplacian.
_LAPLACIAN = np.array([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]], np.float32)


def judged_classes(ctx, which):
    """The judge's classes `[n]` (int64) of one of `IMAGE_SETS` ("real", "generated", "reconstructed")."""
    return classes_from_features(ctx.require_judge(), ctx.image_features(which))


def eval_labels(ctx):
    """The labels `[n]` (int64) of `ctx.eval_images`, or a ValueError when the split has none."""
    if ctx.test_labels is None:
        raise ValueError("this metric needs labels; the evaluation split has none")
    return np.asarray(ctx.test_labels[: len(ctx.eval_images)], np.int64)


@register("recon_class", needs=("features", "labels"))
def recon_class(ctx):
    """The judge's class of G(E(x)) against the label of x, over the evaluation images.

    `recon_class_kept`: fraction of reconstructions judged as their original's label;
    `judge_accuracy_real`: the judge's accuracy on the originals themselves;
    `recon_class_kept_relative`: the first over the second; `recon_class_agreement`: the
    fraction where the judge gives the reconstruction the class it gives the original.
    Per class (lists indexed by label; None for a class absent from the labels):
    `recon_class_kept_per_class`, `judge_accuracy_real_per_class`, and
    `recon_class_lost_to`: the class a label's lost reconstructions are judged as most often.
    The bar reads the totals; these say which classes a model loses, and to what.
    """
    labels = eval_labels(ctx)
    real, reconstructed = judged_classes(ctx, "real"), judged_classes(ctx, "reconstructed")
    kept, accuracy = float(np.mean(reconstructed == labels)), float(np.mean(real == labels))
    kept_per_class, accuracy_per_class, lost_to = [], [], []
    for label in range(ctx.require_judge().num_classes):
        mine = labels == label
        lost = reconstructed[mine & (reconstructed != labels)]
        kept_per_class.append(float(np.mean(reconstructed[mine] == label)) if mine.any() else None)
        accuracy_per_class.append(float(np.mean(real[mine] == label)) if mine.any() else None)
        lost_to.append(int(np.bincount(lost).argmax()) if len(lost) else None)
    return {
        "recon_class_kept": kept,
        "judge_accuracy_real": accuracy,
        "recon_class_kept_relative": kept / accuracy if accuracy > 0 else 0.0,
        "recon_class_agreement": float(np.mean(reconstructed == real)),
        "recon_class_samples": len(labels),
        "recon_class_kept_per_class": kept_per_class,
        "judge_accuracy_real_per_class": accuracy_per_class,
        "recon_class_lost_to": lost_to,
    }


@register("class_coverage", needs=("features",))
def class_coverage(ctx):
    """The judge's class histogram of `num_samples` samples G(F(z)).

    `sample_class_fractions` (one per class, summing to 1), its min and max, and
    `sample_class_entropy_ratio` (entropy over log(classes): 1 for a uniform histogram).
    """
    judge = ctx.require_judge()
    classes = judged_classes(ctx, "generated")
    counts = np.bincount(classes, minlength=judge.num_classes).astype(np.float64)
    fractions = counts / counts.sum()
    nonzero = fractions[fractions > 0]
    entropy = float(-np.sum(nonzero * np.log(nonzero)))
    return {
        "sample_class_fractions": [float(f) for f in fractions],
        "sample_class_min_fraction": float(fractions.min()),
        "sample_class_max_fraction": float(fractions.max()),
        "sample_class_entropy_ratio": entropy / float(np.log(judge.num_classes)),
        "class_coverage_samples": int(counts.sum()),
    }


def laplacian_energy(images):
    """Mean squared 3x3 Laplacian `[B]` of float images `[B, H, W, C]` (valid positions, per channel)."""
    images = tf.cast(images, tf.float32)
    channels = images.shape[-1]
    kernel = tf.constant(np.tile(_LAPLACIAN[:, :, None, None], (1, 1, channels, 1)))
    response = tf.nn.depthwise_conv2d(images, kernel, strides=(1, 1, 1, 1), padding="VALID")
    return tf.reduce_mean(tf.square(response), axis=[1, 2, 3])


def _mean_energy(ctx, batches):
    lo, hi = ctx.pixel_range
    total, count = 0.0, 0
    for images in batches:
        energy = laplacian_energy((ctx.clip(images) - lo) / (hi - lo))  # on a [0, 1] scale
        total += float(tf.reduce_sum(energy))
        count += int(energy.shape[0])
    return total / count


@register("hf_ratio")
def hf_ratio(ctx):
    """High-frequency energy of samples and reconstructions relative to the real images.

    Mean squared 3x3 Laplacian on a [0, 1] scale of clipped images: `sample_hf_ratio` for
    `num_samples` samples G(F(z)) (z stream 0, as FD), `recon_hf_ratio` for G(E(x)) of the
    evaluation images, both over that of the evaluation images (`real_hf_energy`).
    """
    real = _mean_energy(ctx, ctx.batches(ctx.eval_images))
    samples = _mean_energy(ctx, (ctx._generate_fn(z) for z in ctx.latents(ctx.num_samples, stream=0)))
    reconstructions = _mean_energy(ctx, (ctx._reconstruct_fn(x) for x in ctx.batches(ctx.eval_images)))
    return {"sample_hf_ratio": samples / real, "recon_hf_ratio": reconstructions / real, "real_hf_energy": real}
