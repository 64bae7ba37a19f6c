"""How well real images edit: class edits, attribute edits with preservation, latent consistency, style mixing.

The directions are built here from the codes of the training split (`alae_tf.editing`), never
from the judge: the judge (the context's classifier, `alae_tf.features`) only scores the edits
of evaluation images.

- `class_edit`: for every ordered pair (source, target) of classes, evaluation images of the
  source class are moved along the source-to-target direction by each strength and decoded; the
  judge's share of target-class verdicts is the pair's success. Three kinds of move: class-mean
  differences and InterFaceGAN normals of two-class linear SVMs (both scaled so that strength 1
  is the class-mean gap), and class transport (`editing.ClassTransport`: the optimal-transport
  map between the two classes' Gaussians of codes; strength 1 is the full map). The strength
  reported for all pairs is chosen on training images, per kind, then the best kind on those; the
  evaluation images only score it.
- `class_mean_edit`: the quality protocol's quick class edit: each evaluation image moved by the
  class-mean difference (strength 1) towards one random other class. Both class-edit metrics score
  an edit by one measure, `class_edit_hits` (decode, judge, compare with the target).
- `ink_edit`: a direction that changes ink mass (mean pixel value, regression on the training
  codes): the rank correlation between strength and the measured ink change, and at the strength
  that adds 20 % ink, the share of images whose judged class stays what it was before the edit.
- `latent_edit_consistency`: e4e's LEC, `|E(G(E(x) + a d)) - a d - E(x)|` for the class-mean
  edits at strength 1, over the mean edit length `|a d|`.
- `style_mix`: style nets. Pairs of evaluation images A, B mixed at a cutoff (A's coarse styles,
  B's fine ones): the mix should be closer to A in a low-pass (4x4 average) and closer to B in
  the high-pass residual.
"""

import numpy as np
import tensorflow as tf

from alae_tf import editing
from alae_tf.features import classes_from_features, classes_of_images
from alae_tf.layers import downsample_avg_to
from alae_tf.metrics.judge import eval_labels
from alae_tf.metrics.registry import register
from alae_tf.probes import class_mean_codes

# Strength 1 is the class-mean gap for both kinds of direction, but a linear normal only carries the
# gap's projection on it (in a 256-d w, often a tenth of the gap's length): its grid reaches further.
# Transport reaches the target class at 1 and overshoots into speckle past 1.5 (benchmarks/quality.md).
CLASS_EDIT_STRENGTHS = {
    "class_mean": (0.5, 1.0, 1.5, 2.0, 3.0),
    "linear": (1.0, 2.0, 4.0, 8.0, 16.0),
    "class_transport": (0.5, 0.75, 1.0, 1.25, 1.5),
}
CLASS_EDIT_KINDS = tuple(CLASS_EDIT_STRENGTHS)
# Ink strengths are fractions of the strength that adds INK_TARGET of ink (found by a probe).
INK_EDIT_GRID = tuple(np.round(np.linspace(-1.5, 1.5, 13), 2))
INK_TARGET = 0.20


# The noise of style nets' decodes in the class, ink and LEC edits: the same for every edit, so
# a strength-0 edit is exactly the reconstruction and two strengths differ only by the move.
EDIT_NOISE_SEED = (0, 0)


def _decoded(ctx, codes, noise_seed=EDIT_NOISE_SEED):
    """Clipped G(w) float images of codes `[N, latent]`, batch by batch (`noise_seed` None: the model's own)."""
    seed = None if noise_seed is None else tf.constant(noise_seed, tf.int32)
    for start in range(0, len(codes), ctx.batch_size):
        w = tf.constant(codes[start : start + ctx.batch_size], tf.float32)
        yield ctx.clip(ctx._decode_fn(w, noise_seed=seed))


def _judged(ctx, codes, noise_seed=EDIT_NOISE_SEED):
    """The judge's classes `[N]` of G(w) for codes `[N, latent]`."""
    judge = ctx.require_judge()
    return np.concatenate([classes_of_images(judge, x, ctx.pixel_range) for x in _decoded(ctx, codes, noise_seed)])


