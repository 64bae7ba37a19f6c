"""Float32 copies of the EMA nets and the serving signatures of every exported part.

Signatures (all with a dynamic batch N; images are NHWC):

| part | signature | inputs | outputs |
|---|---|---|---|
| mapping | serving_default | z float32 [N, latent] | w float32 [N, dlatent] |
| generator | serving_default | w float32 [N, dlatent] | image uint8 [N, H, W, C] |
| generator | decode_float | w | image float32, training range, not clipped |
| generator | decode_with_seed | w, seed int64 [N] | image uint8 |
| encoder | serving_default | image uint8 [N, H, W, C] | w float32 |
| encoder | encode_float | image float32, training range | w float32 |
| discriminator | serving_default | w | logit float32 [N] |
| alae | generate | z | image uint8 |
| alae | encode | image uint8 | w |
| alae | decode | w | image uint8 |
| alae | reconstruct, serving_default | image uint8 | image uint8 |

uint8 <-> float uses the training pixel range exactly like `alae_tf.data.to_pixel_range`
and `from_pixel_range` (rounded, clipped).

Bad input is refused in the graph, before the nets run (`alae_tf.export.input_checks`): the
dtype by the signature itself, rank and sizes (image size, channels, latent length) by an
EnsureShape naming the input, NaN / inf in any float input, and float images (`encode_float`)
beyond the training pixel range by asserts whose message names the signature and the input.
The export's metadata carries the ranges (`input_rules`), so that `serving`'s request
validator refuses the same values before a request reaches the model.

StyleALAE. Its G and E are exported at the level the model trained last (`ALAE.level`)
and the blend of its last batch, through `alae_tf.export.style`'s wrappers: H x W above
is then that level's resolution (a run trained to level 1 has 8 px signatures), and the
generator's w is broadcast to every style slot.

Generator noise. A generator that takes per-pixel noise declares `export_noise_shapes`
(per-image shapes, one per noise input) and accepts `noise=[...]` (one `[N, *shape]`
tensor each) in `call(w, noise=...)`. For the StyleALAE that is
`style.StyleGeneratorAtLevel`; the generator's own `noise_shapes(level, batch)` method
means something else. The noise is standard normal, keyed by (seed, noise input index),
per image: `serving_default` and `decode` use the fixed `NOISE_SEED`, so the same w
always gives the same image wherever it sits in a batch, and equal `decode_with_seed`
with seed `NOISE_SEED`; `decode_with_seed` uses each image's own seed. The nets never
draw random numbers themselves (random ops have no TFLite or ONNX builtins): noise only
enters as an input. The fixed-seed noise is drawn once at export and stored as a
non-trainable variable (`fixed_noise`; once per SavedModel, not per signature), so
`serving_default` and `decode_float` have no random ops at all and convert
to TFLite and ONNX; only `decode_with_seed` draws (stateless ops, TF only). The MLP
generator takes no noise, so its `decode_with_seed` ignores `seed` and equals
`serving_default`.
"""

import contextlib
import weakref
from typing import NamedTuple

import keras
import tensorflow as tf

from alae_tf import data
from alae_tf.export import input_checks, style
from alae_tf.export.artifacts import ExportError

# The parts built here from the nets; `saved_model.PARTS` adds the `editor` (`alae_tf.export.editor`).
PARTS = ("mapping", "generator", "encoder", "discriminator", "alae")
NOISE_SEED = 0


class Nets(NamedTuple):
    """The four nets an export is made of."""

    mapping: keras.Model
    generator: keras.Model
    encoder: keras.Model
    discriminator: keras.Model


