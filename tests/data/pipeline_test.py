"""training_batches / eval_batches: determinism, exact resume, epochs, flips, pixel ranges."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from alae_tf.data import DatasetError, eval_batches, from_pixel_range, to_pixel_range, training_batches

N = 10


def tagged_images(n=N):
    """Image i is the row [i, 200, 255]: its id is readable, and so is a left-right mirror."""
    images = np.zeros((n, 1, 3, 1), np.uint8)
    images[:, 0, 0, 0], images[:, 0, 1, 0], images[:, 0, 2, 0] = np.arange(n), 200, 255
    return images


def decode(batch):
    """(ids, flipped) of a batch made with pixel_range (0, 255)."""
    row = np.rint(np.asarray(batch)[:, 0, :, 0]).astype(int)
    flipped = row[:, 0] == 255
    return np.where(flipped, row[:, 2], row[:, 0]), flipped


def take(ds, k):
    return [b for b in itertools.islice(ds.as_numpy_iterator(), k)]


def stream(seed, start=0, batch_size=4, k=8, flip=False):
    batches = take(
        training_batches(
            tagged_images(), batch_size=batch_size, seed=seed, start_image=start, pixel_range=(0, 255), flip=flip
        ),
        k,
    )
    ids, flips = zip(*(decode(b) for b in batches))
    return np.concatenate(ids), np.concatenate(flips)


def test_shapes_and_dtype():
    ds = training_batches(tagged_images(), batch_size=4, seed=0)
    assert ds.element_spec.shape.as_list() == [4, 1, 3, 1]
    assert ds.element_spec.dtype == tf.float32


def test_same_seed_and_start_give_identical_batches():
    for start in (0, 7):
        a = take(training_batches(tagged_images(), batch_size=4, seed=3, start_image=start), 6)
        b = take(training_batches(tagged_images(), batch_size=4, seed=3, start_image=start), 6)
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize("start", [8, 12, 3, 25])  # batch bound, mid-epoch, odd, later epoch
def test_resume_from_any_position_continues_the_same_stream(start):
    full, _ = stream(seed=5, k=12)
    resumed, _ = stream(seed=5, start=start, k=4)
    np.testing.assert_array_equal(resumed, full[start : start + 16])


def test_every_image_once_per_epoch_and_epochs_differ():
    ids, _ = stream(seed=1, k=10)  # 40 positions = 4 epochs of 10
    epochs = ids.reshape(4, N)
    for order in epochs:
        np.testing.assert_array_equal(np.sort(order), np.arange(N))
    assert len({tuple(order) for order in epochs}) > 1


def test_order_is_the_documented_stateless_permutation():
    ids, _ = stream(seed=9, k=5)  # two epochs
    for e in range(2):
        key = tf.constant([9, e], tf.int64)
        perm = tf.argsort(tf.random.stateless_uniform([N], key, alg="philox"), stable=True)
        np.testing.assert_array_equal(ids[e * N : (e + 1) * N], perm.numpy())


def test_different_seeds_give_different_orders():
    assert not np.array_equal(stream(seed=0)[0], stream(seed=1)[0])


def test_labels_follow_their_images():
    labels = np.arange(N) * 3 + 1
    ds = training_batches(tagged_images(), batch_size=4, seed=2, pixel_range=(0, 255), labels=labels)
    for x, y in take(ds, 5):
        np.testing.assert_array_equal(y, decode(x)[0] * 3 + 1)
        assert y.dtype == np.int64


def test_flip_is_deterministic_resumable_and_keeps_the_order():
    ids, flips = stream(seed=4, k=10, flip=True)
    again_ids, again_flips = stream(seed=4, k=10, flip=True)
    np.testing.assert_array_equal(ids, again_ids)
    np.testing.assert_array_equal(flips, again_flips)
    assert 0 < flips.sum() < len(flips)  # both mirrored and unmirrored images appear
    np.testing.assert_array_equal(ids, stream(seed=4, k=10)[0])  # flip leaves the order alone
    resumed_ids, resumed_flips = stream(seed=4, start=13, k=4, flip=True)
    np.testing.assert_array_equal(resumed_ids, ids[13:29])
    np.testing.assert_array_equal(resumed_flips, flips[13:29])


@pytest.mark.parametrize("pixel_range", [(0.0, 1.0), (-1.0, 1.0), (-0.7, 3.3), (1.0, -1.0)])
def test_pixel_range_exact_at_ends_and_round_trips(pixel_range):
    values = np.arange(256, dtype=np.uint8)
    mapped = to_pixel_range(values, pixel_range).numpy()
    assert mapped.dtype == np.float32
    assert mapped[0] == np.float32(pixel_range[0]) and mapped[255] == np.float32(pixel_range[1])
    np.testing.assert_allclose(mapped, np.linspace(*pixel_range, 256), atol=1e-6)
    np.testing.assert_array_equal(from_pixel_range(mapped, pixel_range).numpy(), values)
    # Out-of-range values clip instead of wrapping around.
    lo, hi = pixel_range
    outside = np.array([lo - 2 * (hi - lo), hi + 2 * (hi - lo)], np.float32)
    np.testing.assert_array_equal(from_pixel_range(outside, pixel_range).numpy(), [0, 255])


def test_training_batches_use_the_pixel_range():
    images = np.zeros((4, 2, 2, 1), np.uint8)
    images[:2] = 255
    (x,) = take(training_batches(images, batch_size=4, seed=0, pixel_range=(-1, 1)), 1)
    assert sorted(np.unique(x)) == [-1.0, 1.0]


def test_eval_batches_cover_everything_in_order():
    images = tagged_images()
    batches = take(eval_batches(images, batch_size=4, pixel_range=(0, 255)), 100)
    assert [len(b) for b in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate(batches), images.astype(np.float32))
    with_labels = take(eval_batches(images, batch_size=6, labels=np.arange(N)), 100)
    np.testing.assert_array_equal(np.concatenate([y for _, y in with_labels]), np.arange(N))
    np.testing.assert_allclose(with_labels[0][0], images[:6] / 255.0, atol=1e-7)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(batch_size=0), "batch_size"),
        (dict(start_image=-1), "start_image"),
        (dict(pixel_range=(1, 1)), "pixel_range"),
        (dict(labels=np.arange(3)), "labels"),
    ],
)
def test_bad_arguments(kwargs, match):
    args = dict(batch_size=4, seed=0) | kwargs
    with pytest.raises(DatasetError, match=match):
        training_batches(tagged_images(), **args)


def test_tensor_input_gives_the_same_stream():
    from_tensor = take(training_batches(tf.constant(tagged_images()), batch_size=4, seed=6), 4)
    from_numpy = take(training_batches(tagged_images(), batch_size=4, seed=6), 4)
    np.testing.assert_array_equal(np.stack(from_tensor), np.stack(from_numpy))


def test_images_must_be_uint8_nhwc():
    for images in (
        np.zeros((3, 2, 2, 1), np.float32),
        np.zeros((3, 2, 2), np.uint8),
        np.zeros((0, 2, 2, 1), np.uint8),
        tf.zeros((3, 2, 2, 1), tf.float32),
    ):
        with pytest.raises(DatasetError, match="uint8"):
            training_batches(images, batch_size=1, seed=0)
        with pytest.raises(DatasetError, match="uint8"):
            eval_batches(images, batch_size=1)