def class_edit_hits(ctx, codes, sources, targets, move, strength, noise_seed=EDIT_NOISE_SEED):
    """Does each class edit reach its target? Booleans `[N]`, the one measure of every class-edit metric.

    Code i is moved from class `sources[i]` to `targets[i]` by `move` at `strength`, decoded (clipped)
    and judged; it is a hit when the judge sees `targets[i]`.

    Args:
        codes: `[N, latent]`; sources, targets: int classes `[N]`.
        move: `(codes, sources, targets, strength) -> codes` (`class_edit_moves`, `along_directions`).
        noise_seed: of style nets' noise (`EDIT_NOISE_SEED`; None: the model's own draw).
    """
    moved = move(codes, np.asarray(sources), np.asarray(targets), strength) if len(codes) else codes
    return _judged(ctx, moved, noise_seed) == np.asarray(targets)


def along_directions(directions):
    """The move of a direction per pair `{(source, target): vector [latent]}`: `w + strength * vector`."""

    def move(codes, sources, targets, strength):
        steps = np.stack([directions[(int(a), int(b))] for a, b in zip(sources, targets)])
        return codes + strength * steps

    return move


def _per_class(labels, count, num_classes):
    """Indices of the first `count` items of each class, class by class."""
    return [np.flatnonzero(labels == c)[:count] for c in range(num_classes)]


def pair_success(ctx, codes, labels, move, strengths, count, num_classes):
    """Success `[S, classes, classes]` (NaN on the diagonal) of moving `count` codes per source class."""
    success = np.full((len(strengths), num_classes, num_classes), np.nan)
    chosen = _per_class(labels, count, num_classes)
    # Every source image towards every other class, in (source, target) order: one judged batch per strength.
    rows, sources, targets = [], [], []
    for source in range(num_classes):
        for target in range(num_classes):
            if source != target and len(chosen[source]):
                rows.append(chosen[source])
                sources += [source] * len(chosen[source])
                targets += [target] * len(chosen[source])
    rows, sources, targets = np.concatenate(rows), np.asarray(sources), np.asarray(targets)
    for s, strength in enumerate(strengths):
        hits = class_edit_hits(ctx, codes[rows], sources, targets, move, strength)
        for source in range(num_classes):
            for target in range(num_classes):
                mask = (sources == source) & (targets == target)
                if mask.any():
                    success[s, source, target] = hits[mask].mean()
    return success


def class_edit_moves(train_codes, train_labels, kind, num_classes, seed=0):
    """One of `CLASS_EDIT_KINDS` fitted on training codes: `(codes, sources, targets, strength) -> codes`."""
    if kind == "class_transport":
        transport = editing.ClassTransport.fit(train_codes, train_labels)
        return lambda codes, sources, targets, strength: transport.apply(codes, sources, targets, strength)
    return along_directions(class_edit_directions(train_codes, train_labels, kind, num_classes, seed))


def context_class_edit_move(ctx, kind):
    """`class_edit_moves` of `kind` on the context's training codes, fitted once per context (metric and report)."""
    codes, labels = ctx.train_codes.astype(np.float64), np.asarray(ctx.train_labels, np.int64)
    make = lambda: class_edit_moves(codes, labels, kind, ctx.require_judge().num_classes, seed=ctx.seed)  # noqa: E731
    return ctx.cached(("class_edit_move", kind), make)


def class_edit_directions(train_codes, train_labels, kind, num_classes, seed=0):
    """`{(source, target): vector [latent]}` for every ordered pair, of a kind of direction ("class_mean", "linear")."""
    pairs = [(a, b) for a in range(num_classes) for b in range(num_classes) if a != b]
    if kind == "class_mean":
        found = editing.class_mean_directions(train_codes, train_labels)
    elif kind == "linear":
        # One SVM per unordered pair: the reverse direction is the same boundary's normal, negated.
        halves = editing.linear_directions(
            train_codes, train_labels, [(a, b) for a, b in pairs if a < b], held_out_fraction=0.0, seed=seed
        )
        found = halves + [d.replace(vector=-d.vector) for d in halves]
        pairs = [(a, b) for a, b in pairs if a < b] + [(b, a) for a, b in pairs if a < b]
    else:
        raise ValueError(f"unknown kind of class edit direction {kind!r}; known: class_mean, linear")
    return {pair: np.asarray(d.vector, np.float64) for pair, d in zip(pairs, found)}


