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


@dataclasses.dataclass(frozen=True)
class Refinement:
    """The reconstruction-refinement phase at a run's end (`ALAE.refinement_update`).

    The run's last `fraction` of batches train E and G on reconstructions alone, G anchored to the
    samples it drew when the phase began; both optimizers' learning rate starts at `learning_rate`
    and falls linearly to 0 at the run's end. A function of the image count, like the decay above,
    so a resumed run enters the phase and sets its rates exactly where an uninterrupted one would.

    The phase may run at its own batch size: it still starts where the run's batches say and ends
    with the batch that reaches the run's batch-aligned end (`end`).

    Attributes:
        fraction: share of the run's batches, in [0, 1); 0: no phase.
        learning_rate: the rate at the phase's first batch (> 0).
        batch_size: the phase's batch size (None: the run's).
    """

    fraction: float = 0.0
    learning_rate: float = 0.003
    batch_size: int | None = None

    def __post_init__(self):
        if not 0.0 <= self.fraction < 1.0:
            raise ValueError(f"refine_fraction must be in [0, 1), got {self.fraction}")
        if not self.learning_rate > 0.0:
            raise ValueError(f"refine_learning_rate must be > 0, got {self.learning_rate}")
        if self.batch_size is not None and not (isinstance(self.batch_size, int) and self.batch_size >= 1):
            raise ValueError(f"refine_batch_size must be a whole number >= 1, got {self.batch_size!r}")

    def phase_batch(self, batch_size: int) -> int:
        """The phase's batch size in a run of `batch_size` batches."""
        return self.batch_size or batch_size

    @staticmethod
    def end(run_images: int, batch_size: int) -> int:
        """The image count where the run's last batch ends, had it all trained at `batch_size`."""
        return math.ceil(run_images / batch_size) * batch_size

    def phase_steps(self, images_seen: int, stop_images: int, batch_size: int, run_images: int) -> tuple[int, int]:
        """`(game steps, phase steps)` from `images_seen` to `stop_images` (this call's length).

        Game steps run at `batch_size` up to the phase's start (`start(run_images, ...)`), phase steps
        at `phase_batch` up to the first batch that reaches `end(stop_images, batch_size)`; a run
        resumed anywhere gets the steps an uninterrupted one had left.
        """
        stop = self.end(stop_images, batch_size)
        start = self.start(run_images, batch_size)
        if start is None or stop <= start:
            return max(0, -(-(stop - images_seen) // batch_size)), 0
        game = max(0, (start - images_seen) // batch_size)
        return game, max(0, -(-(stop - max(images_seen, start)) // self.phase_batch(batch_size)))

    def start(self, run_images: int, batch_size: int) -> int | None:
        """The image count of the phase's first batch (a whole number of batches), or None without a phase."""
        if not self.fraction:
            return None
        steps = math.ceil(run_images / batch_size)
        return (steps - round(steps * self.fraction)) * batch_size

    def learning_rate_at(self, images_seen: int, run_images: int, batch_size: int) -> float:
        """The rate of the phase's batch that starts at `images_seen` (`batch_size`: the run's)."""
        start = self.start(run_images, batch_size)
        end = self.end(run_images, batch_size)
        t = min(1.0, max(0.0, (images_seen - start) / max(end - start, 1)))
        return self.learning_rate * (1.0 - t)
