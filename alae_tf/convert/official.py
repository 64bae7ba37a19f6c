"""Name and layout mapping between the official PyTorch parameters and ours.

The official code stores *run-time* weights in torch layouts (`Linear.weight`
is `(out, in)`) and keeps the equalized-lr coefficient in its optimizer; our
layers store `run-time / coef` in Keras layouts and multiply at run time. This
module is plain numpy: it is what the parity tests exercise, and what
`alae-convert` uses on real checkpoints.
"""

import dataclasses

import numpy as np


class ConversionError(ValueError):
    """The official parameters do not fit the Keras nets (missing, extra, wrong shape)."""


# Official layout -> Keras layout, and back. Each entry is (to_keras, to_official).
LAYOUTS = {
    # identity: biases, vectors
    None: (lambda v: v, lambda v: v),
    # Linear.weight (out, in) -> Dense kernel (in, out)
    "dense": (lambda v: v.T, lambda v: v.T),
    # Conv2d.weight (out, in, kh, kw) -> Conv2D kernel (kh, kw, in, out)
    "conv": (lambda v: v.transpose(2, 3, 1, 0), lambda v: v.transpose(3, 2, 0, 1)),
    # ConvTranspose2d.weight (in, out, kh, kw) -> our (kh, kw, in, out)
    "conv_transpose": (lambda v: v.transpose(2, 3, 0, 1), lambda v: v.transpose(2, 3, 0, 1)),
    # per-channel nn.Parameter (1, C, 1, 1) -> (C,)
    "channel": (lambda v: v.reshape(-1), lambda v: v.reshape(1, -1, 1, 1)),
    # feature map (1, C, H, W) -> (1, H, W, C)
    "nchw": (lambda v: v.transpose(0, 2, 3, 1), lambda v: v.transpose(0, 3, 1, 2)),
}


@dataclasses.dataclass(frozen=True)
class OfficialParameter:
    """One official tensor and the Keras variable it maps to.

    Attributes:
        name: official name, `<net>/<state_dict key>` (e.g. `encoder/fc_1.weight`).
        variable: the Keras variable.
        scale: run-time multiplier of the Keras variable (`coef` for weights,
            `lrmul` for biases): official = keras * scale.
        transpose: shorthand for `layout="dense"` (kept for the MLP map).
        rows: official output rows kept (D's last layer keeps only the logit
            row); taken along the official tensor's first axis, before the
            layout change.
        layout: one of `LAYOUTS`: how the official tensor is arranged
            (`"dense"`, `"conv"`, `"conv_transpose"`, `"channel"`, `"nchw"`,
            or None for the same layout).
    """

    name: str
    variable: object
    scale: float = 1.0
    transpose: bool = False
    rows: slice | None = None
    layout: str | None = None

    def __post_init__(self):
        if self.layout not in LAYOUTS:
            known = sorted(map(str, LAYOUTS))
            raise ValueError(f"{self.name}: unknown layout {self.layout!r}; expected one of {known}")
        if self.transpose and self.layout not in (None, "dense"):
            raise ValueError(f"{self.name}: transpose=True conflicts with layout {self.layout!r}")

    @property
    def effective_layout(self):
        return "dense" if self.transpose else self.layout

    def to_keras(self, official):
        value = np.asarray(official, np.float32)
        if self.rows is not None:
            value = value[self.rows]
        value = LAYOUTS[self.effective_layout][0](value)
        return value / np.float32(self.scale)

    def to_official(self, keras_value):
        value = np.asarray(keras_value, np.float32) * np.float32(self.scale)
        return LAYOUTS[self.effective_layout][1](value)


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


def _conv_parameters(prefix, layer, layout="conv"):
    params = [OfficialParameter(f"{prefix}.weight", layer.kernel, layer.coef, layout=layout)]
    if getattr(layer, "use_bias", False):
        params.append(OfficialParameter(f"{prefix}.bias", layer.bias, layer.lrmul))
    return params


def _epilogue_parameters(prefix, k, noise, bias, style):
    """A generator block's k-th noise weight, bias and style affine."""
    return [
        OfficialParameter(f"{prefix}.noise_weight_{k}", noise.weight, layout="channel"),
        OfficialParameter(f"{prefix}.bias_{k}", bias, layout="channel"),
    ] + _dense_parameters(f"{prefix}.style_{k}", style.affine)


def style_parameter_map(mapping, generator, encoder, discriminator, logit_index=None):
    """Official names of the StyleALAE (branch `master`) -> our variables.

    Official nets: `encoder` (EncoderDefault: `from_rgb.i.from_rgb`,
    `encode_block.i.{conv_1, bias_1, conv_2, bias_2, style_1, style_2}`),
    `decoder` (Generator: `const`, `decode_block.i.{conv_1, noise_weight_1,
    bias_1, style_1, conv_2, noise_weight_2, bias_2, style_2}` with no
    `conv_1` in block 0, `to_rgb.i.to_rgb`), `mapping_f` (F:
    `map_blocks.i.fc`) and `mapping_d` (D: `map_blocks.i`, whose last layer
    has `2 * latent` outputs; unit `logit_index`, by default `latent`, is the
    logit). Block indices are the official ones (our `blocks[i]`).

    Returns:
        list of `OfficialParameter`, one per official tensor we use.
    """
    latent = discriminator.latent_size
    logit_index = latent if logit_index is None else int(logit_index)
    params = []
    for i, (from_rgb, block) in enumerate(zip(encoder.from_rgb, encoder.blocks)):
        params += _conv_parameters(f"encoder/from_rgb.{i}.from_rgb", from_rgb.conv)
        prefix = f"encoder/encode_block.{i}"
        params += _conv_parameters(f"{prefix}.conv_1", block.conv_1)
        params.append(OfficialParameter(f"{prefix}.bias_1", block.bias_1, layout="channel"))
        params += _conv_parameters(f"{prefix}.conv_2", block.conv_2)
        params.append(OfficialParameter(f"{prefix}.bias_2", block.bias_2, layout="channel"))
        params += _dense_parameters(f"{prefix}.style_1", block.style_1)
        params += _dense_parameters(f"{prefix}.style_2", block.style_2)
    params.append(OfficialParameter("decoder/const", generator.constant.const, layout="nchw"))
    for i, (block, to_rgb) in enumerate(zip(generator.blocks, generator.to_rgb)):
        prefix = f"decoder/decode_block.{i}"
        if block.upsample:
            params += _conv_parameters(f"{prefix}.conv_1", block.conv_1, "conv_transpose" if block.fused else "conv")
        params += _epilogue_parameters(prefix, 1, block.noise_1, block.bias_1, block.style_1)
        params += _conv_parameters(f"{prefix}.conv_2", block.conv_2)
        params += _epilogue_parameters(prefix, 2, block.noise_2, block.bias_2, block.style_2)
        params += _conv_parameters(f"decoder/to_rgb.{i}.to_rgb", to_rgb.conv)
    for i, layer in enumerate(mapping.dense_layers):
        params += _dense_parameters(f"mapping_f/map_blocks.{i}.fc", layer)
    last = len(discriminator.dense_layers) - 1
    for i, layer in enumerate(discriminator.dense_layers):
        rows = slice(logit_index, logit_index + 1) if i == last else None
        params += _dense_parameters(f"mapping_d/map_blocks.{i}", layer, rows=rows)
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
