"""Serving inputs: every exported signature refuses a wrong dtype, rank, size, channel count or latent length,
non-finite floats and out-of-range values, with a message naming the input: in the SavedModel (TF2 load, and
the TF1 serve tag as TF Serving runs it), in the PredictRequest / REST validator, and in the TFLite runner.

The bad inputs are derived from each signature's SignatureDef and the ranges the export records
(`serving.read_input_rules`), not written per signature: a new input or signature gets them too, and
`test_every_exported_signature_is_checked` fails until a new signature is in `CASES`. The exports are of
untrained nets (input checks do not depend on the weights): the tiny MLP (28 x 28 x 1, [0, 1]) and a
faces_tiny-like StyleALAE at level 1 (8 x 8 x 3, [-1, 1], with the editor's `mix`), both with three baked
directions.
"""

import dataclasses
import json

import numpy as np
import pytest
import tensorflow as tf

from alae_tf import builders, editing
from alae_tf.export import input_checks, litert_check, saved_model, serving, tflite
from tests.export.conftest import EXPECTED_SIGNATURES, TINY
from tests.export.style_export_test import LEVEL, TINY_STYLE

KINDS = {"mlp": TINY, "style": TINY_STYLE}
DIRECTIONS = 3
CASES = [
    (kind, part, name)
    for kind in KINDS
    for part, names in EXPECTED_SIGNATURES.items()
    for name in sorted([*names, "mix"] if (kind, part) == ("style", "editor") else names)
]
# TF's names of the dtypes, in its "expected to be a <dtype> tensor" message.
TF_DTYPE_NAMES = {"float32": "float", "float64": "double"}


@dataclasses.dataclass(frozen=True)
class Export:
    config: object
    result: saved_model.ExportResult

    def dir(self, part):
        return self.result.saved_models[part]


def export_untrained(kind, folder):
    """`kind`'s nets, untrained, exported with every part and `DIRECTIONS` random directions."""
    config = KINDS[kind]
    model = builders.build_model(config, seed=1)
    if kind == "style":
        model.set_level(LEVEL)
    rng = np.random.default_rng(2)
    directions = [
        editing.Direction(f"d{i}", rng.standard_normal(config.latent_size), {"by": "test"}) for i in range(DIRECTIONS)
    ]
    return Export(config, saved_model.export_saved_models(model, config, folder, version=1, directions=directions))


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    return {kind: export_untrained(kind, tmp_path_factory.mktemp(f"serving_inputs_{kind}")) for kind in KINDS}


@pytest.fixture(scope="module")
def served(exports):
    """`{(kind, part): (loaded SavedModel, SignatureDefs, input rules)}`; the loaded objects stay referenced here."""
    return {
        (kind, part): (
            tf.saved_model.load(str(export.dir(part))),
            serving.read_signature_defs(export.dir(part)),
            serving.read_input_rules(export.dir(part)),
        )
        for kind, export in exports.items()
        for part in saved_model.PARTS
    }


# ------------------------------------------------------------------ bad inputs
@dataclasses.dataclass(frozen=True)
class Bad:
    """One bad input: `inputs` are a valid request but for input `key`, wrong in the way `what` says."""

    key: str
    what: str  # dtype, rank, height, width, channels, length, non-finite, range
    inputs: dict
    rule: input_checks.Rule | None = None

    def __str__(self):
        value = self.inputs[self.key]
        return f"{self.key} ({self.what}: {value.dtype} {list(value.shape)})"


def int_ranges(rules):
    """`{input: (low, high)}` (half-open) for `serving.example_inputs`, which reads it for integer inputs only."""
    return {key: (int(rule.low), int(rule.high) + 1) for key, rule in rules.items()}


def good_inputs(signature_def, rules, pixel_range):
    return serving.example_inputs(signature_def, 3, pixel_range, seed=4, int_ranges=int_ranges(rules))


def with_size(value, axis, size):
    """`value` with `size` entries along `axis` (the first ones, or the first repeated)."""
    return np.take(value, np.arange(size) % value.shape[axis], axis=axis)


