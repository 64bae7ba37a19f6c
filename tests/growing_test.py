"""GrowthSchedule: level starts, cosine fade-in, per-level batch sizes and learning rates."""

import math

import pytest

from alae_tf import configs
from alae_tf.growing import GrowthSchedule, cosine_fade, per_level

# 1000 images per level; batch 128 at levels 0-1, 64 from level 2 (the list is shorter than the levels).
SCHEDULE = GrowthSchedule(images_per_level=1000, max_level=3, batch_sizes=(128, 128, 64), learning_rates=(0.1, 0.2))


def test_levels_start_on_whole_batches():
    # 1000 images = 7.8 batches of 128 -> 8 batches = 1024; at batch 64, 1000 -> 1024 as well.
    assert SCHEDULE.level_starts == (0, 1024, 2048, 3072)
    assert [SCHEDULE.level_end(k) for k in range(4)] == [1024, 2048, 3072, None]
    assert [SCHEDULE.level_at(n) for n in (0, 1023, 1024, 2047, 2048, 3071, 3072, 10**9)] == [0, 0, 1, 1, 2, 2, 3, 3]


def test_per_level_lists_hold_their_last_value():
    assert [SCHEDULE.batch_size(k) for k in range(4)] == [128, 128, 64, 64]
    assert [SCHEDULE.learning_rate(k) for k in range(4)] == [0.1, 0.2, 0.2, 0.2]
    assert per_level((5,), 7) == 5
    assert [SCHEDULE.resolution(k) for k in range(4)] == [4, 8, 16, 32]


def test_cosine_fade_over_the_first_half_of_each_level():
    assert SCHEDULE.blend_at(0) == SCHEDULE.blend_at(1000) == 1.0  # level 0 has no fade-in
    start, half = 1024, 512
    assert SCHEDULE.blend_at(start) == 0.0
    assert SCHEDULE.blend_at(start + half // 4) == pytest.approx((1 - math.cos(math.pi / 4)) / 2)
    assert SCHEDULE.blend_at(start + half // 2) == pytest.approx(0.5)
    assert SCHEDULE.blend_at(start + half) == 1.0
    assert SCHEDULE.blend_at(start + half + 128) == 1.0
    assert SCHEDULE.blend_at(3072 + 256) == pytest.approx(0.5)  # the last level fades in too
    assert cosine_fade(-1) == 0.0 and cosine_fade(2) == 1.0


def test_level_start_is_only_the_first_batch_of_a_level():
    assert [n for n in range(0, 4096, 64) if SCHEDULE.is_level_start(n)] == [1024, 2048, 3072]


def test_segments_split_a_run_at_level_ends():
    assert SCHEDULE.segments(0, 2500) == [(0, 8), (1, 8), (2, 8)]  # level 2 stops at 2048 + 8 * 64 >= 2500
    assert SCHEDULE.segments(1024 + 256, 4000) == [(1, 6), (2, 16), (3, 15)]
    assert SCHEDULE.segments(4000, 4000) == []


def test_invalid_schedules_are_refused():
    with pytest.raises(ValueError):
        GrowthSchedule(0, 3, (128,), (0.1,))
    with pytest.raises(ValueError):
        GrowthSchedule(10, 3, (), (0.1,))


def test_paper_presets_give_their_schedules():
    ffhq = configs.PRESETS["ffhq"].growth_schedule()
    assert ffhq.max_level == 8
    assert [ffhq.batch_size(k) for k in range(9)] == [128, 128, 128, 64, 32, 16, 16, 16, 16]
    assert [ffhq.learning_rate(k) for k in range(9)] == [0.0015] * 6 + [0.002, 0.003, 0.003]
    assert ffhq.level_start(1) == 960_000
    tiny = configs.PRESETS["faces_tiny"]
    assert tiny.growth_schedule().max_level == 3 and tiny.image_shape == (32, 32, 3)
    # The MLP preset is one level that never ends.
    mlp = configs.PRESETS["mnist_mlp"].growth_schedule()
    assert mlp.level_starts == (0,) and mlp.blend_at(10**6) == 1.0
