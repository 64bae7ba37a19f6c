"""What every exported signature accepts, checked alike in the graph, before a request, and before LiteRT.

A signature's dtype and shape are fixed by its TensorSpec (and so its SignatureDef). What they cannot
say is checked here:

- every float input must be finite: a NaN or inf in z, w, a direction, a strength or an image turns the
  outputs into NaN (or, through the uint8 conversion, into silently black images), so it is refused;
- some inputs have a range (`Rule`): a float image (`encode_float`) must lie in the training pixel range,
  give or take `PIXEL_TOLERANCE` (pixels sent as 0..255 into a [0, 1] model, or a [-1, 1] image into a
  [0, 1] one, would be encoded into codes far off anything the model saw); the editor's `index` must
  point at a baked direction and its `cutoff` at a style input. uint8 inputs need no rule: every uint8
  value is a pixel.

The same rules run in three places, each with a message naming the input and what it must be:

- in the SavedModel's graph (`checked_tensors`, which `signatures.signature_function` runs on every
  input): an EnsureShape (rank, image size, channels, latent length) and asserts that run before the
  nets, so TF Serving, a TF1 session on the serve tag and `tf.saved_model.load` refuse bad values with
  an `InvalidArgumentError` ("<signature>: <input> must be ..."). The converters drop the asserts (TFLite
  and ONNX have no such ops), so the converted models compute what they did;
- on numpy arrays (`check_array`): in `serving.validate_predict_request`, which checks a request before
  it reaches the model (the rules travel in the export's metadata, `signature_rules`), and in
  `litert_check.LiteEncoder`, before LiteRT runs the images.

What the graph cannot do: name the input of a wrong dtype. TF refuses a tensor of another dtype before
the graph runs ("input #0(zero-based) was expected to be a uint8 tensor but is a float tensor"), by
position; and in Python, `tf.saved_model.load(...).signatures[name](image=array)` converts a numpy array
to the signature's dtype before anything is checked (float pixels into a uint8 image are truncated), as
a TF1 session does with its feeds. The validator refuses both by name, so clients should send requests
through it (or TF Serving, which checks the dtype against the SignatureDef).
"""

import dataclasses

import numpy as np
import tensorflow as tf

# How far beyond the training pixel range a float image may stray, as a fraction of the range's width
# (2 %: about 5 grey levels): rounding and the overshoot of a bicubic resize pass, pixels in the wrong
# range (0..255, or [-1, 1] into a [0, 1] model) do not.
PIXEL_TOLERANCE = 0.02
# Names of the dimensions of image and code inputs, for the shape messages.
_DIMENSION_NAMES = {4: ("batch", "height", "width", "channels"), 2: ("rows", "length"), 1: ("batch",)}


class InputError(ValueError):
    """An input that does not fit its signature; the message names it and says what it must be."""


@dataclasses.dataclass(frozen=True)
class Rule:
    """The values one input may hold beyond what its dtype allows: `[low, high]`, `tolerance` beyond it.

    Attributes:
        low, high: the smallest and largest valid value (both included). `low > high`: no value fits
            (the editor's `index` without directions), and `requirement` says why.
        tolerance: how far a float may lie outside `[low, high]`.
        requirement: the rule in words, following the input's name in messages ("must be in [0, 3)
            (the directions baked in ...)"); default "must be in [low, high]".
    """

    low: float
    high: float
    tolerance: float = 0.0
    requirement: str = ""

    def __post_init__(self):
        if not self.requirement:
            within = f" (at most {self.tolerance:g} beyond)" if self.tolerance else ""
            object.__setattr__(self, "requirement", f"must be in [{self.low:g}, {self.high:g}]{within}")

    @property
    def bounds(self):
        """`(smallest, largest)` value accepted, the tolerance included."""
        return self.low - self.tolerance, self.high + self.tolerance

    def to_json(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, record):
        return cls(**record)


def pixel_rule(pixel_range):
    """The rule of a float image: the training pixel range `(lo, hi)` (either order), `PIXEL_TOLERANCE` beyond."""
    lo, hi = sorted(float(v) for v in pixel_range)
    tolerance = PIXEL_TOLERANCE * (hi - lo)
    return Rule(
        lo, hi, tolerance, f"must be pixels in the training range [{lo:g}, {hi:g}] (at most {tolerance:g} beyond)"
    )


def rule_key(spec):
    """The key of an input spec's rule: `(name, dtype name)`, which tells the uint8 and float `image` apart.

    A rules table `{rule_key(spec): Rule}` belongs to one exported part; within a part an input's name and
    dtype say which spec it is (`signature_rules` looks SignatureDef inputs up the same way).
    """
    return spec.name, tf.dtypes.as_dtype(spec.dtype).name


def signature_rules(signature_defs, table):
    """`{signature: {input: Rule JSON}}` of `signature_defs`' inputs that have a rule in `table`, for the metadata."""
    rules = {}
    for name, signature_def in sorted(signature_defs.items()):
        found = {
            key: table[(key, tf.dtypes.as_dtype(info.dtype).name)].to_json()
            for key, info in sorted(signature_def.inputs.items())
            if (key, tf.dtypes.as_dtype(info.dtype).name) in table
        }
        if found:
            rules[name] = found
    return rules