@register("class_edit", needs=("features", "labels"))
def class_edit(ctx, images_per_class=100, select_per_class=50, strengths=CLASS_EDIT_STRENGTHS):
    """Class edits of evaluation images over the 90 ordered pairs, by kind of direction and strength.

    Returns `class_edit_success` (mean over pairs at the chosen kind and strength),
    `class_edit_kind`, `class_edit_strength`, `class_edit_matrix` (`[classes][classes]` at those,
    None on the diagonal), `class_edit_curves` (`{kind: [mean success per strength]}`),
    `class_edit_selection` (the same on the training images the choice was made on),
    `class_edit_strengths` (`{kind: strengths}`) and `class_edit_images` (edited evaluation images per pair).
    """
    if ctx.train_labels is None or ctx.test_labels is None:
        raise ValueError("class_edit needs labels on both splits")
    num_classes = ctx.require_judge().num_classes
    train_labels = np.asarray(ctx.train_labels, np.int64)
    test_labels = np.asarray(ctx.test_labels[: len(ctx.eval_images)], np.int64)
    test_codes = ctx.test_codes[: len(test_labels)].astype(np.float64)
    train_codes = ctx.train_codes.astype(np.float64)
    curves, selection, matrices = {}, {}, {}
    for kind in CLASS_EDIT_KINDS:
        kind_strengths = strengths[kind]
        move = context_class_edit_move(ctx, kind)
        chosen = pair_success(ctx, train_codes, train_labels, move, kind_strengths, select_per_class, num_classes)
        selection[kind] = [float(np.nanmean(m)) for m in chosen]
        best = int(np.argmax(selection[kind]))
        evaluated = pair_success(ctx, test_codes, test_labels, move, kind_strengths, images_per_class, num_classes)
        curves[kind] = [float(np.nanmean(m)) for m in evaluated]
        matrices[kind] = (best, evaluated[best])
    kind = max(CLASS_EDIT_KINDS, key=lambda k: max(selection[k]))
    best, matrix = matrices[kind]
    return {
        "class_edit_success": float(np.nanmean(matrix)),
        "class_edit_kind": kind,
        "class_edit_strength": float(strengths[kind][best]),
        "class_edit_matrix": [[None if np.isnan(v) else float(v) for v in row] for row in matrix],
        "class_edit_curves": curves,
        "class_edit_selection": selection,
        "class_edit_strengths": {k: [float(s) for s in v] for k, v in strengths.items()},
        "class_edit_images": int(min(images_per_class, np.bincount(test_labels).min())),
    }


@register("class_mean_edit", needs=("features", "labels"))
def class_mean_edit(ctx):
    """Edit success of class-mean directions: `w + mean_w[target] - mean_w[label]`, decoded and judged.

    The quality protocol's quick class edit (`alae_tf.quality`): `class_edit_hits` at strength 1 on
    class-mean differences, one target per image instead of `class_edit`'s every pair and strength grid.
    Class means are of E(train). Each evaluation image gets one target class, drawn uniformly
    among the other classes (seeded by the context's seed), and is decoded with the model's own noise.
    `class_mean_edit_success`: the fraction of edited images the judge gives the target class.
    """
    ctx.require_judge()
    if ctx.train_labels is None:
        raise ValueError("class_mean_edit needs labels; the training split has none")
    labels = eval_labels(ctx)
    means = class_mean_codes(ctx.train_codes, ctx.train_labels)
    num_classes = len(means)
    rng = np.random.default_rng([ctx.seed, 3])
    targets = (labels + rng.integers(1, num_classes, size=len(labels))) % num_classes
    directions = {(a, b): means[b] - means[a] for a in range(num_classes) for b in range(num_classes) if a != b}
    hits = class_edit_hits(
        ctx, ctx.test_codes[: len(labels)], labels, targets, along_directions(directions), 1.0, noise_seed=None
    )
    return {"class_mean_edit_success": float(np.mean(hits)), "class_mean_edit_samples": len(labels)}