def bad_inputs(signature_def, rules, pixel_range):
    """Every bad input of a signature, derived from its SignatureDef and its `rules` (`{input: Rule}`)."""
    good = good_inputs(signature_def, rules, pixel_range)
    dimension_names = {4: (None, "height", "width", "channels"), 2: (None, "length")}
    for key, info in sorted(signature_def.inputs.items()):
        value, dtype = good[key], tf.dtypes.as_dtype(info.dtype)
        shape = [d.size for d in info.tensor_shape.dim]
        bad = lambda what, v, key=key: Bad(key, what, {**good, key: v}, rules.get(key))  # noqa: E731
        # float32 pixels into a uint8 image, an int into a float code, a float into an index or seed.
        yield bad("dtype", value.astype(np.int32 if dtype.is_floating else np.float32))
        yield bad("rank", value[..., None])
        if value.ndim:
            yield bad("rank", value[..., 0])  # an image without its channel axis, a code without its rows
        for axis, size in enumerate(shape):
            if size > 0:
                what = dimension_names[len(shape)][axis]
                yield bad(what, with_size(value, axis, size + 1))
                if size > 1:
                    yield bad(what, with_size(value, axis, size - 1))
        if dtype.is_floating:
            for number in (np.nan, np.inf, -np.inf):
                v = value.copy()
                v.flat[-1] = number
                yield bad("non-finite", v)
        rule = rules.get(key)
        if rule is not None:
            low, high = rule.bounds
            # Just beyond the tolerance on either side; for images also pixels sent as 0..255.
            for number in (low - rule.tolerance, high + rule.tolerance) if dtype.is_floating else (low - 1, high + 1):
                v = value.copy()
                v.flat[-1] = number
                yield bad("range", v)
            if dtype.is_floating:
                yield bad("range", np.round((value - rule.low) / (rule.high - rule.low) * 255).astype(value.dtype))


def tf_name(dtype):
    name = tf.dtypes.as_dtype(dtype).name
    return TF_DTYPE_NAMES.get(name, name)


def assert_graph_refuses(message, name, bad, signature_def):
    """The message of the SavedModel's refusal names `bad`'s input (or, for a dtype, its expected dtype)."""
    info = signature_def.inputs[bad.key]
    if bad.what == "dtype":  # refused by TF before the graph runs: it gives the input's position, not its name
        assert f"was expected to be a {tf_name(info.dtype)} tensor" in message, message
    elif bad.what == "non-finite":
        assert f"{name}: {bad.key} must be finite (no NaN or inf)" in message, message
    elif bad.what == "range":
        assert f"{name}: {bad.key} {bad.rule.requirement}" in message, message
    else:
        assert f"Shape of tensor {bad.key} [" in message and "is not compatible with expected shape" in message, message


def assert_validator_refuses(message, name, bad, signature_def, json_body=False):
    info = signature_def.inputs[bad.key]
    want = tf.dtypes.as_dtype(info.dtype).name
    if bad.what == "dtype" and json_body:
        assert f"input {bad.key!r} holds floating-point numbers, signature {name!r} wants {want}" in message, message
    elif bad.what == "dtype":
        assert f"input {bad.key!r} is {bad.inputs[bad.key].dtype.name}, signature {name!r} wants {want}" in message
    elif bad.what == "non-finite":
        assert f"input {bad.key!r} of signature {name!r} must be finite (no NaN or inf)" in message, message
    elif bad.what == "range":
        assert f"input {bad.key!r} of signature {name!r} {bad.rule.requirement}" in message, message
    else:
        assert f"input {bad.key!r} has shape {list(bad.inputs[bad.key].shape)}, signature {name!r} wants" in message
        detail = "rank" if bad.what == "rank" else bad.what
        assert f"(-1: any size): {detail} " in message, message


def run(loaded, name, inputs):
    return loaded.signatures[name](**{key: tf.constant(value) for key, value in inputs.items()})


def rest_body(name, inputs):
    """The JSON text of a columnar REST request (NaN and inf as Python's json writes them)."""
    return json.dumps({"signature_name": name, "inputs": {key: value.tolist() for key, value in inputs.items()}})


# ------------------------------------------------------------------ per signature
def test_every_exported_signature_is_checked(served):
    exported = {(kind, part, name) for (kind, part), (_, defs, _) in served.items() for name in defs}
    assert exported == set(CASES), "a signature was added or removed: update CASES (and what it must refuse)"


@pytest.mark.parametrize("kind, part, name", CASES)
def test_signature_refuses_bad_inputs_naming_them(exports, served, kind, part, name):
    loaded, defs, all_rules = served[(kind, part)]
    signature_def, rules = defs[name], all_rules.get(name, {})
    pixel_range = exports[kind].config.pixel_range
    # Valid inputs pass everywhere.
    good = good_inputs(signature_def, rules, pixel_range)
    run(loaded, name, good)
    serving.validate_predict_request(serving.predict_request(part, name, good), defs, all_rules)
    serving.validate_predict_request(rest_body(name, good), defs, all_rules)
    cases = list(bad_inputs(signature_def, rules, pixel_range))
    assert {b.key for b in cases} == set(signature_def.inputs)
    for bad in cases:
        with pytest.raises(tf.errors.InvalidArgumentError) as graph:
            run(loaded, name, bad.inputs)
        assert_graph_refuses(graph.value.message, name, bad, signature_def)
        request = serving.predict_request(part, name, bad.inputs)
        with pytest.raises(serving.PredictRequestError) as validator:
            serving.validate_predict_request(request, defs, all_rules)
        assert_validator_refuses(str(validator.value), name, bad, signature_def)
        body = rest_body(name, bad.inputs)
        if bad.what == "dtype" and signature_def.inputs[bad.key].dtype == tf.float32.as_datatype_enum:
            # A JSON number is a valid float: the same ints are a valid request.
            serving.validate_predict_request(body, defs, all_rules)
            continue
        with pytest.raises(serving.PredictRequestError) as rest:
            serving.validate_predict_request(body, defs, all_rules)
        assert_validator_refuses(str(rest.value), name, bad, signature_def, json_body=True)


