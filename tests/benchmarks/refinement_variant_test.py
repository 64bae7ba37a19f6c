"""refine_step.py's variants (`step_cost.refinement_variant`): batch / anchor samples [/ edge weight], or an error."""

import pytest

from alae_tf import configs
from benchmarks.step_cost import refinement_variant

DEMO = configs.PRESETS["mnist_mlp_demo"]


def test_a_variant_sets_the_batch_the_anchor_samples_and_the_edge_weight():
    two = refinement_variant(DEMO, "256/64")
    assert (two.refine_batch_size, two.refine_anchor_samples, two.refine_edge_weight) == (
        256,
        64,
        DEMO.refine_edge_weight,
    )
    three = refinement_variant(DEMO, "128/32/0")
    assert (three.refine_batch_size, three.refine_anchor_samples, three.refine_edge_weight) == (128, 32, 0.0)
    assert three.replace(refine_edge_weight=DEMO.refine_edge_weight, refine_batch_size=0) == DEMO


@pytest.mark.parametrize("variant", ["128", "128/32/3/1", "a/32", "128/32/x"])
def test_a_malformed_variant_is_a_usage_error(variant):
    with pytest.raises(ValueError, match="batch/anchor samples"):
        refinement_variant(DEMO, variant)