# ---------------------------------------------------------------- float32 copies
@contextlib.contextmanager
def float32_policy():
    """Run the block under Keras' float32 policy, whatever the global one is."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def float32_copy(net):
    """A copy of `net` built under the float32 policy, holding `net`'s weights.

    A net built under mixed_bfloat16 computes (and would export) in bfloat16,
    which TFLite, onnxruntime and JSON clients reject; its variables are
    float32 all the same, so copying them loses nothing.
    """
    with float32_policy():
        copy = type(net).from_config(net.get_config())
    if len(copy.weights) != len(net.weights):
        raise ExportError(f"{net.name}: a rebuilt copy has {len(copy.weights)} weights, the net {len(net.weights)}")
    for target, source in zip(copy.weights, net.weights):
        if tuple(target.shape) != tuple(source.shape):
            raise ExportError(f"{net.name}: weight {source.path} is {source.shape} but rebuilds as {target.shape}")
        target.assign(tf.cast(source, tf.float32))
    return copy


def export_level(model, resolution=None):
    """`(level, blend)` of a StyleALAE exported with images of `resolution` px (None: the level it trained last).

    A lower resolution takes the nets at the lower level, at blend 1 (that level's own
    from-RGB / to-RGB layers, the deeper blocks as they are now): the encoder of a 1024 px
    model at 256 px runs the 256 px path of the official `encode(x, lod)`, a fraction of the work.
    Levels above the trained one are refused (their layers never trained). MLP nets have one
    resolution: `(None, None)`.

    Raises:
        ExportError: a resolution the model has no level for.
    """
    trained = (model.level, float(model.blend.numpy())) if model.is_style else (None, None)
    if resolution is None:
        return trained
    resolution = int(resolution)
    if not model.is_style:
        own = int(model.ema_nets[2].image_shape[0])  # (F, G, E, D)
        if resolution != own:
            raise ExportError(f"an MLP ALAE has one resolution, {own} px; got {resolution}")
        return trained
    levels = {4 * 2**level: level for level in range(model.level + 1)}
    if resolution not in levels:
        raise ExportError(
            f"no level of this StyleALAE reads {resolution} px images: it trained up to level {model.level} "
            f"({4 * 2**model.level} px), so the resolutions are {sorted(levels)}"
        )
    level = levels[resolution]
    return (level, trained[1]) if level == model.level else (level, 1.0)


def float32_nets(model, resolution=None):
    """Float32 copies of `model`'s EMA nets (the ones sampling and evaluation use).

    For style nets, G and E are wrapped at the model's current level and blend
    (`style.StyleGeneratorAtLevel`, `style.StyleEncoderAtLevel`), or at the level of
    `resolution` px (`export_level`).
    """
    level, blend = export_level(model, resolution)
    mapping, generator, encoder, discriminator = (float32_copy(net) for net in model.ema_nets)
    if model.is_style:
        generator = style.StyleGeneratorAtLevel(generator, level, blend)
        encoder = style.StyleEncoderAtLevel(encoder, level, blend)
    return Nets(mapping, generator, encoder, discriminator)


# ------------------------------------------------------------------------ noise
def takes_noise(generator):
    """True for a generator with per-pixel noise inputs (see the module docstring)."""
    return hasattr(generator, "export_noise_shapes")


_FIXED_NOISE = weakref.WeakKeyDictionary()


def fixed_noise(generator):
    """`generator`'s fixed-seed noise (`NOISE_SEED`): one non-trainable `tf.Variable` `[1, *shape]` per noise input.

    Drawn eagerly once per generator (init_scope lifts it out of a signature being traced), so the
    graphs read a variable, not a random op that TFLite and tf2onnx cannot convert; and a variable,
    not a constant, so the SavedModel stores the maps once, not once per signature and trace (a 1024 px
    ffhq generator's maps are 11 MB: as constants they made `saved_model.pb` 48 MB, `alae`'s 96 MB).
    TFLite and tf2onnx freeze it into a constant like any weight.
    """
    if generator not in _FIXED_NOISE:
        with tf.init_scope():
            _FIXED_NOISE[generator] = [
                tf.Variable(
                    tf.random.stateless_normal([1, *[int(d) for d in shape]], seed=[NOISE_SEED, index]),
                    trainable=False,
                    name=f"fixed_noise_{index}",
                )
                for index, shape in enumerate(generator.export_noise_shapes)
            ]
    return _FIXED_NOISE[generator]


def _check_seeds(seeds, batch):
    tf.debugging.assert_equal(tf.size(seeds), batch, message="decode_with_seed needs one seed per row of w")


def noise_inputs(generator, batch, seeds=None):
    """One standard-normal tensor `[batch, *shape]` per `generator.export_noise_shapes` entry.

    Image i's noise depends only on its seed (`seeds[i]`, or `NOISE_SEED` when
    `seeds` is None) and the noise input's index, never on the batch.
    """
    if seeds is not None:
        _check_seeds(seeds, batch)
    noise = []
    for index, shape in enumerate(generator.export_noise_shapes):
        shape = [int(d) for d in shape]
        if seeds is None:
            # One draw shared by the whole batch: cheaper than a draw per image, and equal to it.
            one = fixed_noise(generator)[index]
            noise.append(tf.broadcast_to(one, tf.concat([[batch], shape], axis=0)))
        else:
            noise.append(
                tf.map_fn(
                    lambda s, shape=shape, index=index: tf.random.stateless_normal(
                        shape, seed=tf.stack([s, tf.constant(index, tf.int64)])
                    ),
                    seeds,
                    fn_output_signature=tf.float32,
                )
            )
    return noise


def run_generator(generator, w, seeds=None):
    """G(w) in inference mode, with seeded noise if G takes noise."""
    if not takes_noise(generator):
        if seeds is not None:
            # G ignores them, but a request with the wrong seeds is refused as for a G with noise. The
            # assert also keeps the seeds' EnsureShape: a stateless op whose output nothing reads is pruned.
            _check_seeds(seeds, tf.shape(w)[0])
        return generator(w, training=False)
    return generator(w, noise=noise_inputs(generator, tf.shape(w)[0], seeds), training=False)


# ------------------------------------------------------------------- signatures
class Computations:
    """Input specs and the computations behind every signature, on float32 nets (the editor's too)."""

    def __init__(self, nets, pixel_range):
        self.nets = nets
        self.pixel_range = tuple(float(v) for v in pixel_range)
        image_shape = list(nets.encoder.image_shape)
        self.z = tf.TensorSpec([None, nets.mapping.latent_size], tf.float32, name="z")
        self.w = tf.TensorSpec([None, nets.mapping.dlatent_size], tf.float32, name="w")
        self.seed = tf.TensorSpec([None], tf.int64, name="seed")
        self.image_uint8 = tf.TensorSpec([None, *image_shape], tf.uint8, name="image")
        self.image_float = tf.TensorSpec([None, *image_shape], tf.float32, name="image")
        # What the specs cannot say (`input_checks`; every float must also be finite): float images are
        # pixels in the training range.
        self.rules = {input_checks.rule_key(self.image_float): input_checks.pixel_rule(self.pixel_range)}

    def map(self, z):
        return self.nets.mapping(z, training=False)

    def decode(self, w, seeds=None):
        return run_generator(self.nets.generator, w, seeds)

    def encode(self, images):
        return self.nets.encoder(images, training=False)

    def discriminate(self, w):
        return self.nets.discriminator(w, training=False)

    def to_uint8(self, images):
        return data.from_pixel_range(images, self.pixel_range)

    def from_uint8(self, images):
        return data.to_pixel_range(images, self.pixel_range)


def signature_function(python_fn, *specs, name="signature", rules=None):
    """A signature function: `python_fn` on inputs checked against `specs` (whose names are the input keys).

    Every input is checked in the graph before `python_fn` sees it (`input_checks.checked_tensors`): its
    shape, every float finite, and the range of `rules` (`{input_checks.rule_key(spec): Rule}`); `name`
    (the signature's) starts the messages.
    """

    def checked(*inputs):
        return python_fn(*input_checks.checked_tensors(name, specs, inputs, rules))

    # No autograph: nothing here branches on tensors, and it keeps the graphs plain.
    return tf.function(checked, input_signature=list(specs), autograph=False)


def signature_functions(table, rules=None):
    """`{name: signature_function}` from `{name: (python_fn, *specs)}`, all checked against `rules`."""
    return {name: signature_function(fn, *specs, name=name, rules=rules) for name, (fn, *specs) in table.items()}


def _mapping_endpoints(c):
    return signature_functions({"serving_default": (lambda z: {"w": c.map(z)}, c.z)}, c.rules)


def _generator_endpoints(c):
    return signature_functions(
        {
            "serving_default": (lambda w: {"image": c.to_uint8(c.decode(w))}, c.w),
            "decode_float": (lambda w: {"image": c.decode(w)}, c.w),
            "decode_with_seed": (lambda w, seed: {"image": c.to_uint8(c.decode(w, seed))}, c.w, c.seed),
        },
        c.rules,
    )


def _encoder_endpoints(c):
    return signature_functions(
        {
            "serving_default": (lambda image: {"w": c.encode(c.from_uint8(image))}, c.image_uint8),
            "encode_float": (lambda image: {"w": c.encode(image)}, c.image_float),
        },
        c.rules,
    )


def _discriminator_endpoints(c):
    return signature_functions({"serving_default": (lambda w: {"logit": c.discriminate(w)}, c.w)}, c.rules)


def _alae_endpoints(c):
    def reconstruct(image):
        return {"image": c.to_uint8(c.decode(c.encode(c.from_uint8(image))))}

    return signature_functions(
        {
            # The autoencoder's own job is the default: images in, images out.
            "serving_default": (reconstruct, c.image_uint8),
            "generate": (lambda z: {"image": c.to_uint8(c.decode(c.map(z)))}, c.z),
            "encode": (lambda image: {"w": c.encode(c.from_uint8(image))}, c.image_uint8),
            "decode": (lambda w: {"image": c.to_uint8(c.decode(w))}, c.w),
            "reconstruct": (reconstruct, c.image_uint8),
        },
        c.rules,
    )


_ENDPOINTS = {
    "mapping": (_mapping_endpoints, ("mapping",)),
    "generator": (_generator_endpoints, ("generator",)),
    "encoder": (_encoder_endpoints, ("encoder",)),
    "discriminator": (_discriminator_endpoints, ("discriminator",)),
    "alae": (_alae_endpoints, Nets._fields),
}


def endpoints(part, nets, pixel_range):
    """`{signature name: tf.function}` for `part` (one of `PARTS`)."""
    if part not in _ENDPOINTS:
        raise ExportError(f"unknown part {part!r}; parts are {PARTS}")
    make, _ = _ENDPOINTS[part]
    return make(Computations(nets, pixel_range))


def input_rules(nets, pixel_range):
    """`{input_checks.rule_key(spec): Rule}` of the signatures built here (the same for every part)."""
    return Computations(nets, pixel_range).rules


def new_archive(endpoint_functions):
    """A `keras.export.ExportArchive` with these `{name: tf.function}` endpoints and nothing tracked by hand.

    The archive saves the variables the endpoints read (and only those: a StyleALAE's layers of other
    levels stay out). `ExportArchive.track(net)` is not called: in Keras 3.15 it adds the net's Keras
    variables beside the endpoints' own `tf.Variable`s, and the SavedModel then stores every weight twice
    (a 1024 px ffhq encoder: 216 MB instead of 108 MB, and twice the memory in TF Serving).
    """
    archive = keras.export.ExportArchive()
    for name, fn in endpoint_functions.items():
        archive.add_endpoint(name, fn)
    return archive


def build_archive(part, nets, pixel_range):
    """A `keras.export.ExportArchive` holding every signature of `part` and the weights they use.

    `serving_default` is always defined explicitly (ExportArchive would
    otherwise copy whichever endpoint came first).
    """
    return new_archive(endpoints(part, nets, pixel_range))