def spearman(x, y):
    """Spearman's rank correlation of two 1-D arrays (average ranks for ties)."""

    def ranks(v):
        v = np.asarray(v, np.float64)
        order = np.argsort(v, kind="stable")
        ranked = np.empty(len(v))
        ranked[order] = np.arange(len(v), dtype=np.float64)
        for value in np.unique(v[np.diff(np.sort(v), prepend=np.nan) == 0]):  # tied values share their mean rank
            ranked[v == value] = ranked[v == value].mean()
        return ranked

    rx, ry = ranks(x), ranks(y)
    return float(np.corrcoef(rx, ry)[0, 1])


def _ink(images, pixel_range):
    lo, hi = pixel_range
    return tf.reduce_mean((images - lo) / (hi - lo), axis=[1, 2, 3]).numpy()


@register("ink_edit", needs=("features",))
def ink_edit(ctx, images=1000, grid=INK_EDIT_GRID, target=INK_TARGET, probe_images=200):
    """Attribute edits along an ink-mass direction, with class preservation.

    The direction (`ink_direction`) regresses the training codes on their images' ink mass (mean
    pixel value), within classes when the training split has labels.
    A probe (strength 1 on `probe_images` images) measures the mean relative ink change per unit
    strength; the strengths are `grid` times the strength that would add `target` at that rate, so
    the measured range brackets the target whatever the direction's scale. Each of `images`
    evaluation images is edited at every strength; the change is the edited
    image's ink minus its reconstruction's (strength 0). Returns `ink_edit_rank_correlation`
    (Spearman, strength against change over all image-strength pairs), `ink_edit_mean_change`
    (relative change per strength), `ink_edit_strength_at_target` (where the mean relative change
    reaches `target`, interpolated), `ink_edit_class_kept` (judged class unchanged from the
    reconstruction's, per strength) and `ink_edit_class_kept_at_target`, and
    `ink_edit_off_attribute_drift` (per strength) and `..._at_target`: how far the edit moves the
    image outside ink mass, in the judge's features (`off_attribute_drift`).
    """
    judge = ctx.require_judge()
    direction = ink_direction(ctx.train_codes, ctx.train_images, ctx.train_labels, seed=ctx.seed).vector
    codes = ctx.test_codes[:images].astype(np.float64)
    probe = codes[:probe_images]
    before = np.concatenate([_ink(x, ctx.pixel_range) for x in _decoded(ctx, probe)])
    after = np.concatenate([_ink(x, ctx.pixel_range) for x in _decoded(ctx, probe + direction)])
    rate = float(np.mean((after - before) / np.maximum(before, 1e-6)))
    if rate <= 0:
        raise ValueError(f"ink_edit: the ink direction does not add ink (rate {rate:.3g} per unit strength)")
    strengths = np.asarray(grid, np.float64) * (target / rate)
    inks, classes, features = [], [], []
    for strength in strengths:
        ink, judged, feats = [], [], []
        for x in _decoded(ctx, codes + strength * direction):
            ink.append(_ink(x, ctx.pixel_range))
            feats.append(np.asarray(judge(x, ctx.pixel_range), np.float64))
            judged.append(classes_from_features(judge, feats[-1]))
        inks.append(np.concatenate(ink))
        classes.append(np.concatenate(judged))
        features.append(np.concatenate(feats))
    inks, classes, features = np.stack(inks), np.stack(classes), np.stack(features)  # [S, N] and [S, N, F]
    base = int(np.argmin(np.abs(strengths)))
    if strengths[base] != 0.0:
        raise ValueError("ink_edit's grid must include 0 (the reconstruction)")
    drift = off_attribute_drift(features - features[base], *_ink_feature_axis(ctx, judge))
    change = inks - inks[base]
    relative = change / np.maximum(inks[base], 1e-6)
    mean_relative = relative.mean(axis=1)
    kept = (classes == classes[base]).mean(axis=1)
    at_target = _crossing(strengths, mean_relative, target)
    kept_at_target = None if at_target is None else float(np.interp(at_target, strengths, kept))
    drift_at_target = None if at_target is None else float(np.interp(at_target, strengths, drift))
    pairs_strength = np.repeat(strengths, change.shape[1])
    return {
        "ink_edit_rank_correlation": spearman(pairs_strength, change.ravel()),
        "ink_edit_strengths": [float(s) for s in strengths],
        "ink_edit_mean_change": [float(v) for v in mean_relative],
        "ink_edit_class_kept": [float(v) for v in kept],
        "ink_edit_strength_at_target": at_target,
        "ink_edit_class_kept_at_target": kept_at_target,
        "ink_edit_off_attribute_drift": [float(v) for v in drift],
        "ink_edit_off_attribute_drift_at_target": drift_at_target,
        "ink_edit_target": float(target),
        "ink_edit_images": int(len(codes)),
    }


