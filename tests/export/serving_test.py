"""TF Serving requests built with tensorflow-serving-api: checked against the SignatureDefs, then run."""

import numpy as np
import pytest
import tensorflow as tf

from alae_tf.export import serving, signatures
from tests.export.conftest import EXPECTED_SIGNATURES, assert_matches, reference


def request_for(model_name, inputs, signature_name="serving_default"):
    """A PredictRequest as a gRPC client builds one (`serving.predict_request` does exactly that)."""
    return serving.predict_request(model_name, signature_name, inputs)


def serving_default_inputs(config, part, batch=3):
    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, [batch, *config.image_shape], dtype=np.uint8)
    return {
        "mapping": {"z": rng.standard_normal([batch, config.latent_size]).astype(np.float32)},
        "generator": {"w": rng.standard_normal([batch, config.latent_size]).astype(np.float32)},
        "encoder": {"image": image},
        "discriminator": {"w": rng.standard_normal([batch, config.latent_size]).astype(np.float32)},
        "alae": {"image": image},
    }[part]


@pytest.fixture(scope="module")
def models(exported):
    """`{part: (loaded SavedModel, SignatureDefs)}`; the loaded objects stay referenced here."""
    return {
        part: (tf.saved_model.load(str(exported.dir(part))), serving.read_signature_defs(exported.dir(part)))
        for part in signatures.PARTS
    }


@pytest.mark.parametrize("part", signatures.PARTS)
def test_serving_default_request_is_validated_and_run(exported, models, part):
    loaded, defs = models[part]
    inputs = serving_default_inputs(exported.config, part)
    response = serving.run_predict_request(loaded, request_for(part, inputs), defs)
    assert response.model_spec.name == part and response.model_spec.signature_name == "serving_default"
    got = {key: tf.make_ndarray(proto) for key, proto in response.outputs.items()}
    assert_matches(got, reference(exported.model, exported.config, part, "serving_default", inputs), part)
    # An empty signature name means serving_default, as in the model server.
    request = request_for(part, inputs, signature_name="")
    assert serving.validate_predict_request(request, defs)[0] == "serving_default"


@pytest.mark.parametrize("part", signatures.PARTS)
def test_warmup_records_are_valid_requests_for_every_signature(exported, models, part):
    loaded, defs = models[part]
    requests = serving.read_warmup(exported.dir(part))
    assert sorted(r.model_spec.signature_name for r in requests) == EXPECTED_SIGNATURES[part]
    for request in requests:
        assert request.model_spec.name == part
        serving.run_predict_request(loaded, request, defs)


def test_wrong_key_dtype_or_shape_is_rejected_with_a_clear_message(exported, models):
    _, defs = models["encoder"]
    image = np.zeros([2, 28, 28, 1], np.uint8)
    cases = [
        (
            request_for("encoder", {"images": image}),
            r"signature 'serving_default' takes inputs \['image'\]; the request has \['images'\] "
            r"\(missing \['image'\], unexpected \['images'\]\)",
        ),
        (
            request_for("encoder", {"image": image.astype(np.float32)}),
            r"input 'image' is float32, signature 'serving_default' wants uint8",
        ),
        (
            request_for("encoder", {"image": image[..., 0]}),
            r"input 'image' has shape \[2, 28, 28\], signature 'serving_default' wants \[-1, 28, 28, 1\]",
        ),
        (
            request_for("encoder", {"image": np.zeros([2, 32, 32, 1], np.uint8)}),
            r"has shape \[2, 32, 32, 1\], .* wants \[-1, 28, 28, 1\] \(-1: any size\)",
        ),
        (
            request_for("encoder", {"image": image}, signature_name="encode"),
            r"no signature 'encode'; this model has \['encode_float', 'serving_default'\]",
        ),
    ]
    for request, message in cases:
        with pytest.raises(serving.PredictRequestError, match=message):
            serving.validate_predict_request(request, defs)


def test_inputs_must_agree_on_the_batch_and_fill_their_shape(models):
    _, defs = models["generator"]
    request = request_for(
        "generator", {"w": np.zeros([3, 8], np.float32), "seed": np.zeros([2], np.int64)}, "decode_with_seed"
    )
    with pytest.raises(serving.PredictRequestError, match=r"disagree on the batch size: \{'seed': 2, 'w': 3\}"):
        serving.validate_predict_request(request, defs)
    request = request_for("generator", {"w": np.zeros([3, 8], np.float32)})
    request.inputs["w"].tensor_content = request.inputs["w"].tensor_content[:-4]  # one value short
    with pytest.raises(serving.PredictRequestError, match=r"input 'w': its values do not fill shape \[3, 8\]"):
        serving.validate_predict_request(request, defs)
