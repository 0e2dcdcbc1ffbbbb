"""FLOP counting helpers on top of mmengine's (fvcore-style) flop counter.

Convention: one multiply-accumulate = one FLOP, as fvcore and mmengine count
(and as SegViT reports GFLOPs). mmengine 0.10.7 has no handle for
``aten::scaled_dot_product_attention`` and silently counts it as 0, which
would hide every attention product computed through the fused path
(:func:`depict.models.layers.attention.attention`); :func:`sdpa_flop_jit` fills
that gap and :func:`count_flops` registers it.
"""
from math import prod
from typing import Any

from torch import nn

__all__ = ['sdpa_flop_jit', 'count_flops']


def sdpa_flop_jit(inputs: list[Any], outputs: list[Any]) -> int:
    """MACs of ``softmax(q kᵀ) v``: ``B·H·Nq·Nk·(D + Dv)`` (the two matmuls).

    Like fvcore's handles for matmul/bmm, softmax, scaling and masking are not counted.
    """
    from mmengine.analysis.jit_handles import get_shape
    q_shape, k_shape, v_shape = (get_shape(x) for x in inputs[:3])
    *batch, num_q, dims = q_shape
    return prod(batch) * num_q * k_shape[-2] * (dims + v_shape[-1])


def count_flops(model: nn.Module, inputs: tuple) -> tuple[int, Any]:
    """Total MACs of ``model(*inputs)`` and the analyzer (for ``by_module()`` etc.)."""
    from mmengine.analysis import FlopAnalyzer
    analyzer = FlopAnalyzer(model, inputs)
    analyzer.set_op_handle('aten::scaled_dot_product_attention', sdpa_flop_jit)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    return analyzer.total(), analyzer
