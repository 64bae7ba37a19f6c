"""Parameter counts of the StyleALAE nets equal the official code's.

`official_counts` re-derives the counts from the official constructors
(net.Generator, net.EncoderDefault, net.MappingF, net.MappingD at 42bcf2e);
the formula is checked against the counts the parity fixtures measured on
the official code, and the paper config's totals against the figures quoted
for it (encoder 26.8M, generator 24.0M, F 2.1M).
"""

import pytest

from alae_tf.networks import LatentDiscriminator, MappingNetwork, StyleEncoder, StyleGenerator

CELEBA_HQ256 = dict(latent=512, layers=7, start=64, maximum=512, channels=3, mapping_layers=8)
# Exact counts of the official nets for celeba-hq256, from `official_counts`.
CELEBA_HQ256_COUNTS = {"encoder": 26_789_952, "decoder": 23_984_981, "mapping_f": 2_101_248, "mapping_d": 1_050_624}


def official_counts(latent, layers, start, maximum, channels, mapping_layers):
    """Trainable parameter counts of the official StyleALAE nets (biases included, blur buffers not)."""
    dense = lambda n_in, n_out: n_in * n_out + n_out  # noqa: E731
    decoder = min(maximum, start * 2 ** (layers - 1)) * 4 * 4  # the constant
    previous = None
    for i in range(layers):
        c = min(maximum, start * 2 ** (layers - 1 - i))
        conv_1 = 0 if i == 0 else previous * c * 9  # no first conv in block 0
        # noise weights and biases (2 each), two style affines, second conv, to-RGB
        decoder += conv_1 + 4 * c + 2 * dense(latent, 2 * c) + c * c * 9 + dense(c, channels)
        previous = c
    encoder = 0
    for i in range(layers):
        c_in, c_out = min(maximum, start * 2**i), min(maximum, start * 2 ** (i + 1))
        encoder += (
            dense(channels, c_in)  # from-RGB 1x1 conv
            + c_in * c_in * 9
            + c_in  # conv_1 + bias_1
            + c_in * c_out * 9
            + c_out  # conv_2 + bias_2
            + dense(2 * c_in, latent)
            + dense(2 * c_out, latent)  # style read-outs
        )
    mapping_f = mapping_layers * dense(latent, latent)
    mapping_d = 2 * dense(latent, latent) + dense(latent, 2 * latent)
    return {"encoder": encoder, "decoder": decoder, "mapping_f": mapping_f, "mapping_d": mapping_d}


def fixture_config(entry):
    model = entry["config"]["MODEL"]
    return dict(
        latent=model["LATENT_SPACE_SIZE"],
        layers=model["LAYER_COUNT"],
        start=model["START_CHANNEL_COUNT"],
        maximum=model["MAX_CHANNEL_COUNT"],
        channels=model["CHANNELS"],
        mapping_layers=model["MAPPING_LAYERS"],
    )


@pytest.mark.parametrize("name", ["style_small.npz", "style_fused.npz"])
def test_formula_matches_the_counts_measured_on_the_official_code(official_manifest, name):
    entry = official_manifest["fixtures"][name]
    assert official_counts(**fixture_config(entry)) == entry["n_params"]


def test_celeba_hq256_official_counts():
    counts = official_counts(**CELEBA_HQ256)
    assert counts == CELEBA_HQ256_COUNTS
    assert [round(counts[k] / 1e6, 1) for k in ("encoder", "decoder", "mapping_f")] == [26.8, 24.0, 2.1]


def test_celeba_hq256_keras_nets_have_the_official_counts():  # about 5 s: full 256 px nets
    c = CELEBA_HQ256
    args = dict(
        latent_size=c["latent"],
        layer_count=c["layers"],
        start_channels=c["start"],
        max_channels=c["maximum"],
        channels=c["channels"],
    )
    assert StyleEncoder(**args).count_params() == CELEBA_HQ256_COUNTS["encoder"]
    assert StyleGenerator(**args).count_params() == CELEBA_HQ256_COUNTS["decoder"]
    assert (
        MappingNetwork(c["latent"], c["latent"], num_layers=c["mapping_layers"]).count_params()
        == (CELEBA_HQ256_COUNTS["mapping_f"])
    )
    # Ours keeps only the logit unit of D's last layer (2 * latent outputs in the official code).
    d = LatentDiscriminator(c["latent"], num_layers=3)
    assert d.count_params() == CELEBA_HQ256_COUNTS["mapping_d"] - (2 * c["latent"] - 1) * (c["latent"] + 1)
