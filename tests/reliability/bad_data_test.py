"""Bad data at scale: a few images that do not decode among many are skipped, counted and named;
too many, or any with bad_images="fail", are an error that names them.

Every set is built here, from 8x8 PNGs whose pixel value says which class (or label) they
belong to, so label alignment can be checked image by image.
"""

import io
import json
import logging
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from alae_tf.data import DatasetError, ImageSet, load_images, load_split, write_tfrecords
from tests.conftest import REPO, permissions_hold

SIDE = 8
# Pixel value of an image of class/label k: far apart, so resizing or rounding cannot blur them.
VALUES = (30, 130, 230)


def png_bytes(value: int) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.full((SIDE, SIDE), value, np.uint8)).save(out, format="PNG")
    return out.getvalue()


def truncated_png() -> bytes:
    data = png_bytes(7)
    return data[: len(data) // 2]  # the header is fine: only the full decode notices


def random_bytes(seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, 300, dtype=np.uint8).tobytes()


def bad_warnings(caplog) -> list[str]:
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    return [m for m in messages if "do not decode" in m]


def class_folder(root, per_class: int, bad: dict[str, bytes]):
    """`root/train/{cat,dog}/NNN.png`, per_class each, plus `bad` (relative path -> bytes)."""
    for label, cls in enumerate(("cat", "dog")):
        os.makedirs(root / "train" / cls)
        for i in range(per_class):
            (root / "train" / cls / f"{i:03d}.png").write_bytes(png_bytes(VALUES[label]))
    for relative, data in bad.items():
        (root / "train" / relative).write_bytes(data)
    return [str(root / "train" / relative) for relative in sorted(bad)]


def test_a_few_bad_files_in_a_folder_are_skipped_counted_and_named(tmp_path, caplog):
    # Bad files inside both classes, sorting first, middle and last, so a label shift would show.
    bad = class_folder(tmp_path, 100, {"cat/000_truncated.png": truncated_png(), "dog/050_random.jpg": random_bytes()})
    with caplog.at_level(logging.WARNING):
        image_set = load_images(f"folder:{tmp_path}", "train", resolution=SIDE)
    assert image_set.images.shape == (200, SIDE, SIDE, 1)
    assert [name for name, _ in image_set.skipped] == bad
    assert all(reason for _, reason in image_set.skipped)
    (warning,) = bad_warnings(caplog)
    assert "skipped 2 of 202 images" in warning
    assert "000_truncated.png" in warning and "050_random.jpg" in warning
    # Labels stay with their images: each kept image's pixel value is its class's.
    assert image_set.class_names == ("cat", "dog")
    np.testing.assert_array_equal(np.bincount(image_set.labels), [100, 100])
    np.testing.assert_array_equal(image_set.images[:, 0, 0, 0], np.array(VALUES)[image_set.labels])


def test_a_clean_folder_skips_nothing_and_warns_nothing(tmp_path, caplog):
    class_folder(tmp_path, 3, {})
    with caplog.at_level(logging.WARNING):
        image_set = load_images(f"folder:{tmp_path}", "train", resolution=SIDE)
    assert len(image_set) == 6 and image_set.skipped == () and not bad_warnings(caplog)


def test_fail_policy_stops_at_the_first_bad_file(tmp_path):
    class_folder(tmp_path, 100, {"dog/zz.jpg": random_bytes(), "cat/050.png": truncated_png()})
    with pytest.raises(DatasetError, match=r"cat/050\.png is not a readable PNG/JPEG image"):
        load_images(f"folder:{tmp_path}", "train", resolution=SIDE, bad_images="fail")


def test_more_bad_files_than_the_limit_are_refused(tmp_path):
    bad = {f"cat/bad{i}.png": truncated_png() for i in range(5)}
    bad |= {f"dog/bad{i}.jpg": random_bytes(i) for i in range(5)}
    class_folder(tmp_path, 45, bad)  # 10 bad of 100: 10 % > 1 %
    with pytest.raises(DatasetError) as info:
        load_images(f"folder:{tmp_path}", "train", resolution=SIDE)
    message = str(info.value)
    assert "10 of 100 images" in message and "(10 %)" in message and "more than the 1 % allowed" in message
    assert "cat/bad0.png: cannot identify image file" in message  # a few named, with why
    assert "Fix or delete these files, or raise max_bad_fraction" in message
    # Raising the limit is the way on; the kept labels stay aligned.
    image_set = load_images(f"folder:{tmp_path}", "train", resolution=SIDE, max_bad_fraction=0.1)
    assert len(image_set) == 90 and len(image_set.skipped) == 10
    np.testing.assert_array_equal(image_set.images[:, 0, 0, 0], np.array(VALUES)[image_set.labels])


def test_a_folder_where_nothing_decodes_keeps_the_decode_error(tmp_path):
    for i in range(3):
        (tmp_path / f"{i}.png").write_bytes(random_bytes(i))
    # Even with no limit: there is nothing to train on, and the first file's error says why.
    with pytest.raises(DatasetError, match=r"0\.png is not a readable PNG/JPEG image"):
        load_images(f"folder:{tmp_path}", resolution=SIDE, max_bad_fraction=1.0)


def test_files_that_cannot_be_opened_count_as_bad(tmp_path):
    class_folder(tmp_path, 100, {})
    # A dangling link is listed like a file but cannot be opened, as root or not.
    os.symlink(tmp_path / "gone.png", tmp_path / "train" / "cat" / "dangling.png")
    image_set = load_images(f"folder:{tmp_path}", "train", resolution=SIDE)
    assert len(image_set) == 200
    assert image_set.skipped == ((str(tmp_path / "train" / "cat" / "dangling.png"), "No such file or directory"),)
    with pytest.raises(DatasetError, match=r"cannot read .*dangling\.png"):
        load_images(f"folder:{tmp_path}", "train", resolution=SIDE, bad_images="fail")


def test_files_without_read_permission_count_as_bad(tmp_path):
    class_folder(tmp_path, 100, {"dog/locked.png": png_bytes(VALUES[1])})
    os.chmod(tmp_path / "train" / "dog" / "locked.png", 0)
    # In a child where permissions hold (root reads any file unless it drops the capabilities that allow it).
    code = (
        "import json, sys; from alae_tf.data import load_images; "
        f"s = load_images('folder:{tmp_path}', 'train', resolution={SIDE}); "
        "print(json.dumps([len(s), [list(x) for x in s.skipped]]))"
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(REPO))
    result = subprocess.run(
        permissions_hold([sys.executable, "-c", code]), capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    count, skipped = json.loads(result.stdout.strip().splitlines()[-1])
    assert count == 200 and skipped == [[str(tmp_path / "train" / "dog" / "locked.png"), "Permission denied"]]


def write_records(path, items):
    """One tf.train.Example per `(image bytes, label)`, as write_tfrecords lays them out."""
    with tf.io.TFRecordWriter(str(path)) as writer:
        for data, label in items:
            feature = {
                "image": tf.train.Feature(bytes_list=tf.train.BytesList(value=[data])),
                "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
            }
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())


def tfrecord_set(tmp_path, good: int, bad_every: int, bad: int) -> str:
    """`good` labelled images: the first half by write_tfrecords, the rest in a second file with
    `bad` records of corrupt bytes placed every `bad_every` records. Returns the spec."""
    labels = np.arange(good) % 3
    images = np.array(VALUES, np.uint8)[labels][:, None, None].repeat(SIDE, 1).repeat(SIDE, 2)
    half = good // 2
    write_tfrecords(str(tmp_path / "part-0.tfrecord"), images[:half], labels[:half])
    items = [(png_bytes(VALUES[k]), int(k)) for k in labels[half:]]
    for i in range(bad):
        items.insert(i * bad_every, (truncated_png() if i % 2 else random_bytes(i), i % 3))
    write_records(tmp_path / "part-1.tfrecord", items)
    return f"tfrecord:{tmp_path}/part-*.tfrecord"


def test_a_few_bad_records_are_skipped_with_their_labels(tmp_path, caplog):
    spec = tfrecord_set(tmp_path, good=200, bad_every=40, bad=2)
    with caplog.at_level(logging.WARNING):
        image_set = load_images(spec, resolution=SIDE)
    assert image_set.images.shape == (200, SIDE, SIDE, 1)
    part1 = str(tmp_path / "part-1.tfrecord")
    assert [name for name, _ in image_set.skipped] == [f"{part1} record 0", f"{part1} record 40"]
    (warning,) = bad_warnings(caplog)
    assert "skipped 2 of 202 images" in warning and "part-1.tfrecord record 40" in warning
    np.testing.assert_array_equal(image_set.labels, np.arange(200) % 3)
    np.testing.assert_array_equal(image_set.images[:, 0, 0, 0], np.array(VALUES)[image_set.labels])


def test_bad_records_fail_or_over_the_limit_are_refused(tmp_path):
    spec = tfrecord_set(tmp_path, good=90, bad_every=5, bad=10)
    with pytest.raises(DatasetError, match=r"part-1\.tfrecord record 0 is not a readable PNG/JPEG"):
        load_images(spec, resolution=SIDE, bad_images="fail")
    with pytest.raises(DatasetError, match=r"10 of 100 images .*\(10 %\).*more than the 1 % allowed"):
        load_images(spec, resolution=SIDE)
    image_set = load_images(spec, resolution=SIDE, max_bad_fraction=0.1)
    assert len(image_set) == 90 and len(image_set.skipped) == 10
    np.testing.assert_array_equal(image_set.labels, np.arange(90) % 3)


def test_options_are_checked_and_pass_through_load_split(tmp_path):
    class_folder(tmp_path, 100, {"cat/x.png": truncated_png()})
    spec = f"folder:{tmp_path}"
    with pytest.raises(DatasetError, match="bad_images='ignore' is not valid"):
        load_images(spec, "train", resolution=SIDE, bad_images="ignore")
    for fraction in (-0.1, 1.5, "1%", True):
        with pytest.raises(DatasetError, match="max_bad_fraction=.* is not valid"):
            load_images(spec, "train", resolution=SIDE, max_bad_fraction=fraction)
    assert len(load_split(spec, "train", (SIDE, SIDE, 1)).skipped) == 1
    with pytest.raises(DatasetError, match=r"cat/x\.png"):
        load_split(spec, "train", (SIDE, SIDE, 1), bad_images="fail")
    with pytest.raises(DatasetError, match="1 of 201 images"):
        load_split(spec, "train", (SIDE, SIDE, 1), max_bad_fraction=0.0)


def test_image_set_keeps_its_positional_form():
    image_set = ImageSet(np.zeros((1, 1, 1, 1), np.uint8), None, "x", ("a",))
    assert image_set.class_names == ("a",) and image_set.skipped == ()
