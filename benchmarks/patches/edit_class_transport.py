"""Scratch (not kept in the library): class-conditional Gaussian transport of edited codes.

    python benchmarks/patches/edit_class_transport.py RUN_DIR JUDGE.keras

Each test image's code moves from N(mean, cov) of its class's E(x) (training split) onto
N(mean, cov) of the target class's F(z), with F(z) labelled by a linear SVM on E(x)
(`probes.linear_svm_predict`); `cotA` decodes `(1 - A) w + A * transported`. Prints the
fraction of F(z) per probed class, then reach / HF per row as `edit_realism.py` counts them.
benchmarks/quality.md ("Clean edits?") quotes its run on the demo's model.
"""

import sys

import numpy as np
import tensorflow as tf

import alae_tf.startup  # noqa: F401
from alae_tf import data, features, probes, workdir
from alae_tf.metrics import distribution
from alae_tf.metrics.judge import laplacian_energy


def _batches(array, size=1000):
    for start in range(0, len(array), size):
        yield array[start : start + size]


def _stats(codes, share=0.05):
    """Mean and covariance (shrunk towards its mean variance) of codes `[n, d]`."""
    mean, cov = distribution.feature_stats(codes)
    return mean, (1 - share) * cov + share * np.trace(cov) / len(cov) * np.eye(len(cov))


def main(run_dir, judge_path, count=2000, mapping_samples=60000):
    judge = features.load_feature_extractor(judge_path)
    run = workdir.open_run(run_dir)
    model, pixel_range = run.model, run.config.pixel_range
    train, test = run.load_split("train"), run.load_split("test")
    lo, hi = pixel_range

    def encode(images):
        return np.concatenate(
            [model.encode(tf.constant(data.to_pixel_range(b, pixel_range))).numpy() for b in _batches(images)]
        ).astype(np.float64)

    def decode(codes):
        return np.concatenate([model.decode(tf.constant(b, tf.float32)).numpy() for b in _batches(codes)])

    def unit(images):
        return (np.clip(images, lo, hi) - lo) / (hi - lo)

    train_codes, train_labels = encode(train.images), np.asarray(train.labels)
    means = probes.class_mean_codes(train_codes, train_labels)
    sources = np.asarray(test.labels[:count])
    targets = (sources + np.random.default_rng([0, 3]).integers(1, 10, size=count)) % 10
    codes = encode(test.images[:count])
    real_energy = laplacian_energy(unit(data.to_pixel_range(test.images, pixel_range))).numpy()
    test_labels = np.asarray(test.labels)
    class_energy = np.array([real_energy[test_labels == c].mean() for c in range(10)])
    z = np.random.default_rng(1).standard_normal((mapping_samples, run.config.latent_size)).astype(np.float32)
    mapping = model.nets()[0]
    fake_codes = np.concatenate([mapping(tf.constant(b), training=False).numpy() for b in _batches(z)])
    fake_labels = np.asarray(probes.linear_svm_predict(train_codes, train_labels, fake_codes.astype(np.float64)))
    print("F(z) by probed class:", np.round(np.bincount(fake_labels, minlength=10) / len(fake_labels), 3))
    real_stats = [_stats(train_codes[train_labels == c]) for c in range(10)]
    fake_stats = [_stats(fake_codes[fake_labels == c]) for c in range(10)]
    maps = {}
    for s in range(10):
        root = distribution.sqrtm_psd(real_stats[s][1])
        inverse_root = np.linalg.pinv(root, hermitian=True)
        for t in range(10):
            maps[s, t] = inverse_root @ distribution.sqrtm_psd(root @ fake_stats[t][1] @ root) @ inverse_root
    transported = np.stack(
        [fake_stats[t][0] + maps[s, t] @ (w - real_stats[s][0]) for w, s, t in zip(codes, sources, targets)]
    )
    rows = [("reconstruction", codes, sources)]
    rows += [(f"cot{a}", (1 - a) * codes + a * transported, targets) for a in (0.5, 0.75, 1.0)]
    rows += [(f"class-mean s={s}", codes + s * (means[targets] - means[sources]), targets) for s in (1.0, 1.5)]
    for name, moved, wanted in rows:
        images = decode(moved)
        judged = features.classes_of_images(judge, np.clip(images, lo, hi), pixel_range)
        hf = laplacian_energy(unit(images)).numpy().mean() / class_energy[wanted].mean()
        print(f"{name:18s} judged as intended {np.mean(judged == wanted):.3f}  HF {hf:.2f}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
