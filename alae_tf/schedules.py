"""Learning-rate decay over a run, as a function of the image count.

Pure Python, like `growing.py`: the training loop sets both optimizers' learning rate to
`base * LearningRateDecay.factor(images_seen, run_images)` before every batch, where `base`
is the level's learning rate. A function of the image count (not of an optimizer's step
counter, which the E/D optimizer advances twice per batch and the official code resets at
every level), so a resumed run sets exactly the rates an uninterrupted one would.

The paper trains at a constant rate (`kind="none"`). A short run ends far from where a
constant rate of 0.002 lets the weights settle: the last steps' noise stays in the nets
(speckled samples). Decaying the rate over the run's end lets them settle (see
`benchmarks/quality.md`).
"""

import dataclasses
import math

DECAY_KINDS = ("none", "cosine", "linear")


@dataclasses.dataclass(frozen=True)
class LearningRateDecay:
    """Multiplier of the learning rate at a point of a run.

    Attributes:
        kind: "none" (constant, the paper's), "cosine" or "linear".
        start: fraction of the run in [0, 1) after which the decay begins; before it the
            factor is 1.
        final: the factor at the run's end, in [0, 1].
    """

    kind: str = "none"
    start: float = 0.0
    final: float = 0.0

    def __post_init__(self):
        if self.kind not in DECAY_KINDS:
            raise ValueError(f"learning-rate decay must be one of {DECAY_KINDS}, got {self.kind!r}")
        if not 0.0 <= self.start < 1.0 or not 0.0 <= self.final <= 1.0:
            raise ValueError(
                f"learning-rate decay needs 0 <= start < 1 and 0 <= final <= 1, got start={self.start} "
                f"final={self.final}"
            )

    def factor(self, images_seen, run_images):
        """The multiplier for the batch that starts at `images_seen` of a run of `run_images` images."""
        if self.kind == "none" or run_images <= 0:
            return 1.0
        t = (images_seen / run_images - self.start) / (1.0 - self.start)  # fraction of the decay done
        t = min(1.0, max(0.0, t))
        shape = (1.0 + math.cos(math.pi * t)) / 2.0 if self.kind == "cosine" else 1.0 - t
        return self.final + (1.0 - self.final) * shape
