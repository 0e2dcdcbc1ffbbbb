"""FLOP counting of ``F.scaled_dot_product_attention`` for mmengine's analyzer.

mmengine's ``FlopAnalyzer`` / ``get_model_complexity_info`` (fvcore-style, one
multiply-accumulate = one FLOP) has no handle for
``aten::scaled_dot_product_attention``: it skips the op (listed as
unsupported), so attention through depict's shared block counts only its
projections, while the same attention through the explicit-logits path (or
mmseg's ``nn.MultiheadAttention``, traced as ``bmm``) counts qkᵀ and AV too.
:func:`install_sdpa_flop_handle` adds the missing handle so both paths count
the same.
"""
from math import prod
from typing import Any

from mmengine.analysis import complexity_analysis
from mmengine.analysis.jit_handles import get_shape

__all__ = ['sdpa_flop_jit', 'install_sdpa_flop_handle']

SDPA_OP = 'aten::scaled_dot_product_attention'


def sdpa_flop_jit(inputs: list[Any], outputs: list[Any]) -> int:
    """MACs of softmax(q kᵀ) v: q (..., Nq, D), k (..., Nk, D), v (..., Nk, Dv)
    -> (...)·Nq·Nk·D for q kᵀ plus (...)·Nq·Nk·Dv for the weighted sum."""
    q_shape, k_shape, v_shape = (get_shape(v) for v in inputs[:3])
    leading_and_queries = prod(q_shape[:-1])
    keys = k_shape[-2]
    return leading_and_queries * keys * (q_shape[-1] + v_shape[-1])


def install_sdpa_flop_handle() -> None:
    """Adds the SDPA handle to mmengine's default FLOP handles (idempotent);
    every analyzer built afterwards, incl. ``get_model_complexity_info``, uses it."""
    complexity_analysis._DEFAULT_SUPPORTED_FLOP_OPS.setdefault(SDPA_OP, sdpa_flop_jit)