def rules_from_json(record):
    """`{signature: {input: Rule}}` from what `signature_rules` returned."""
    return {name: {key: Rule.from_json(rule) for key, rule in inputs.items()} for name, inputs in record.items()}


# ------------------------------------------------------------------- in the graph
def _shown(x):
    """A tensor's value (scalar) or its min and max, as strings: an Assert whose data are all strings
    (or int32) is one op, where other data would wrap it in a cond that TFLite cannot drop as cleanly."""
    text = lambda t: tf.strings.as_string(t, shortest=True) if t.dtype.is_floating else tf.strings.as_string(t)  # noqa: E731
    if x.shape.rank == 0:
        return [text(x)]
    return ["values from", text(tf.reduce_min(x)), "to", text(tf.reduce_max(x))]


def _graph_checks(signature, key, x, rule):
    """The assert ops of input `key` (after its EnsureShape): finite floats, then `rule`'s range."""
    checks = []
    where = f"{signature}: {key}"
    if x.dtype.is_floating:
        finite = tf.math.is_finite(x)
        bad = tf.reduce_sum(tf.cast(tf.logical_not(finite), tf.int32))
        checks.append(
            tf.debugging.Assert(
                tf.reduce_all(finite), [f"{where} must be finite (no NaN or inf); got", bad, "non-finite values"]
            )
        )
    if rule is not None:
        low, high = rule.bounds
        if not x.dtype.is_floating:
            low, high = int(np.ceil(low)), int(np.floor(high))
        # After the finite check: NaN fails every comparison, and "not finite" is then the message that helps.
        with tf.control_dependencies(checks):
            inside = tf.reduce_all((x >= tf.constant(low, x.dtype)) & (x <= tf.constant(high, x.dtype)))
            checks.append(tf.debugging.Assert(inside, [f"{where} {rule.requirement}; got", *_shown(x)]))
    return checks


def checked_tensors(signature, specs, tensors, rules=None):
    """`tensors` (the inputs of `signature`, in `specs`' order), each after its checks in the graph.

    Each input gets an EnsureShape (the TensorSpec alone does not stop a wrong shape in a TF2 call: an
    `[N, 28, 28]` batch would be reshaped and encoded silently; EnsureShape fails naming the input and the
    expected shape, and TFLite and tf2onnx drop it), then, for floats and inputs with a rule in `rules`
    (`{rule_key(spec): Rule}`), asserts that every later op waits for. Values pass unchanged: the checked
    tensor is an identity of the input.
    """
    rules = rules or {}
    checked = []
    for spec, x in zip(specs, tensors):
        x = tf.ensure_shape(x, spec.shape)
        checks = _graph_checks(signature, spec.name, x, rules.get(rule_key(spec)))
        if checks:
            with tf.control_dependencies(checks):
                x = tf.identity(x)
        checked.append(x)
    return checked


# ------------------------------------------------------------------- on numpy arrays
def _shape_problem(got, want):
    """What is wrong with shape `got` against `want` (-1: any size), in words."""
    if len(got) != len(want):
        return f"rank {len(got)} instead of {len(want)}"
    names = _DIMENSION_NAMES.get(len(want), ())
    return ", ".join(
        f"{names[i] if i < len(names) else f'dimension {i}'} {g} instead of {w}"
        for i, (g, w) in enumerate(zip(got, want))
        if w not in (-1, g)
    )


def check_array(key, array, dtype, shape, rule=None, where="the signature"):
    """`array`, if it fits input `key` of `where` (a signature, the TFLite encoder); else `InputError`.

    Checked: the dtype (exactly `dtype`), the shape (`shape`, -1 for any size; None: any shape), every
    float finite, and `rule`'s range. The message names the input and what it must be.
    """
    array = np.asarray(array)
    want = np.dtype(tf.dtypes.as_dtype(dtype).as_numpy_dtype)
    if array.dtype != want:
        raise InputError(f"input {key!r} is {array.dtype.name}, {where} wants {want.name}")
    if shape is not None:
        shape = [int(d) for d in shape]
        problem = _shape_problem(list(array.shape), shape)
        if problem:
            raise InputError(
                f"input {key!r} has shape {list(array.shape)}, {where} wants {shape} (-1: any size): {problem}"
            )
    if array.dtype.kind == "f":
        finite = np.isfinite(array)
        if not finite.all():
            raise InputError(
                f"input {key!r} of {where} must be finite (no NaN or inf); got {int((~finite).sum())} non-finite "
                f"values, the first at {tuple(int(i) for i in np.argwhere(~finite)[0])}"
            )
    if rule is not None and array.size:
        low, high = rule.bounds
        if array.min() < low or array.max() > high:
            got = f"{array.item():g}" if array.ndim == 0 else f"values from {array.min():g} to {array.max():g}"
            raise InputError(f"input {key!r} of {where} {rule.requirement}; got {got}")
    return array
