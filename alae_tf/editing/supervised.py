"""Supervised directions in w: numpy on codes `w [N, latent]` with labels or per-image numbers.

- `class_mean_directions`: mean w of the target class minus that of the source class.
- `linear_directions`: InterFaceGAN (Shen et al. 2020): the unit normal of a linear classifier's
  boundary (here a linear L2-SVM, `alae_tf.probes.fit_l2_svm`), between two classes or one class
  against the rest.
- `regression_direction`: least squares of a per-image number (an attribute) on w.

The unsupervised ones (PCA, SeFa) are `components`. Scales, so that "strength 1" reads alike across
methods: class mean and linear move by the gap between the two groups' means (the linear one along
its normal only); regression changes the predicted attribute by one standard deviation; PCA moves
one standard deviation of the codes along the component; SeFa's unit eigenvectors are scaled the
same way when codes are given. Every direction's provenance says which (`strength_1`).

Held-out scores: the supervised methods fit on a seeded, stratified part of the codes and score
on the rest (`held_out_fraction`); the direction is the fitted one, not refitted on everything.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from alae_tf.editing.checks import check_codes, check_labels, is_int
from alae_tf.editing.directions import Direction, direction_name
from alae_tf.editing.errors import EditingError
from alae_tf.probes import class_mean_codes, fit_l2_svm

ONE_VS_REST = "one_vs_rest"


def _fraction(held_out_fraction: float, what: str) -> float:
    if not 0.0 <= float(held_out_fraction) < 1.0:
        raise EditingError(f"{what}: held_out_fraction must be in [0, 1), got {held_out_fraction}")
    return float(held_out_fraction)


def _split(groups: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit, held-out) indices: `fraction` of every group held out, at least one kept on each side."""
    rng = np.random.default_rng(seed)
    fit, held = [], []
    for group in np.unique(groups):
        members = rng.permutation(np.flatnonzero(groups == group))
        count = int(round(fraction * len(members)))
        if fraction > 0 and len(members) >= 2:
            count = min(max(count, 1), len(members) - 1)
        else:
            count = 0
        held.append(members[:count])
        fit.append(members[count:])
    return np.sort(np.concatenate(fit)), np.sort(np.concatenate(held))


def _class_name(c: int, class_names: Sequence[str] | None) -> str:
    return str(class_names[c]) if class_names is not None and c < len(class_names) else str(c)


def _check_classes(wanted, present: np.ndarray, what: str) -> list[int]:
    if wanted is None:
        return [int(c) for c in present]
    if not is_int(wanted) or int(wanted) not in set(present):
        raise EditingError(f"{what}: class {wanted!r} has no codes; the labels hold {sorted(int(c) for c in present)}")
    return [int(wanted)]


