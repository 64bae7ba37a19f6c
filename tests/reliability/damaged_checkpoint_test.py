"""A damaged newest checkpoint: the run says so, sets it aside and resumes from the newest intact one."""

import json
import logging

import pytest

from alae_tf.checkpoint import DamagedCheckpointError
from alae_tf.workdir import open_run
from tests.conftest import needs_fashion_mnist
from tests.reliability.conftest import assert_same_weights, checkpoints, train_tiny, weights_of

pytestmark = needs_fashion_mnist


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """An uninterrupted run of 160 images (10 steps)."""
    workdir = tmp_path_factory.mktemp("straight")
    train_tiny(workdir, 160)
    return weights_of(workdir)


def tear(folder):
    """Cut the checkpoint's data file in half, as a full disk or a crashed copy leaves it."""
    data = next(folder.glob("ckpt.data-*"))
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])


def flip_bits(folder):
    data = next(folder.glob("ckpt.data-*"))
    raw = bytearray(data.read_bytes())
    for offset in range(len(raw) // 3, len(raw) // 3 + 64):
        raw[offset] ^= 0xFF
    data.write_bytes(bytes(raw))


def lose_meta(folder):
    (folder / "meta.json").unlink()


def cut_meta(folder):
    meta = folder / "meta.json"
    meta.write_text(meta.read_text()[:40])


def lie_in_meta(folder):
    meta = json.loads((folder / "meta.json").read_text())
    meta["images_seen"] += 16
    (folder / "meta.json").write_text(json.dumps(meta))


@pytest.mark.parametrize(
    "damage, reason",
    [
        (tear, "weights do not restore"),
        (flip_bits, "weights do not restore"),
        (lose_meta, "meta.json is missing"),
        (cut_meta, "meta.json is unreadable"),
        (lie_in_meta, "disagrees"),
    ],
    ids=["torn", "bit_flipped", "no_meta", "cut_meta", "inconsistent_meta"],
)
def test_resumes_from_the_newest_intact_checkpoint_and_ends_equal(straight, tmp_path, caplog, damage, reason):
    train_tiny(tmp_path, 96)  # checkpoints at steps 2, 4, 6; keeps all three
    assert checkpoints(tmp_path) == ["step-000000002", "step-000000004", "step-000000006"]
    newest = tmp_path / "checkpoints" / "step-000000006"
    damage(newest)
    with caplog.at_level(logging.WARNING):
        train_tiny(tmp_path, 160)
    # Named in one line with the reason, moved aside, not deleted; the run went on from step 4.
    warnings = [r.getMessage() for r in caplog.records if "is damaged" in r.getMessage()]
    assert len(warnings) == 1 and str(newest) in warnings[0] and reason in warnings[0], warnings
    assert "moved to" in warnings[0]
    assert (tmp_path / "checkpoints" / "damaged" / "step-000000006").is_dir()
    assert_same_weights(weights_of(tmp_path), straight)
    # keep=3 counts intact checkpoints: the set-aside one does not push an intact one out.
    assert checkpoints(tmp_path) == ["step-000000006", "step-000000008", "step-000000010"]


def test_readers_skip_a_damaged_checkpoint_without_moving_it(tmp_path, caplog):
    train_tiny(tmp_path, 64)
    tear(tmp_path / "checkpoints" / "step-000000004")
    with caplog.at_level(logging.WARNING):
        run = open_run(tmp_path)
    assert run.meta["step"] == 2 and int(run.model.step.numpy()) == 2
    assert any("skipped" in r.getMessage() for r in caplog.records)
    assert checkpoints(tmp_path) == ["step-000000002", "step-000000004"]  # a reader changes nothing


def test_every_checkpoint_damaged_is_an_error_not_a_fresh_start(tmp_path):
    train_tiny(tmp_path, 64)
    for name in checkpoints(tmp_path):
        tear(tmp_path / "checkpoints" / name)
    for _ in range(2):  # also on the rerun, when they are already set aside
        with pytest.raises(DamagedCheckpointError, match="no intact checkpoint"):
            train_tiny(tmp_path, 96)
    assert sorted(p.name for p in (tmp_path / "checkpoints" / "damaged").iterdir()) == [
        "step-000000002",
        "step-000000004",
    ]