def _ink_feature_axis(ctx, judge, images=2000):
    """`(axis, spread)`: the unit direction along which the judge's features vary with ink within a class,
    and the mean distance of a real image's features from its class mean (the scale of "another item").

    Both from up to `images` real evaluation images, classes from their labels (else the judge's).
    """
    feats, inks = [], []
    for x in ctx.batches(ctx.eval_images[:images]):
        feats.append(np.asarray(judge(x, ctx.pixel_range), np.float64))
        inks.append(_ink(x, ctx.pixel_range))
    feats, inks = np.concatenate(feats), np.concatenate(inks)
    labels = ctx.test_labels
    labels = classes_from_features(judge, feats) if labels is None else np.asarray(labels[: len(feats)], np.int64)
    centred = feats - class_mean_codes(feats, labels)[labels]
    ink_means = np.bincount(labels, weights=inks) / np.maximum(np.bincount(labels), 1)
    axis = centred.T @ (inks - ink_means[labels])  # covariance of each feature with ink, within classes
    return axis / max(np.linalg.norm(axis), 1e-12), float(np.linalg.norm(centred, axis=1).mean())


def off_attribute_drift(change, axis, spread):
    """How far edits move images outside the edited attribute, per strength `[S]`.

    `change` `[S, N, F]`: the judge's features of each edited image minus those of its
    reconstruction. The part along `axis` (the attribute's direction in feature space) is the edit;
    the rest is drift, reported as its mean length over `spread` (the mean distance between a real
    image and its class mean): 0 changes nothing else, 1 moves as far as another item of the class.
    """
    along = change @ axis
    outside = np.sqrt(np.maximum(np.sum(change * change, axis=-1) - along * along, 0.0))
    return outside.mean(axis=-1) / max(spread, 1e-12)


def ink_direction(codes, images_uint8, labels=None, seed=0):
    """The ink-mass direction the `ink_edit` metric moves along (a `Direction`): w regressed on ink.

    Ink varies most between classes (a sandal has a fraction of a coat's ink), so with `labels` the
    regression is within classes (codes and ink centred on their class's means): the direction is
    how codes vary with ink inside a class, not the way from sandals to coats.
    """
    ink = editing.ink_mass(images_uint8)
    codes = np.asarray(codes, np.float64)
    if labels is None:
        return editing.regression_direction(codes, ink, "ink_mass", seed=seed)
    labels = np.asarray(labels, np.int64)
    means = class_mean_codes(codes, labels)
    ink_means = np.bincount(labels, weights=ink) / np.maximum(np.bincount(labels), 1)
    return editing.regression_direction(
        codes - means[labels], ink - ink_means[labels], "ink_mass_within_class", seed=seed
    )


def _crossing(x, y, level):
    """The first x where the piecewise-linear y(x) reaches `level` going up, or None."""
    for i in range(len(x) - 1):
        if (y[i] - level) * (y[i + 1] - level) <= 0 and y[i + 1] != y[i] and y[i + 1] >= y[i]:
            return float(x[i] + (level - y[i]) * (x[i + 1] - x[i]) / (y[i + 1] - y[i]))
    return None


