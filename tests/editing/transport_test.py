"""ClassTransport on synthetic Gaussian classes where the transported distribution is known."""

import numpy as np
import pytest

from alae_tf.editing import ClassTransport, EditingError, class_mean_directions
from alae_tf.editing.transport import ledoit_wolf

LATENT = 6


def _random_covariance(rng, scale):
    a = rng.normal(size=(LATENT, LATENT))
    return scale * (a @ a.T / LATENT + 0.1 * np.eye(LATENT))


def _classes(n=20000, seed=0):
    """Three Gaussian classes with distinct means and full covariances: `(w, labels, means, covariances)`."""
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=4.0, size=(3, LATENT))
    covariances = np.stack([_random_covariance(rng, s) for s in (1.0, 0.3, 2.0)])
    labels = rng.integers(0, 3, n)
    w = np.stack([rng.multivariate_normal(means[c], covariances[c]) for c in labels])
    return w, labels, means, covariances


def test_transport_carries_the_source_class_onto_the_target_gaussian():
    w, labels, means, covariances = _classes()
    transport = ClassTransport.fit(w, labels, provenance={"nets": "ema"})
    np.testing.assert_allclose(transport.means, means, atol=0.1)
    source = w[labels == 0]
    moved = transport.apply(source, 0, 2)
    np.testing.assert_allclose(moved.mean(axis=0), means[2], atol=0.1)
    np.testing.assert_allclose(np.cov(moved, rowvar=False), covariances[2], atol=0.25)
    # A class-mean edit only translates: it keeps the source's covariance, the wrong one.
    (direction,) = class_mean_directions(w, labels, 0, 2)
    translated_cov = np.cov(source + direction.vector, rowvar=False)
    assert np.abs(translated_cov - covariances[2]).max() > 1.0
    assert transport.provenance == {"nets": "ema", "method": "class_transport"}


def test_the_map_is_the_least_displacement_one():
    """A_st is symmetric positive definite (a gradient of a convex function: the optimal map)."""
    w, labels, _, _ = _classes(n=3000)
    transport = ClassTransport.fit(w, labels)
    a = transport.matrix(1, 2)
    np.testing.assert_allclose(a, a.T, atol=1e-12)
    assert np.linalg.eigvalsh(a).min() > 0
    # It carries C_s onto C_t: A C_s A = C_t (to the ridge RIDGE adds).
    np.testing.assert_allclose(a @ transport.covariances[1] @ a, transport.covariances[2], atol=1e-4)
    np.testing.assert_allclose(transport.matrix(2, 2), np.eye(LATENT))


def test_strength_interpolates_and_means_move_like_a_class_mean_edit():
    w, labels, _, _ = _classes(n=3000)
    transport = ClassTransport.fit(w, labels)
    codes = w[:50]
    sources, targets = labels[:50], (labels[:50] + 1) % 3
    np.testing.assert_array_equal(transport.apply(codes, sources, targets, 0.0), codes)
    full = transport.apply(codes, sources, targets, 1.0)
    np.testing.assert_allclose(transport.apply(codes, sources, targets, 0.5), (codes + full) / 2, atol=1e-12)
    # The source class's mean goes where a class-mean edit of the same strength takes it.
    at_mean = transport.apply(transport.means[[0]], 0, 1, 1.5)
    np.testing.assert_allclose(at_mean[0], transport.means[0] + 1.5 * (transport.means[1] - transport.means[0]))
    # Each row used its own pair.
    one = transport.apply(codes[3:4], sources[3], targets[3])
    np.testing.assert_allclose(one[0], full[3])


def test_classify_finds_the_source_class_of_unlabelled_codes():
    w, labels, _, _ = _classes(n=4000)
    transport = ClassTransport.fit(w[:3000], labels[:3000])
    assert np.mean(transport.classify(w[3000:]) == labels[3000:]) > 0.97
    codes = w[3000:3010]
    np.testing.assert_allclose(
        transport.apply(codes, None, 2), transport.apply(codes, transport.classify(codes), 2), atol=1e-12
    )


def test_few_codes_per_class_shrink_the_covariance_and_keep_edits_bounded():
    """Fewer codes per class than latent numbers: the sample covariance is singular, Ledoit-Wolf's is not."""
    rng = np.random.default_rng(3)
    latent, per_class = 40, 12
    labels = np.repeat([0, 1], per_class)
    w = rng.normal(size=(2 * per_class, latent)) + 5.0 * labels[:, None]
    transport = ClassTransport.fit(w, labels)
    assert np.linalg.eigvalsh(transport.covariances[0]).min() > 0.05  # the sample one has 28 zero eigenvalues
    unseen = rng.normal(size=(50, latent))  # class 0's distribution, not its 12 codes
    moved = transport.apply(unseen, 0, 1)
    spread = np.linalg.norm(moved - transport.means[1], axis=1)
    assert spread.max() < 3 * np.sqrt(latent)  # a few class-1 radii, not the 1/sqrt(ridge) blow-up
    many = rng.normal(size=(20000, 3)) @ np.diag([1.0, 2.0, 0.5])  # many codes: the sample covariance
    np.testing.assert_allclose(ledoit_wolf(many - many.mean(0)), np.cov(many, rowvar=False), atol=0.03)


def test_save_load_round_trip(tmp_path):
    w, labels, _, _ = _classes(n=500)
    transport = ClassTransport.fit(w, labels, provenance={"images_seen": 7})
    loaded = ClassTransport.load(transport.save(tmp_path / "t.npz"))
    np.testing.assert_array_equal(loaded.covariances, transport.covariances)
    np.testing.assert_array_equal(loaded.counts, transport.counts)
    assert loaded.provenance == {"images_seen": 7, "method": "class_transport"}
    np.testing.assert_allclose(loaded.apply(w[:5], 0, 1), transport.apply(w[:5], 0, 1))
    (tmp_path / "bad.npz").write_bytes(b"not a file")
    with pytest.raises(EditingError, match="is corrupt or not a saved class transport"):
        ClassTransport.load(tmp_path / "bad.npz")


def test_errors_name_the_problem():
    w, labels, _, _ = _classes(n=200)
    with pytest.raises(EditingError, match="labels must be 200 integers"):
        ClassTransport.fit(w, labels[:-1])
    with pytest.raises(EditingError, match="class 3 has a single code"):
        ClassTransport.fit(np.concatenate([w, w[:1]]), np.concatenate([labels, [3]]))
    sparse = ClassTransport.fit(w, np.where(labels == 1, 4, labels))  # classes 1-3 have no codes
    with pytest.raises(EditingError, match=r"class 1 has no codes; fitted classes: \[0, 2, 4\]"):
        sparse.apply(w[:2], 0, 1)
    with pytest.raises(EditingError, match=r"codes must be \[B, 6\]"):
        sparse.apply(w[:2, :3], 0, 2)
    with pytest.raises(EditingError, match="must agree"):
        ClassTransport(np.zeros((2, 3)), np.zeros((2, 3, 4)), [1, 1])
