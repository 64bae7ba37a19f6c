"""The TF Serving side of an export: `models.config`, warm-up records, SignatureDefs,
and a `PredictRequest` check.

`tensorflow_model_server` cannot be installed on these machines, so what the server
would do with a request is reproduced offline: `validate_predict_request` checks the
request's keys, dtypes and shapes against the SignatureDef (the server's own checks,
with clearer messages), and `run_predict_request` runs it through the SavedModel.
"""

import pathlib

import numpy as np
import tensorflow as tf
from google.protobuf import text_format
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2
from tensorflow_serving.config import model_server_config_pb2

from alae_tf import atomic
from alae_tf.export.artifacts import ExportError

WARMUP_PATH = pathlib.Path("assets.extra") / "tf_serving_warmup_requests"
DEFAULT_SIGNATURE = "serving_default"
# Inputs that may hold one row for the whole batch instead of one per image (the editor's `direction`).
BROADCAST_INPUTS = frozenset({"direction"})
_INIT_OP = "__saved_model_init_op"  # a SignatureDef-shaped entry that is not a signature


class PredictRequestError(ValueError):
    """A `PredictRequest` that does not fit the SignatureDef it names."""


# ----------------------------------------------------------------- SignatureDefs
def read_signature_defs(saved_model_dir, tag="serve"):
    """`{name: SignatureDef}` of the MetaGraph tagged `tag`, as the model server sees them."""
    path = pathlib.Path(saved_model_dir) / "saved_model.pb"
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
        return text_format.Parse(pathlib.Path(path).read_text(), model_server_config_pb2.ModelServerConfig())
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
    path = pathlib.Path(saved_model_dir) / WARMUP_PATH
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
    path = pathlib.Path(saved_model_dir) / WARMUP_PATH
    return [
        prediction_log_pb2.PredictionLog.FromString(record.numpy()).predict_log.request
        for record in tf.data.TFRecordDataset(str(path))
    ]


def _check_keys(name, signature_def, request):
    want, got = set(signature_def.inputs), set(request.inputs)
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


def _check_tensor(name, key, info, proto):
    if proto.dtype != info.dtype:
        raise PredictRequestError(
            f"input {key!r} is {_dtype_name(proto.dtype)}, signature {name!r} wants {_dtype_name(info.dtype)}"
        )
    want, got = _shape(info.tensor_shape), _shape(proto.tensor_shape)
    if not info.tensor_shape.unknown_rank and (
        len(want) != len(got) or any(w not in (-1, g) for w, g in zip(want, got))
    ):
        raise PredictRequestError(f"input {key!r} has shape {got}, signature {name!r} wants {want} (-1: any size)")
    try:
        return tf.make_ndarray(proto)
    except (ValueError, TypeError) as e:
        raise PredictRequestError(f"input {key!r}: its values do not fill shape {got} ({e})") from e


def validate_predict_request(request, signature_defs):
    """Check `request` against the SignatureDef it names; returns `(name, {key: ndarray})`.

    Checked: the signature exists (empty name means `serving_default`), the
    input keys are exactly the signature's, each input's dtype and shape fit
    (-1 matches any size), the values fill the shape, and all inputs but
    scalars agree on the batch size (an input of `BROADCAST_INPUTS` may
    also have one row, for every image). Value ranges (the editor's `index`
    and `cutoff`) are checked by the signatures themselves when they run.

    Raises:
        PredictRequestError: saying which input is wrong and what was expected.
    """
    name = request.model_spec.signature_name or DEFAULT_SIGNATURE
    if name not in signature_defs:
        raise PredictRequestError(f"no signature {name!r}; this model has {sorted(signature_defs)}")
    signature_def = signature_defs[name]
    _check_keys(name, signature_def, request)
    arrays = {key: _check_tensor(name, key, info, request.inputs[key]) for key, info in signature_def.inputs.items()}
    batches = {key: a.shape[0] for key, a in sorted(arrays.items()) if a.ndim}
    # One row of a broadcast input goes with any batch; else every batched input has the batch's rows.
    sizes = {b for key, b in batches.items() if not (key in BROADCAST_INPUTS and b == 1)}
    if len(sizes) > 1:
        once = sorted(BROADCAST_INPUTS & set(batches))
        hint = f" ({', '.join(once)}: one row for every image, or one per image)" if once else ""
        raise PredictRequestError(f"inputs of signature {name!r} disagree on the batch size: {batches}{hint}")
    return name, arrays


def run_predict_request(loaded, request, signature_defs):
    """Validate `request`, run it through `loaded` (from `tf.saved_model.load`), return a `PredictResponse`."""
    name, arrays = validate_predict_request(request, signature_defs)
    outputs = loaded.signatures[name](**{key: tf.constant(value) for key, value in arrays.items()})
    response = predict_pb2.PredictResponse()
    response.model_spec.CopyFrom(request.model_spec)
    response.model_spec.signature_name = name
    for key, value in outputs.items():
        response.outputs[key].CopyFrom(tf.make_tensor_proto(value.numpy()))
    return response
