"""Name and layout mapping between the official PyTorch parameters and ours.

The official code stores *run-time* weights in torch layouts (`Linear.weight`
is `(out, in)`) and keeps the equalized-lr coefficient in its optimizer; our
layers store `run-time / coef` in Keras layouts and multiply at run time. This
module is plain numpy: it is what the parity tests exercise, and what
`alae_tf.convert` binaries use on real checkpoints.
"""

import dataclasses

import numpy as np


class ConversionError(ValueError):
    """The official parameters do not fit the Keras nets (missing, extra, wrong shape)."""


@dataclasses.dataclass(frozen=True)
class OfficialParameter:
    """One official tensor and the Keras variable it maps to.

    Attributes:
        name: official name, `<net>/<state_dict key>` (e.g. `encoder/fc_1.weight`).
        variable: the Keras variable.
        scale: run-time multiplier of the Keras variable (`coef` for weights,
            `lrmul` for biases): official = keras * scale.
        transpose: official `Linear.weight` `(out, in)` vs Keras kernel `(in, out)`.
        rows: official output rows kept (D's last layer keeps only the logit row).
    """

    name: str
    variable: object
    scale: float = 1.0
    transpose: bool = False
    rows: slice | None = None

    def to_keras(self, official):
        value = np.asarray(official, np.float32)
        if self.rows is not None:
            value = value[self.rows]
        if self.transpose:
            value = value.T
        return value / np.float32(self.scale)

    def to_official(self, keras_value):
        value = np.asarray(keras_value, np.float32) * np.float32(self.scale)
        return value.T if self.transpose else value


def _dense_parameters(prefix, layer, rows=None):
    return [
        OfficialParameter(f"{prefix}.weight", layer.kernel, layer.coef, transpose=True, rows=rows),
        OfficialParameter(f"{prefix}.bias", layer.bias, layer.lrmul, rows=rows),
    ]


def mlp_parameter_map(mapping, generator, encoder, discriminator, logit_index=0):
    """Official names of the MLP ALAE (branch `mnist_ref`) -> our variables.

    Official nets: `encoder` (EncoderFC: fc_1..fc_3), `decoder` (GeneratorFC:
    fc_1..fc_3), `mapping_fl` (F: map_blocks.i.fc), `mapping_tl` (D:
    map_blocks.i, whose last layer has `latent` outputs; unit `logit_index`
    is the logit).

    Returns:
        list of `OfficialParameter`, one per official tensor we use.
    """
    params = []
    for i, layer in enumerate(encoder.dense_layers):
        params += _dense_parameters(f"encoder/fc_{i + 1}", layer)
    for i, layer in enumerate(generator.dense_layers):
        params += _dense_parameters(f"decoder/fc_{i + 1}", layer)
    for i, layer in enumerate(mapping.dense_layers):
        params += _dense_parameters(f"mapping_fl/map_blocks.{i}.fc", layer)
    last = len(discriminator.dense_layers) - 1
    for i, layer in enumerate(discriminator.dense_layers):
        rows = slice(logit_index, logit_index + 1) if i == last else None
        params += _dense_parameters(f"mapping_tl/map_blocks.{i}", layer, rows=rows)
    return params


def import_official(parameter_map, tensors, ignore_prefixes=()):
    """Assign official `tensors` (name -> array) to the mapped Keras variables.

    Raises:
        ConversionError: a mapped name is missing, a tensor's shape does not
            fit, or `tensors` holds names nothing maps to (other than those
            starting with one of `ignore_prefixes`). Nothing is assigned
            unless everything fits.
    """
    missing = [p.name for p in parameter_map if p.name not in tensors]
    if missing:
        raise ConversionError(f"official parameters missing: {missing[:8]}{' ...' if len(missing) > 8 else ''}")
    mapped = {p.name for p in parameter_map}
    extra = sorted(n for n in tensors if n not in mapped and not n.startswith(tuple(ignore_prefixes)))
    if extra:
        raise ConversionError(f"official parameters with no place in these nets: {extra[:8]}")
    values = []
    for p in parameter_map:
        value = p.to_keras(tensors[p.name])
        if tuple(value.shape) != tuple(p.variable.shape):
            raise ConversionError(
                f"{p.name}: official shape {np.shape(tensors[p.name])} gives {value.shape}, "
                f"but {p.variable.path} is {tuple(p.variable.shape)}"
            )
        values.append(value)
    for p, value in zip(parameter_map, values):
        p.variable.assign(value)


def export_official(parameter_map):
    """Our variables as official run-time tensors: name -> array (rows as kept)."""
    return {p.name: p.to_official(p.variable.numpy()) for p in parameter_map}
