"""The TF Serving side of an export: `models.config`, warm-up records, SignatureDefs,
and a request check.

`tensorflow_model_server` cannot be installed on these machines, so what the server
would do with a request is reproduced offline: `validate_predict_request` checks a
request (a gRPC `PredictRequest`, or a REST body as a dict or JSON text) against the
SignatureDef it names: keys, dtypes, shapes, batch sizes (the server's own checks,
with clearer messages), and, before the model sees them, the values the signatures
would refuse when they run (NaN / inf floats, float images beyond the pixel range, the
editor's index and cutoff ranges: `alae_tf.export.input_checks`, with the ranges the
export's metadata carries, `read_input_rules`). `run_predict_request` then runs it
through the SavedModel.
"""

import json
import pathlib
from collections.abc import Mapping

import numpy as np
import tensorflow as tf
from google.protobuf import text_format
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2
from tensorflow_serving.config import model_server_config_pb2

from alae_tf import atomic, storage
from alae_tf.export import input_checks
from alae_tf.export.artifacts import ExportError, read_metadata

WARMUP_PATH = pathlib.Path("assets.extra") / "tf_serving_warmup_requests"
DEFAULT_SIGNATURE = "serving_default"
# Inputs that may hold one row for the whole batch instead of one per image (the editor's `direction`).
BROADCAST_INPUTS = frozenset({"direction"})
_INIT_OP = "__saved_model_init_op"  # a SignatureDef-shaped entry that is not a signature
_REST_KEYS = frozenset({"signature_name", "inputs", "instances"})
# What a JSON value's numpy kind is, in words, for the dtype messages.
_KINDS = {"b": "true/false values", "f": "floating-point numbers", "U": "strings", "S": "bytes"}


class PredictRequestError(ValueError):
    """A `PredictRequest` that does not fit the SignatureDef it names."""


# ----------------------------------------------------------------- SignatureDefs
def read_signature_defs(saved_model_dir, tag="serve"):
    """`{name: SignatureDef}` of the MetaGraph tagged `tag`, as the model server sees them."""
    path = storage.path(saved_model_dir) / "saved_model.pb"
    if not path.is_file():
        raise ExportError(f"{saved_model_dir} is not a SavedModel folder (no saved_model.pb)")
    saved_model = saved_model_pb2.SavedModel.FromString(path.read_bytes())
    for meta_graph in saved_model.meta_graphs:
        if tag in meta_graph.meta_info_def.tags:
            return {k: v for k, v in meta_graph.signature_def.items() if k != _INIT_OP}
    raise ExportError(f"{saved_model_dir} has no MetaGraph tagged {tag!r}")


def _shape(tensor_shape):
    return [d.size for d in tensor_shape.dim]


def _dtype_name(enum):
    return tf.dtypes.as_dtype(enum).name


def example_inputs(signature_def, batch=1, pixel_range=(0.0, 1.0), seed=0, int_ranges=None):
    """Plausible random inputs for `signature_def`, `batch` rows each.

    uint8 inputs are pixels 0..255; float images (rank 4) are uniform in
    `pixel_range`; other float inputs (z, w, directions, strengths) standard
    normal; integer inputs uniform in `int_ranges[key]` (`(low, high)`,
    half-open: the editor's `index` and `cutoff`) where given, else
    non-negative ints (seeds).

    Raises:
        ExportError: an integer input whose range in `int_ranges` is empty
            (no valid request exists, e.g. `edit_by_index` of an editor
            exported without directions).
    """
    rng = np.random.default_rng(seed)
    int_ranges = int_ranges or {}
    inputs = {}
    for key, info in sorted(signature_def.inputs.items()):
        shape = [batch if d == -1 else d for d in _shape(info.tensor_shape)]
        dtype = tf.dtypes.as_dtype(info.dtype)
        if dtype == tf.uint8:
            value = rng.integers(0, 256, shape, dtype=np.uint8)
        elif dtype.is_floating and len(shape) == 4:
            value = rng.uniform(min(pixel_range), max(pixel_range), shape)
        elif dtype.is_floating:
            value = rng.standard_normal(shape)
        elif dtype.is_integer:
            low, high = int_ranges.get(key, (0, 2**31 - 1))
            if low >= high:
                raise ExportError(f"no valid value for input {key!r}: its range [{low}, {high}) is empty")
            value = rng.integers(low, high, shape)
        else:
            raise ExportError(f"no example input for {key!r} of type {dtype.name}")
        inputs[key] = np.asarray(value, dtype.as_numpy_dtype)
    return inputs