def test_the_export_records_the_ranges_the_graph_checks(served):
    _, _, encoder = served[("mlp", "encoder")]
    assert list(encoder) == ["encode_float"]
    assert encoder["encode_float"]["image"] == input_checks.Rule(
        0.0, 1.0, 0.02, "must be pixels in the training range [0, 1] (at most 0.02 beyond)"
    )
    _, _, style_encoder = served[("style", "encoder")]
    assert style_encoder["encode_float"]["image"].bounds == pytest.approx((-1.04, 1.04))
    _, _, style_editor = served[("style", "editor")]
    assert sorted(style_editor) == ["edit_by_index", "mix"]
    assert style_editor["edit_by_index"]["index"].requirement.startswith("must be in [0, 3) (the directions baked in")
    assert style_editor["mix"]["cutoff"] == input_checks.Rule(0, 6, 0.0, "must be in [0, 6] (style inputs)")
    for part in ("mapping", "generator", "discriminator", "alae"):  # nothing but finite floats
        assert served[("mlp", part)][2] == {}, part


def test_pixels_within_the_tolerance_pass_and_beyond_it_fail(served):
    loaded, defs, rules = served[("mlp", "encoder")]
    images = np.random.default_rng(5).uniform(0, 1, [2, 28, 28, 1]).astype(np.float32)
    images[0, 0, 0, 0], images[1, 0, 0, 0] = -0.019, 1.019  # resampling overshoot: accepted
    run(loaded, "encode_float", {"image": images})
    serving.validate_predict_request(serving.predict_request("encoder", "encode_float", {"image": images}), defs, rules)
    images[1, 0, 0, 0] = 1.03
    message = r"encode_float: image must be pixels in the training range \[0, 1\] \(at most 0.02 beyond\); got\] "
    with pytest.raises(tf.errors.InvalidArgumentError, match=message + r"\[values from\] \[-0\.019\] \[to\] \[1\.03\]"):
        run(loaded, "encode_float", {"image": images})
    with pytest.raises(serving.PredictRequestError, match=r"must be pixels in .*; got values from -0\.019 to 1\.03"):
        serving.validate_predict_request(
            serving.predict_request("encoder", "encode_float", {"image": images}), defs, rules
        )


def test_tf1_serve_tag_refuses_bad_values_as_tf_serving_runs_them(exports, served):
    """The model server runs the SignatureDefs' tensors in a session on the serve tag: the same asserts fire."""
    export = exports["style"]
    cases = [
        ("encoder", "encode_float", "image", "range"),
        ("generator", "decode_with_seed", "w", "non-finite"),
        ("editor", "edit", "strength", "non-finite"),
        ("editor", "edit_by_index", "index", "range"),
        ("editor", "mix", "cutoff", "range"),
    ]
    for part, name, key, what in cases:
        _, defs, rules = served[("style", part)]
        bad = next(
            b
            for b in bad_inputs(defs[name], rules.get(name, {}), export.config.pixel_range)
            if (b.key, b.what) == (key, what)
        )
        with tf.Graph().as_default(), tf.compat.v1.Session() as sess:
            signature = tf.compat.v1.saved_model.loader.load(sess, ["serve"], str(export.dir(part))).signature_def[name]
            feed = {signature.inputs[k].name: v for k, v in bad.inputs.items()}
            with pytest.raises(tf.errors.InvalidArgumentError) as info:
                sess.run({k: v.name for k, v in signature.outputs.items()}, feed)
        assert_graph_refuses(info.value.message, name, bad, defs[name])