@register("latent_edit_consistency", needs=("labels",))
def latent_edit_consistency(ctx, images=1000, strength=1.0):
    """e4e's latent editing consistency for class-mean edits at `strength`.

    Each evaluation image moves towards a random other class (seeded):
    `lec = |E(G(w + a d)) - a d - w|` with w = E(x). Returns its mean `lec_mean`, the mean edit length
    `lec_edit_length` (`|a d|`) and `lec_relative` (the first over the second: 0 is perfect).
    """
    if ctx.train_labels is None or ctx.test_labels is None:
        raise ValueError("latent_edit_consistency needs labels on both splits")
    labels = np.asarray(ctx.test_labels[:images], np.int64)
    means = class_mean_codes(ctx.train_codes, ctx.train_labels)
    rng = np.random.default_rng([ctx.seed, 7])
    targets = (labels + rng.integers(1, len(means), size=len(labels))) % len(means)
    w = ctx.test_codes[: len(labels)].astype(np.float64)
    step = strength * (means[targets] - means[labels])
    encoded = np.concatenate([ctx._encode_fn(x).numpy() for x in _decoded(ctx, w + step)])
    error = np.linalg.norm(encoded - step - w, axis=1)
    length = np.linalg.norm(step, axis=1)
    return {
        "lec_mean": float(error.mean()),
        "lec_edit_length": float(length.mean()),
        "lec_relative": float(error.mean() / max(length.mean(), 1e-12)),
        "lec_images": int(len(labels)),
    }


def low_and_high_pass(images, factor=4):
    """`(low, high)`: the `factor`x`factor` average `[B, H/f, W/f, C]` and the residual `[B, H, W, C]`."""
    height = images.shape[1]
    low = downsample_avg_to(images, height // factor)
    up = tf.repeat(tf.repeat(low, factor, axis=1), factor, axis=2)
    return low, images - up


def layout(images, factor=4):
    """The low-pass of standardised grey images `[B, H/f, W/f, 1]`: where an image is light or dark, not its colours."""
    grey = tf.reduce_mean(images, axis=-1, keepdims=True)
    mean, variance = tf.nn.moments(grey, axes=[1, 2, 3], keepdims=True)
    return low_and_high_pass((grey - mean) * tf.math.rsqrt(variance + 1e-6), factor)[0]


@register("style_mix")
def style_mix(ctx, pairs=50, cutoff=None):
    """Style mixing of `pairs` evaluation image pairs (A, B) at `cutoff` (default: the end of the coarse styles).

    Returns `style_mix_low_closer_to_coarse` (share of pairs whose mix is closer to A than to B in the
    4x4 low-pass), `style_mix_high_closer_to_fine` (closer to B in the high-pass residual), their
    conjunction `style_mix_both`, the cutoff used, and `style_mix_layout_closer_to_coarse`: the same
    low-pass test on standardised grey images (`layout`). StyleGAN's fine styles set the colour
    scheme, which dominates a plain low-pass; the layout test asks only where the mix is light and
    dark, which the coarse styles should decide.
    """
    model = ctx.model
    if not model.is_style:
        raise ValueError("style_mix needs style nets (StyleALAE); the MLP ALAE has one w for all layers")
    if cutoff is None:
        cutoff = editing.style_layer_groups(model)["coarse"][1]
    count = min(pairs, len(ctx.eval_images) // 2)
    batches = list(ctx.batches(ctx.eval_images[: 2 * count]))
    real = tf.concat(batches, 0)
    a, b = real[:count], real[count : 2 * count]
    mixed = ctx.clip(editing.style_mix(model, a, b, cutoff, use_ema=ctx.use_ema))
    (low_m, high_m), (low_a, high_a), (low_b, high_b) = (low_and_high_pass(x) for x in (mixed, a, b))

    def distance(x, y):
        return tf.reduce_mean(tf.square(x - y), axis=[1, 2, 3]).numpy()

    low_ok = distance(low_m, low_a) < distance(low_m, low_b)
    high_ok = distance(high_m, high_b) < distance(high_m, high_a)
    layout_m, layout_a, layout_b = layout(mixed), layout(a), layout(b)
    layout_ok = distance(layout_m, layout_a) < distance(layout_m, layout_b)
    return {
        "style_mix_layout_closer_to_coarse": float(layout_ok.mean()),
        "style_mix_low_closer_to_coarse": float(low_ok.mean()),
        "style_mix_high_closer_to_fine": float(high_ok.mean()),
        "style_mix_both": float((low_ok & high_ok).mean()),
        "style_mix_cutoff": int(cutoff),
        "style_mix_pairs": int(count),
    }
