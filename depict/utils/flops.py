"""FLOP counting helpers on top of mmengine's (fvcore-style) flop counter.

Convention: one multiply-accumulate = one FLOP, as fvcore and mmengine count
(and as SegViT reports GFLOPs). mmengine 0.10.7 has no handle for
``aten::scaled_dot_product_attention`` and skips it as unsupported, which
would hide every attention product computed through the fused path of
:func:`depict.models.layers.attention.attention`; :func:`sdpa_flop_jit` fills
that gap so both attention paths count the same.
"""
from math import prod
from typing import Any

from torch import nn

__all__ = ['SDPA_OP', 'sdpa_flop_jit', 'count_flops', 'install_sdpa_flop_handle']

SDPA_OP = 'aten::scaled_dot_product_attention'


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
    analyzer.set_op_handle(SDPA_OP, sdpa_flop_jit)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    return analyzer.total(), analyzer


def install_sdpa_flop_handle() -> None:
    """Adds the SDPA handle to mmengine's default FLOP handles (idempotent), so
    that ``get_model_complexity_info`` and every analyzer built afterwards use it."""
    from mmengine.analysis import complexity_analysis
    complexity_analysis._DEFAULT_SUPPORTED_FLOP_OPS.setdefault(SDPA_OP, sdpa_flop_jit)
