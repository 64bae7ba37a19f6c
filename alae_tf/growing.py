"""Progressive growing as data: which level, blend, batch size and learning rate at an image count.

Pure Python (no TF), so the training loop, the resume logic, evaluation and
tests all read the same numbers.
"""

import bisect
import dataclasses
import math


def per_level(values, level):
    """`values[level]`, or the last value for levels past the end of the list.

    The paper's config lists (batch sizes, learning rates) are sometimes
    shorter than the number of levels; the last entry then holds for every
    higher level.
    """
    if not values:
        raise ValueError("per-level values must not be empty")
    return values[min(level, len(values) - 1)]


def cosine_fade(t):
    """Fade-in weight at fraction `t` in [0, 1] of the fade: `(1 - cos(pi t)) / 2` (0 -> 0, 1 -> 1)."""
    t = min(1.0, max(0.0, float(t)))
    return (1.0 - math.cos(math.pi * t)) / 2.0


@dataclasses.dataclass(frozen=True)
class GrowthSchedule:
    """Where a progressively grown run stands after `images_seen` images.

    Level k trains at `4 * 2**k` px for `images_per_level` images, rounded up
    to whole batches of that level's batch size, so that every level starts
    exactly on a batch boundary (a batch never mixes two levels and
    "the first step of a level" is well defined, also after a resume). The
    last level (`max_level`) runs on until the run ends.

    For k > 0 the first half of the level is a fade-in: with t the fraction
    of that half done, `blend = (1 - cos(pi t)) / 2`; blend is 1 at level 0
    and after the fade.

    Attributes:
        images_per_level: images trained at each level before the next.
        max_level: the last level (layer_count - 1).
        batch_sizes: batch size per level (the last entry holds for higher levels).
        learning_rates: learning rate per level (likewise).
    """

    images_per_level: int
    max_level: int
    batch_sizes: tuple
    learning_rates: tuple

    def __post_init__(self):
        if self.images_per_level < 1 or self.max_level < 0:
            raise ValueError(f"GrowthSchedule: images_per_level must be >= 1 and max_level >= 0, got {self}")
        if not self.batch_sizes or any(b < 1 for b in self.batch_sizes) or not self.learning_rates:
            raise ValueError(f"GrowthSchedule: need positive batch sizes and some learning rates, got {self}")

    def batch_size(self, level):
        return int(per_level(self.batch_sizes, level))

    def learning_rate(self, level):
        return float(per_level(self.learning_rates, level))

    def level_images(self, level):
        """Images trained at `level` (< max_level): images_per_level rounded up to whole batches."""
        batch = self.batch_size(level)
        return -(-self.images_per_level // batch) * batch

    @property
    def level_starts(self):
        """Image count at which each level 0..max_level starts."""
        starts = [0]
        for level in range(self.max_level):
            starts.append(starts[-1] + self.level_images(level))
        return tuple(starts)

    def level_start(self, level):
        return self.level_starts[level]

    def level_end(self, level):
        """Image count at which `level` ends (None for the last level, which never ends)."""
        return None if level >= self.max_level else self.level_starts[level + 1]

    def level_at(self, images_seen):
        """The level of the batch that starts at `images_seen`."""
        return bisect.bisect_right(self.level_starts, int(images_seen)) - 1

    def fade_in_images(self, level):
        """Length of `level`'s fade-in in images (0 at level 0)."""
        return 0 if level == 0 else self.level_images(level) / 2.0

    def blend_at(self, images_seen):
        """Fade-in weight of the batch that starts at `images_seen` (1.0 = no fade-in)."""
        level = self.level_at(images_seen)
        if level == 0:
            return 1.0
        done = (int(images_seen) - self.level_start(level)) / self.fade_in_images(level)
        return cosine_fade(done)

    def last_batch_position(self, images_seen):
        """`(level, blend)` of the last batch trained before `images_seen` (level 0, blend 1 at the start).

        Where a restored model must be put: neither is checkpointed, both follow from the image count.
        """
        level = self.level_at(max(0, int(images_seen) - 1))
        return level, self.blend_at(max(0, int(images_seen) - self.batch_size(level)))

    def is_level_start(self, images_seen):
        """True when the batch at `images_seen` is the first of a level > 0 (optimizers reset here)."""
        level = self.level_at(images_seen)
        return level > 0 and int(images_seen) == self.level_start(level)

    def segments(self, images_seen, train_images):
        """`[(level, steps), ...]`: the steps to run at each level from `images_seen` to `train_images`.

        A segment ends at its level's end (batch-aligned, so the next level
        starts exactly there) or at the step that reaches `train_images`.
        """
        images_seen, segments = int(images_seen), []
        while images_seen < train_images:
            level = self.level_at(images_seen)
            batch = self.batch_size(level)
            end = self.level_end(level)
            stop = train_images if end is None else min(end, train_images)
            steps = -(-(stop - images_seen) // batch)
            segments.append((level, steps))
            images_seen += steps * batch
        return segments

    def resolution(self, level):
        return 4 * 2**level