# ------------------------------------------------------------------ models.config
def write_models_config(path, base_paths):
    """Write a text-format `ModelServerConfig` serving `{model name: base path}`.

    Each model's versions are the integer folders under its base path; the
    server serves the newest by default.
    """
    config = model_server_config_pb2.ModelServerConfig()
    for name, base_path in base_paths.items():
        entry = config.model_config_list.config.add()
        entry.name = name
        entry.base_path = str(base_path)
        entry.model_platform = "tensorflow"
    atomic.write_text(path, text_format.MessageToString(config))


def read_models_config(path):
    """Parse a text-format `ModelServerConfig` (as the model server does).

    Raises:
        ExportError: the file is not a valid ModelServerConfig.
    """
    try:
        return text_format.Parse(storage.path(path).read_text(), model_server_config_pb2.ModelServerConfig())
    except text_format.ParseError as e:
        raise ExportError(f"{path} is not a valid models.config ({e}): fix or delete it") from e


# ----------------------------------------------------------------- requests
def predict_request(model_name, signature_name, inputs):
    """A `PredictRequest` for `model_name`'s `signature_name` with numpy `inputs`."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    for key, value in inputs.items():
        request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    return request


def _has_valid_inputs(signature_def, int_ranges):
    """False if an integer input of `signature_def` has an empty range in `int_ranges`."""
    return all(
        int_ranges.get(key, (0, 1))[0] < int_ranges.get(key, (0, 1))[1]
        for key, info in signature_def.inputs.items()
        if tf.dtypes.as_dtype(info.dtype).is_integer
    )


def write_warmup(saved_model_dir, model_name, signature_defs, pixel_range=(0.0, 1.0), int_ranges=None):
    """Write `assets.extra/tf_serving_warmup_requests`: one batch-1 request per signature.

    The model server replays these before it reports the model available,
    so the first real request of every signature does not pay for graph
    setup; a request that fails would stop the model from loading, so a
    signature without any valid request (an integer input whose range in
    `int_ranges` is empty: `edit_by_index` of an editor without directions)
    gets none. Integer inputs are drawn from `int_ranges` (see
    `example_inputs`).

    Returns:
        The names of the signatures that got a request, sorted.
    """
    int_ranges = int_ranges or {}
    path = storage.path(saved_model_dir) / WARMUP_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    names = [name for name in sorted(signature_defs) if _has_valid_inputs(signature_defs[name], int_ranges)]
    with tf.io.TFRecordWriter(str(path)) as writer:
        for name in names:
            inputs = example_inputs(signature_defs[name], 1, pixel_range, int_ranges=int_ranges)
            request = predict_request(model_name, name, inputs)
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
    return names


def read_warmup(saved_model_dir):
    """The `PredictRequest`s in a SavedModel's warm-up file."""
    path = storage.path(saved_model_dir) / WARMUP_PATH
    return [
        prediction_log_pb2.PredictionLog.FromString(record.numpy()).predict_log.request
        for record in tf.data.TFRecordDataset(str(path))
    ]


def read_input_rules(saved_model_dir):
    """`{signature: {input: input_checks.Rule}}`: the value ranges an export's signatures check.

    Written into the metadata at export (`input_rules`); an export written before that has none, and
    the validator then checks what holds for every signature (finite floats) only.

    Raises:
        ExportError: not a SavedModel written by this package.
    """
    return input_checks.rules_from_json(read_metadata(saved_model_dir).get("input_rules", {}))


def _check_keys(name, signature_def, keys):
    want, got = set(signature_def.inputs), set(keys)
    if want == got:
        return
    problems = []
    if want - got:
        problems.append(f"missing {sorted(want - got)}")
    if got - want:
        problems.append(f"unexpected {sorted(got - want)}")
    raise PredictRequestError(
        f"signature {name!r} takes inputs {sorted(want)}; the request has {sorted(got)} ({', '.join(problems)})"
    )