def _accuracies(positive: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """(accuracy, balanced accuracy) of `scores > 0` against the booleans `positive`."""
    predicted = scores > 0
    recalls = [np.mean(predicted[positive == side] == side) for side in (True, False) if np.any(positive == side)]
    return float(np.mean(predicted == positive)), float(np.mean(recalls))


def class_mean_directions(
    w,
    labels,
    source: int | None = None,
    target: int | None = None,
    *,
    held_out_fraction: float = 0.0,
    seed: int = 0,
    class_names: Sequence[str] | None = None,
    provenance: dict | None = None,
) -> list[Direction]:
    """Differences of class means, `mean_w[target] - mean_w[source]`.

    Strength 1 moves a code of the source class by the gap between the two means: on average onto the
    target class's mean.

    Args:
        w: codes `[N, latent]`.
        labels: int classes `[N]`.
        source, target: classes; None means every class with codes. `(s, t)` gives one direction,
            `(s, None)` s to every other class, `(None, None)` every ordered pair.
        held_out_fraction: if > 0, the means come from the rest and `held_out_accuracy` scores the
            held-out codes of the two classes by which side of the midpoint between the means (along the
            direction) they fall.
        seed: of the held-out split.
        class_names: names for the directions' names and provenance, indexed by class.
        provenance: keys added to every direction's provenance (e.g. `codes.run_provenance(...)`).
    Returns:
        Directions named `class_mean_<source>_to_<target>`, in (source, target) order.
    Raises:
        EditingError: bad shapes, a class without codes, or no pair (source == target).
    """
    what = "class_mean_directions"
    w = check_codes(w, what)
    labels = check_labels(labels, len(w), what)
    fraction = _fraction(held_out_fraction, what)
    present = np.unique(labels)
    pairs = [
        (s, t) for s in _check_classes(source, present, what) for t in _check_classes(target, present, what) if s != t
    ]
    if not pairs:
        raise EditingError(f"{what}: no pair of different classes in source={source!r}, target={target!r}")
    fit, held = _split(labels, fraction, seed)
    means = class_mean_codes(w[fit], labels[fit])
    directions = []
    for s, t in pairs:
        vector = means[t] - means[s]
        in_pair = np.isin(labels, (s, t))
        score = accuracy = balanced = None
        if len(held):
            codes = held[in_pair[held]]
            score = (w[codes] - (means[s] + means[t]) / 2) @ vector
            accuracy, balanced = _accuracies(labels[codes] == t, score)
        names = _class_name(s, class_names), _class_name(t, class_names)
        directions.append(
            Direction(
                direction_name("class_mean", names[0], "to", names[1]),
                vector,
                {
                    **(provenance or {}),
                    "method": "class_mean",
                    "source_class": s,
                    "target_class": t,
                    "source_name": names[0],
                    "target_name": names[1],
                    "num_images": int(np.sum(in_pair[fit])),
                    "num_images_held_out": int(np.sum(in_pair[held])),
                    "held_out_accuracy": accuracy,
                    "held_out_balanced_accuracy": balanced,
                    "class_mean_gap": float(np.linalg.norm(vector)),
                    "strength_1": "moves w by the difference of the two class means",
                },
            )
        )
    return directions


def _tasks(classes, present: np.ndarray, labels: np.ndarray, what: str):
    """(negative mask, positive mask, negative class or None for the rest, positive class) per classifier."""
    if isinstance(classes, str):
        if classes != ONE_VS_REST:
            raise EditingError(f"{what}: classes must be {ONE_VS_REST!r}, a pair (a, b) or a list of pairs")
        if len(present) < 2:
            raise EditingError(f"{what}: one-vs-rest needs codes of two classes at least, got {present.tolist()}")
        return [(labels != c, labels == c, None, int(c)) for c in present]
    pairs = [classes] if len(classes) == 2 and all(isinstance(c, (int, np.integer)) for c in classes) else classes
    tasks = []
    for pair in pairs:
        try:
            a, b = pair
        except (TypeError, ValueError):
            raise EditingError(f"{what}: classes must be {ONE_VS_REST!r}, a pair (a, b) or a list of pairs") from None
        a, b = _check_classes(a, present, what)[0], _check_classes(b, present, what)[0]
        if a == b:
            raise EditingError(f"{what}: the pair ({a}, {b}) needs two different classes")
        tasks.append((labels == a, labels == b, a, b))
    return tasks


def linear_directions(
    w,
    labels,
    classes: str | tuple[int, int] | Sequence[tuple[int, int]] = ONE_VS_REST,
    *,
    l2: float = 1e-3,
    held_out_fraction: float = 0.2,
    seed: int = 0,
    max_iterations: int = 100,
    class_names: Sequence[str] | None = None,
    provenance: dict | None = None,
) -> list[Direction]:
    """InterFaceGAN directions (Shen et al. 2020): normals of linear class boundaries in w.

    Each classifier is a linear L2-SVM (squared hinge + `l2 |a|^2` on standardized codes, solved by
    Newton's method: `alae_tf.probes.fit_l2_svm`, the SVM metric's solver) separating the positive class
    from the negative one (or from every other class). Its unit normal n in w (the weights divided back
    by the codes' std) points to the positive side; the direction is `((mean_pos - mean_neg) . n) n`, so
    strength 1 moves a code by the class-mean gap measured along n, comparable with
    `class_mean_directions` at one strength.

    Args:
        w, labels: codes `[N, latent]` and int classes `[N]`.
        classes: `"one_vs_rest"` (one direction per class, from the rest to it), a pair `(a, b)` (from a
            to b), or a list of pairs.
        l2: the SVM's weight penalty (on standardized codes).
        held_out_fraction, seed: the stratified held-out split the accuracies are scored on.
        max_iterations: Newton iterations at most per classifier.
        class_names, provenance: as in `class_mean_directions`.
    Returns:
        Directions named `linear_<a>_to_<b>` or `linear_rest_to_<c>`, with provenance `held_out_accuracy`
        and `held_out_balanced_accuracy` (the mean of both sides' recalls: one-vs-rest sets are unbalanced),
        `class_mean_gap` (the scale) and `class_mean_cosine` (between n and the class-mean difference).
    """
    what = "linear_directions"
    w = check_codes(w, what)
    labels = check_labels(labels, len(w), what)
    fraction = _fraction(held_out_fraction, what)
    if float(l2) < 0:
        raise EditingError(f"{what}: l2 must be >= 0, got {l2}")
    directions = []
    for negative, positive, a, b in _tasks(classes, np.unique(labels), labels, what):
        used = np.flatnonzero(negative | positive)
        fit, held = _split(positive[used], fraction, seed)
        fit, held = used[fit], used[held]
        # Standardized as the SVM metric does: the penalty and solver then do not depend on w's scale.
        mean, std = w[fit].mean(axis=0), w[fit].std(axis=0)
        std = np.where(std > 1e-12, std, 1.0)
        x = np.concatenate([(w[fit] - mean) / std, np.ones((len(fit), 1))], axis=1)
        penalty = np.append(np.full(w.shape[1], float(l2)), 0.0)  # the bias is not penalized
        weights = fit_l2_svm(x, np.where(positive[fit], 1.0, -1.0), penalty, max_iterations, 1e-9)
        normal = weights[:-1] / std
        if not np.any(normal):
            raise EditingError(f"{what}: the classifier for {a} vs {b} found no boundary (raise l2 or check codes)")
        normal /= np.linalg.norm(normal)
        difference = w[fit][positive[fit]].mean(axis=0) - w[fit][negative[fit]].mean(axis=0)
        gap = float(difference @ normal)
        accuracy = balanced = None
        if len(held):
            scores = ((w[held] - mean) / std) @ weights[:-1] + weights[-1]
            accuracy, balanced = _accuracies(positive[held], scores)
        names = ("rest" if a is None else _class_name(a, class_names)), _class_name(b, class_names)
        directions.append(
            Direction(
                direction_name("linear", names[0], "to", names[1]),
                gap * normal,
                {
                    **(provenance or {}),
                    "method": "linear_svm",
                    "source_class": a,
                    "target_class": b,
                    "source_name": names[0],
                    "target_name": names[1],
                    "l2": float(l2),
                    "num_images": len(fit),
                    "num_images_held_out": len(held),
                    "held_out_accuracy": accuracy,
                    "held_out_balanced_accuracy": balanced,
                    "class_mean_gap": gap,
                    "class_mean_cosine": float(gap / max(np.linalg.norm(difference), 1e-30)),
                    "strength_1": "moves w along the boundary's unit normal by the class-mean gap along it",
                },
            )
        )
    return directions


def regression_direction(
    w,
    values,
    name: str,
    *,
    held_out_fraction: float = 0.2,
    seed: int = 0,
    l2: float = 1e-6,
    provenance: dict | None = None,
) -> Direction:
    """The direction in which codes change with a per-image number: the linear regression of w on it.

    The direction is `cov(w, value) / std(value)`: how the codes move, on average, when the value
    rises by one standard deviation (strength 1), so it follows the way codes of real images vary
    (as a class-mean difference does). The reverse fit, `value ~ w . a + b` (ridge `l2 * trace(C) /
    latent`, C the fit codes' scatter), gives the held-out R^2 and `a`, the least-norm way to change
    the predicted value; `a` leans on directions in which real codes hardly vary, and moving a code
    along it changes the decoded image far less per unit of w (measured on the Fashion-MNIST demo's
    ink mass: it needs several times the move, and breaks the class more often, for the same ink).

    Args:
        w: codes `[N, latent]`.
        values: one finite number per code `[N]` (e.g. `attributes.ink_mass(images)`).
        name: the direction's name (e.g. the attribute's).
        held_out_fraction, seed: the random held-out split `held_out_r2` is scored on.
        provenance: keys added to the direction's provenance.
    Returns:
        A `Direction` with provenance `held_out_r2`, `fit_r2` (of the value on w), `values_mean`,
        `values_std` and `cosine_to_least_norm` (between the direction and `a`).
    Raises:
        EditingError: bad shapes, non-finite values, or values that do not vary.
    """
    what = "regression_direction"
    w = check_codes(w, what, minimum=3)
    values = np.asarray(values)
    if values.shape != (len(w),) or values.dtype.kind not in "fiub":
        raise EditingError(f"{what}: values must be {len(w)} numbers (one per code), got {values.dtype} {values.shape}")
    values = values.astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise EditingError(f"{what}: values hold NaN or inf")
    fraction = _fraction(held_out_fraction, what)
    fit, held = _split(np.zeros(len(w)), fraction, seed)
    w_mean, v_mean, v_std = w[fit].mean(axis=0), values[fit].mean(), values[fit].std()
    if v_std <= 1e-12 * max(1.0, abs(v_mean)):
        raise EditingError(f"{what}: the values of {name!r} do not vary over the fitted codes")
    centered = w[fit] - w_mean
    scatter = centered.T @ centered
    ridge = float(l2) * max(np.trace(scatter), 1e-30) / w.shape[1]
    a = np.linalg.solve(scatter + ridge * np.eye(w.shape[1]), centered.T @ (values[fit] - v_mean))
    if not np.any(a):
        raise EditingError(f"{what}: {name!r} does not depend linearly on w (zero fit)")

    def r2(rows):
        if len(rows) < 2:
            return None
        predicted = (w[rows] - w_mean) @ a + v_mean
        total = np.sum(np.square(values[rows] - values[rows].mean()))
        return float(1.0 - np.sum(np.square(values[rows] - predicted)) / total) if total > 0 else None

    direction = centered.T @ (values[fit] - v_mean) / (len(fit) * v_std)
    return Direction(
        name,
        direction,
        {
            **(provenance or {}),
            "method": "regression",
            "attribute": name,
            "num_images": len(fit),
            "num_images_held_out": len(held),
            "held_out_r2": r2(held),
            "fit_r2": r2(fit),
            "values_mean": float(v_mean),
            "values_std": float(v_std),
            "l2": float(l2),
            "cosine_to_least_norm": float(direction @ a / max(np.linalg.norm(direction) * np.linalg.norm(a), 1e-30)),
            "strength_1": "moves w as codes move, on average, when the attribute rises by one standard deviation",
        },
    )
