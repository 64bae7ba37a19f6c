"""`benchmarks/matmul_floor.py` finds every matrix product of the compiled MLP step."""

import pytest

from alae_tf import configs
from benchmarks import matmul_floor, step_cost

TINY = configs.PRESETS["mnist_mlp_tiny"]

HLO = """
  %p0 = f32[8,16]{1,0} parameter(0)
  %p1 = f32[16,4]{1,0} parameter(1)
  %p2 = f32[8,4]{1,0} parameter(2)
  %w = f32[4]{0} parameter(3)
  %dot.1 = f32[8,4]{1,0} dot(%p0, %p1), lhs_contracting_dims={1}, rhs_contracting_dims={0}
  ROOT %dot.2 = f32[16,4]{1,0} dot(%p0, %p2), lhs_contracting_dims={0}, rhs_contracting_dims={0}
  %dot.3 = f32[8]{0} dot(%p2, %w), lhs_contracting_dims={1}, rhs_contracting_dims={0}
"""


def test_products_read_shapes_and_contracting_dimensions_and_skip_vectors():
    # [8, 16] x [16, 4]; then p0^T [16, 8] x p2 [8, 4] (a weight gradient: k is the batch).
    assert matmul_floor.matrix_products(HLO) == [(8, 16, 4), (16, 8, 4)]
    assert [matmul_floor.kind_of(p, 8) for p in [(8, 16, 4), (16, 8, 4)]] == ["batch-rows", "batch-contracting"]


def test_mismatched_contracting_sizes_are_an_error():
    broken = HLO.replace("f32[16,4]{1,0} parameter(1)", "f32[15,4]{1,0} parameter(1)")
    with pytest.raises(ValueError, match="contracting sizes differ"):
        matmul_floor.matrix_products(broken)


def test_the_compiled_step_holds_the_arithmetic_the_flop_counter_sees():
    _, (images, *latents), products = matmul_floor.compiled_step(TINY)
    assert images.shape[0] == TINY.batch_size and len(latents) == 3
    # Every big product of steps I-III with R1: the 784-wide layers of E and G are there.
    width = TINY.image_shape[0] * TINY.image_shape[1] * TINY.image_shape[2]
    assert any(width in product for product in products)
    flops = sum(2 * m * k * n for m, k, n in products)
    # TF's op statistics count the products plus elementwise work on the graph before XLA.
    counted = step_cost.step_flops(TINY, with_r1=True)
    assert 0.9 * counted < flops <= counted