def _proto_array(name, key, info, proto):
    """A `TensorProto`'s values, after checking its dtype (before they are read as that dtype)."""
    if proto.dtype != info.dtype:
        raise PredictRequestError(
            f"input {key!r} is {_dtype_name(proto.dtype)}, signature {name!r} wants {_dtype_name(info.dtype)}"
        )
    try:
        return tf.make_ndarray(proto)
    except (ValueError, TypeError) as e:
        raise PredictRequestError(
            f"input {key!r}: its values do not fill shape {_shape(proto.tensor_shape)} ({e})"
        ) from e


def _value_array(name, key, info, value):
    """A REST input's values (JSON numbers, nested lists) as the signature's dtype, or a numpy array as is.

    A numpy array must have the signature's dtype exactly (checked later, as for a TensorProto). JSON
    numbers are what TF Serving's REST API takes: any number for a float input, whole numbers that fit
    for an integer one (a float pixel in a uint8 image is the wrong dtype, not a pixel to round).
    """
    if isinstance(value, (np.ndarray, np.generic)):
        return np.asarray(value)
    dtype = tf.dtypes.as_dtype(info.dtype)
    try:
        array = np.array(value)
    except ValueError as e:  # ragged lists
        raise PredictRequestError(f"input {key!r}: its values do not form one regular array ({e})") from e
    if array.size == 0:
        return array.astype(dtype.as_numpy_dtype)
    kind = array.dtype.kind
    if dtype.is_integer:
        limits = np.iinfo(dtype.as_numpy_dtype)
        if kind not in "iu":
            got = _KINDS.get(kind, "values that are not numbers")
            raise PredictRequestError(
                f"input {key!r} holds {got}, signature {name!r} wants {dtype.name} "
                f"(whole numbers {limits.min}..{limits.max})"
            )
        if array.min() < limits.min or array.max() > limits.max:
            raise PredictRequestError(
                f"input {key!r} has values from {array.min()} to {array.max()}, signature {name!r} wants "
                f"{dtype.name} ({limits.min}..{limits.max})"
            )
    elif dtype.is_floating:
        if kind not in "iuf":
            got = _KINDS.get(kind, "values that are not numbers")
            raise PredictRequestError(f"input {key!r} holds {got}, signature {name!r} wants {dtype.name} (numbers)")
    else:
        raise PredictRequestError(f"input {key!r}: {dtype.name} inputs are not read from JSON here")
    # A number beyond float32 becomes inf, which the finite check then refuses.
    with np.errstate(over="ignore"):
        return array.astype(dtype.as_numpy_dtype)


def _rest_body(request):
    """A REST body (dict, or JSON text) as a dict with its keys checked."""
    if isinstance(request, (str, bytes, bytearray)):
        try:
            request = json.loads(request)
        except ValueError as e:
            raise PredictRequestError(f"the request is not valid JSON ({e})") from e
    if not isinstance(request, Mapping):
        raise PredictRequestError(
            "a request is a PredictRequest or a REST body {'signature_name', 'inputs' or 'instances'}, "
            f"got {type(request).__name__}"
        )
    unknown = sorted(set(request) - _REST_KEYS)
    if unknown:
        raise PredictRequestError(f"unexpected keys {unknown} in the request; a REST body has {sorted(_REST_KEYS)}")
    if ("inputs" in request) == ("instances" in request):
        raise PredictRequestError(
            "a REST body holds either 'inputs' (columnar: {input: values}) or 'instances' (one entry per example)"
        )
    return request


def _rest_inputs(name, signature_def, body):
    """`{input: value}` of a REST body, columnar (`inputs`) or row format (`instances`), as TF Serving reads them."""
    keys = sorted(signature_def.inputs)
    if "inputs" in body:
        inputs = body["inputs"]
        if isinstance(inputs, Mapping):
            return dict(inputs)
        if len(keys) == 1:  # a single input may be given bare
            return {keys[0]: inputs}
        raise PredictRequestError(f"signature {name!r} takes inputs {keys}: 'inputs' must name them")
    instances = body["instances"]
    if not isinstance(instances, list) or not instances:
        raise PredictRequestError("'instances' must be a non-empty list, one entry per example")
    if all(isinstance(instance, Mapping) for instance in instances):
        named = {tuple(sorted(instance)) for instance in instances}
        if len(named) > 1:
            raise PredictRequestError(f"the instances name different inputs: {sorted(named)}")
        return {key: [instance[key] for instance in instances] for key in instances[0]}
    if len(keys) == 1 and not any(isinstance(instance, Mapping) for instance in instances):
        return {keys[0]: instances}
    raise PredictRequestError(f"signature {name!r} takes inputs {keys}: each instance must be {{input: value}}")