# ------------------------------------------------------------------ the validator
def test_validator_reads_rest_bodies_in_both_formats(served):
    loaded, defs, rules = served[("mlp", "editor")]
    rng = np.random.default_rng(6)
    images = rng.integers(0, 256, [2, 28, 28, 1], dtype=np.uint8)
    strength = np.array([1.0, -0.5], np.float32)
    columnar = {"signature_name": "edit_by_index", "inputs": {"image": images.tolist(), "index": [2, 0]}}
    columnar["inputs"]["strength"] = strength.tolist()
    rows = {
        "signature_name": "edit_by_index",
        "instances": [
            {"image": images[i].tolist(), "index": [2, 0][i], "strength": float(strength[i])} for i in range(2)
        ],
    }
    results = []
    for body in (columnar, json.dumps(rows), {**columnar, "inputs": {**columnar["inputs"], "image": images}}):
        name, arrays = serving.validate_predict_request(body, defs, rules)
        assert name == "edit_by_index" and arrays["image"].dtype == np.uint8 and arrays["index"].dtype == np.int32
        response = serving.run_predict_request(loaded, body, defs, rules)
        results.append(tf.make_ndarray(response.outputs["image"]))
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_array_equal(results[0], results[2])
    cases = [
        ("not json", r"the request is not valid JSON"),
        ({"inputs": {}, "instances": []}, r"either 'inputs' \(columnar"),
        ({"inputs": {}, "model": "editor"}, r"unexpected keys \['model'\]"),
        ({**columnar, "inputs": {**columnar["inputs"], "index": [2, 3]}}, r"input 'index' of .* must be in \[0, 3\)"),
        ({**columnar, "inputs": {**columnar["inputs"], "index": [2, 2**40]}}, r"int32 \(-2147483648\.\.2147483647\)"),
        ({**columnar, "inputs": {**columnar["inputs"], "image": images.tolist()[:1] + [[1]]}}, "one regular array"),
        ({**columnar, "inputs": {**columnar["inputs"], "strength": [True, False]}}, "holds true/false values"),
        ({**columnar, "inputs": {**columnar["inputs"], "image": (images.astype(int) + 200).tolist()}}, r"uint8 \(0"),
        ({**rows, "instances": [rows["instances"][0], {"image": []}]}, "the instances name different inputs"),
        ({**columnar, "inputs": {**columnar["inputs"], "image": images.astype(np.float32)}}, "is float32, .* uint8"),
    ]
    for body, message in cases:
        with pytest.raises(serving.PredictRequestError, match=message):
            serving.validate_predict_request(body, defs, rules)


def test_validator_without_the_exports_ranges_still_refuses_non_finite_floats(served):
    _, defs, _ = served[("mlp", "generator")]
    w = np.zeros([2, TINY.latent_size], np.float32)
    w[1, 3] = np.nan
    request = serving.predict_request("generator", "decode_float", {"w": w})
    with pytest.raises(
        serving.PredictRequestError,
        match=r"input 'w' of signature 'decode_float' must be finite \(no NaN or inf\); got 1 non-finite values, "
        r"the first at \(1, 3\)",
    ):
        serving.validate_predict_request(request, defs)


# ------------------------------------------------------------------ the TFLite runner
@pytest.fixture(scope="module")
def lite_encoders(exports):
    """`{kind: (LiteEncoder, encode_float SignatureDef, rules)}` of each export's float TFLite encoder."""
    out = {}
    for kind, export in exports.items():
        content = tflite.convert_encoder(export.dir("encoder"), "none")
        defs = serving.read_signature_defs(export.dir("encoder"))
        rules = serving.read_input_rules(export.dir("encoder")).get(litert_check.SIGNATURE, {})
        out[kind] = (litert_check.LiteEncoder(content, pixel_range=export.config.pixel_range), defs, rules)
    return out


@pytest.mark.parametrize("kind", KINDS)
def test_tflite_runner_refuses_bad_images_before_invoke(exports, lite_encoders, kind):
    lite, defs, rules = lite_encoders[kind]
    signature_def = defs[litert_check.SIGNATURE]
    where = "the TFLite encoder (encode_float)"
    good = good_inputs(signature_def, rules, exports[kind].config.pixel_range)["image"]
    # Valid images: what the bare signature runner gives, to the bit; float64 holds the same pixels.
    want = lite.runner(image=good)["w"]
    np.testing.assert_array_equal(lite.encode(good), want)
    np.testing.assert_array_equal(lite.encode(good.astype(np.float64)), want)
    for bad in bad_inputs(signature_def, rules, exports[kind].config.pixel_range):
        with pytest.raises(input_checks.InputError) as info:
            lite.encode(bad.inputs["image"])
        message = str(info.value)
        if bad.what == "dtype":
            assert f"input 'image' is int32, {where} wants float32 images in the training pixel range [" in message
        elif bad.what == "non-finite":
            assert f"input 'image' of {where} must be finite (no NaN or inf)" in message, message
        elif bad.what == "range":
            assert f"input 'image' of {where} {rules['image'].requirement}; got values from" in message, message
        else:
            shape = list(bad.inputs["image"].shape)
            assert f"input 'image' has shape {shape}, {where} wants [-1, " in message, message
    with pytest.raises(input_checks.InputError, match=r"input 'image' is uint8, .* map them with .*to_pixel_range"):
        lite.encode(np.zeros(good.shape, np.uint8))
    with pytest.raises(ValueError, match=r"input 'image' has shape \[1, .*\(-1: any size\): rank 3 instead of 4"):
        lite.call_latency_us(good[0, ..., 0], runs=1)
