"""The StyleALAE's building blocks convert to TFLite with builtins only (no Flex, no random ops).

Chained nearest upsampling (reshape + tile), equalized conv, noise passed in as an input,
instance norm and average-pool downsampling: the ops a StyleALAE encoder or generator is
made of, converted by `alae_tf.export.tflite.convert_signature` (as every export is), and run in LiteRT.
"""

import keras
import numpy as np
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from alae_tf.export import litert_check, tflite
from alae_tf.layers import EqualizedConv2D, NoiseInjection, downsample_avg_2x, instance_norm, upsample_nearest_2x


def style_blocks():
    """upsample -> conv -> noise -> instance norm -> upsample -> conv -> downsample, as an ExportArchive.

    ExportArchive, as the real export uses: a plain `tf.Module` holding Keras 3 layers
    saved with `tf.saved_model.save` converts with VAR_HANDLE / READ_VARIABLE ops left
    in, which LiteRT runs into garbage (1e21) or refuses.
    """
    conv_1, conv_2, noise = EqualizedConv2D(4, 3), EqualizedConv2D(2, 3), NoiseInjection()
    conv_1.build((None, 16, 16, 4))
    conv_2.build((None, 32, 32, 4))
    noise.build((None, 16, 16, 4))
    noise.weight.assign([0.5, -0.3, 0.2, 1.0])  # non-zero, so the noise input matters

    def serve(x, noise_map):
        x = noise(conv_1(upsample_nearest_2x(x)), noise=noise_map)
        x = upsample_nearest_2x(instance_norm(x, 1e-8))
        return {"y": downsample_avg_2x(conv_2(x))}

    function = tf.function(
        serve,
        input_signature=[
            tf.TensorSpec([None, 8, 8, 4], tf.float32, name="x"),
            tf.TensorSpec([None, 16, 16, 1], tf.float32, name="noise"),
        ],
    )
    archive = keras.export.ExportArchive()
    for layer in (conv_1, conv_2, noise):
        archive.track(layer)
    archive.add_endpoint("serving_default", function)
    return archive, function


def test_style_blocks_convert_with_builtins_only_and_match_in_litert(tmp_path):
    archive, function = style_blocks()
    archive.write_out(str(tmp_path), verbose=False)
    content, _ = tflite.convert_signature(tmp_path, "serving_default")  # the library's own conversion
    ops = litert_check.operators(content)
    assert not [op for op in ops if op.startswith("CUSTOM") or "VAR" in op], ops
    assert "TILE" in ops and "CONV_2D" in ops and "AVERAGE_POOL_2D" in ops, ops

    rng = np.random.default_rng(0)
    x = rng.standard_normal([2, 8, 8, 4]).astype(np.float32)
    noise = rng.standard_normal([2, 16, 16, 1]).astype(np.float32)
    run = Interpreter(model_content=content).get_signature_runner("serving_default")
    got = run(x=x, noise=noise)["y"]
    want = function(tf.constant(x), tf.constant(noise))["y"].numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * float(np.abs(want).max()))
    assert np.abs(run(x=x, noise=noise[::-1].copy())["y"] - got).max() > 1e-3  # the noise really is an input