def validate_predict_request(request, signature_defs, input_rules=None):
    """Check `request` against the SignatureDef it names; returns `(name, {key: ndarray})`.

    `request`: a `PredictRequest` (gRPC), or a REST body (a dict, or its JSON text):
    `{"signature_name": ..., "inputs": {key: values}}` (columnar) or `{..., "instances": [...]}` (row
    format, one entry per example), values as JSON numbers (nested lists) or numpy arrays.

    Checked: the signature exists (no or an empty name means `serving_default`), the input keys are
    exactly the signature's, each input's dtype and shape fit (-1 matches any size; a numpy array or a
    TensorProto must have the dtype exactly, JSON numbers must fit it), the values fill the shape, every
    float is finite, the values respect `input_rules` (`{signature: {input: Rule}}`, from
    `read_input_rules`: float images in the pixel range, the editor's index and cutoff), and all inputs
    but scalars agree on the batch size (an input of `BROADCAST_INPUTS` may also have one row, for
    every image). Without `input_rules`, value ranges are checked by the signatures themselves when
    they run.

    Raises:
        PredictRequestError: saying which input is wrong and what was expected.
    """
    if isinstance(request, predict_pb2.PredictRequest):
        name, body = request.model_spec.signature_name or DEFAULT_SIGNATURE, None
    else:
        body = _rest_body(request)
        name = body.get("signature_name") or DEFAULT_SIGNATURE
    if name not in signature_defs:
        raise PredictRequestError(f"no signature {name!r}; this model has {sorted(signature_defs)}")
    signature_def = signature_defs[name]
    if body is None:
        values, to_array = dict(request.inputs), _proto_array
    else:
        values, to_array = _rest_inputs(name, signature_def, body), _value_array
    _check_keys(name, signature_def, values)
    rules = (input_rules or {}).get(name, {})
    arrays = {}
    for key, info in sorted(signature_def.inputs.items()):
        shape = None if info.tensor_shape.unknown_rank else _shape(info.tensor_shape)
        array = to_array(name, key, info, values[key])
        try:
            arrays[key] = input_checks.check_array(
                key, array, info.dtype, shape, rules.get(key), where=f"signature {name!r}"
            )
        except input_checks.InputError as e:
            raise PredictRequestError(str(e)) from e
    batches = {key: a.shape[0] for key, a in sorted(arrays.items()) if a.ndim}
    # One row of a broadcast input goes with any batch; else every batched input has the batch's rows.
    sizes = {b for key, b in batches.items() if not (key in BROADCAST_INPUTS and b == 1)}
    if len(sizes) > 1:
        once = sorted(BROADCAST_INPUTS & set(batches))
        hint = f" ({', '.join(once)}: one row for every image, or one per image)" if once else ""
        raise PredictRequestError(f"inputs of signature {name!r} disagree on the batch size: {batches}{hint}")
    return name, arrays


def run_predict_request(loaded, request, signature_defs, input_rules=None):
    """Validate `request` (see `validate_predict_request`), run it through `loaded` (from
    `tf.saved_model.load`), and return a `PredictResponse`."""
    name, arrays = validate_predict_request(request, signature_defs, input_rules)
    outputs = loaded.signatures[name](**{key: tf.constant(value) for key, value in arrays.items()})
    response = predict_pb2.PredictResponse()
    if isinstance(request, predict_pb2.PredictRequest):
        response.model_spec.CopyFrom(request.model_spec)
    response.model_spec.signature_name = name
    for key, value in outputs.items():
        response.outputs[key].CopyFrom(tf.make_tensor_proto(value.numpy()))
    return response
