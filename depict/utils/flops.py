"""FLOPs of a segmentor's inference, counted as the papers count them.

SegViT, Segmenter and most segmentation papers report fvcore's number: one
multiply-accumulate is one FLOP, matrix products / convolutions / norms /
bilinear upsampling are counted, element-wise ops are not. mmengine's
:class:`~mmengine.analysis.FlopAnalyzer` is fvcore's counter; this module adds
what it misses and measures the path a test image takes.

* The measured path is ``EncoderDecoder.encode_decode`` on one window
  (backbone, neck, ``decode_head.predict``): the head's forward *and* its
  ``predict_by_feat``. mmseg's ``get_flops`` traces ``forward(mode='tensor')``
  instead, which for query heads (ATM, MaskFormer) stops before the
  class-weighted sum of the masks, and it refuses MaskFormer-style heads.
* ``aten::scaled_dot_product_attention`` (the fused path of depict's shared
  attention) is counted like the explicit path, ``Nq·Nk·(d + d_v)`` per head
  and image; mmengine would skip it as unsupported.
* Two-operand einsums are counted exactly (the product of the index sizes for
  a contraction, numpy's ``einsum_path`` count / 2); mmengine parses that count
  from numpy's report, printed to four significant digits.
* As every tracing counter (fvcore, mmengine), work whose result the output
  does not use is dropped by the tracer and not counted.
* The decoder's share is ``total - backbone - neck``: everything that runs
  after the backbone, including prediction post-processing. EoMT has no
  decoder: its queries run through the backbone's last blocks, so there the
  backbone counts as the plain ViT on the image tokens
  (``backbone.forward_without_queries``) and the queries' share of the blocks
  goes to the decoder, with the queries' parameters.

The input is one randomly initialised, already normalised image of the given
size (batch 1, the papers' convention); the model runs in eval mode on CPU.
"""
from dataclasses import dataclass, field
from math import prod
from typing import Any, Sequence

import torch
from torch import nn

__all__ = ['SegmentorFlops', 'count_segmentor_flops', 'sdpa_flop_jit', 'einsum_flop_jit',
           'flop_analyzer']


def sdpa_flop_jit(inputs: list[Any], outputs: list[Any]) -> int:
    """MACs of ``scaled_dot_product_attention(q, k, v)``: ``q kᵀ`` then ``A v``.

    Shapes (..., Nq, d), (..., Nk, d), (..., Nk, d_v): ``prod(...)·Nq·Nk·(d + d_v)``,
    what the explicit ``matmul`` / ``einsum`` path counts.
    """
    from mmengine.analysis.jit_handles import get_shape
    q_shape, k_shape, v_shape = (get_shape(v) for v in inputs[:3])
    *batch, num_queries, dims = q_shape
    num_keys, value_dims = k_shape[-2], v_shape[-1]
    return prod(batch) * num_queries * num_keys * (dims + value_dims)


def einsum_flop_jit(inputs: list[Any], outputs: list[Any]) -> int:
    """MACs of a two-operand ``einsum``, exactly as fvcore's numpy-based rule.

    numpy counts ``prod(all index sizes) · (1 + summed)`` operations for two
    operands (``summed``: some index is contracted); fvcore / mmengine halve it
    (one multiply-accumulate = one FLOP). Other einsums go to mmengine's handle.
    """
    from mmengine.analysis.jit_handles import einsum_flop_jit as mmengine_einsum
    from mmengine.analysis.jit_handles import get_shape
    equation = inputs[0].toIValue().replace(' ', '')
    shapes = [get_shape(v) for v in inputs[1].node().inputs()]
    operands, _, output = equation.partition('->')
    terms = operands.split(',')
    if '.' in equation or '->' not in equation or len(terms) != 2:
        return mmengine_einsum(inputs, outputs)
    sizes = {}
    for term, shape in zip(terms, shapes):
        sizes.update(zip(term, shape))
    summed = bool(set(''.join(terms)) - set(output))
    operations = prod(sizes.values()) * (2 if summed else 1)
    return operations // 2


def flop_analyzer(module: nn.Module, inputs: Sequence[torch.Tensor]):
    """mmengine's FlopAnalyzer with depict's extra op handles, warnings off."""
    from mmengine.analysis import FlopAnalyzer
    analyzer = FlopAnalyzer(module, tuple(inputs))
    analyzer.set_op_handle('aten::scaled_dot_product_attention', sdpa_flop_jit)
    analyzer.set_op_handle('aten::einsum', einsum_flop_jit)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    return analyzer


class _EncodeDecode(nn.Module):
    """``inputs -> segmentor.encode_decode(inputs, metas)``, traceable."""

    def __init__(self, segmentor: nn.Module, shape: tuple[int, int]) -> None:
        super().__init__()
        self.segmentor = segmentor
        self.shape = shape

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        meta = dict(img_shape=self.shape, ori_shape=self.shape, pad_shape=self.shape)
        return self.segmentor.encode_decode(inputs, [meta])


class _PlainBackbone(nn.Module):
    """An EoMT backbone without its queries, traceable."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.backbone.forward_without_queries(inputs)


@dataclass
class SegmentorFlops:
    """FLOPs (multiply-accumulates) and parameter counts of one inference."""
    shape: tuple[int, int]
    total: int
    backbone: int
    neck: int
    decoder: int
    params: int
    backbone_params: int
    decoder_params: int
    unsupported_ops: dict[str, int] = field(default_factory=dict)

    def table(self) -> str:
        """A small text table in G (1e9) FLOPs and M parameters."""
        rows = [('whole model', self.total, self.params),
                ('backbone', self.backbone, self.backbone_params)]
        if self.neck:
            rows.append(('neck', self.neck, self.params - self.backbone_params
                         - self.decoder_params))
        rows.append(('decoder (all after backbone/neck)', self.decoder, self.decoder_params))
        lines = [f'input 1x3x{self.shape[0]}x{self.shape[1]}, FLOPs = multiply-accumulates '
                 '(fvcore convention)', f'{"part":<36}{"GFLOPs":>10}{"params (M)":>12}']
        lines += [f'{name:<36}{flops / 1e9:>10.3f}{params / 1e6:>12.2f}'
                  for name, flops, params in rows]
        if self.unsupported_ops:
            skipped = ', '.join(f'{op} x{n}' for op, n in sorted(self.unsupported_ops.items()))
            lines.append(f'not counted (element-wise or unsupported): {skipped}')
        return '\n'.join(lines)


def _params(module: nn.Module | None) -> int:
    return 0 if module is None else sum(p.numel() for p in module.parameters())


@torch.no_grad()
def count_segmentor_flops(segmentor: nn.Module, shape: tuple[int, int]) -> SegmentorFlops:
    """Counts the FLOPs of ``segmentor`` on one (1, 3, H, W) window.

    Args:
        segmentor: An mmseg segmentor with ``encode_decode`` (EncoderDecoder
            and subclasses), already built.
        shape: (H, W) of the input.

    Returns:
        The counts; ``decoder = total - backbone - neck``.
    """
    if not hasattr(segmentor, 'encode_decode'):
        raise TypeError(f'{type(segmentor).__name__} has no encode_decode; FLOP counting '
                        'supports mmseg EncoderDecoder-style segmentors')
    # mmseg's VisionTransformer.train() returns None: never chain .eval().
    segmentor.eval()
    shape = (int(shape[0]), int(shape[1]))
    wrapper = _EncodeDecode(segmentor, shape)
    inputs = torch.randn(1, 3, *shape)
    analyzer = flop_analyzer(wrapper, (inputs, ))
    by_module = analyzer.by_module()
    total = analyzer.total()
    backbone = by_module.get('segmentor.backbone', 0)
    neck = by_module.get('segmentor.neck', 0) if getattr(segmentor, 'with_neck', False) else 0
    query_params = 0
    if hasattr(segmentor.backbone, 'forward_without_queries'):  # EoMT (docstring)
        plain = _PlainBackbone(segmentor.backbone)
        backbone = flop_analyzer(plain, (inputs, )).total()
        query_params = _params(segmentor.backbone.queries)
    return SegmentorFlops(
        shape=shape, total=total, backbone=backbone, neck=neck,
        decoder=total - backbone - neck, params=_params(segmentor),
        backbone_params=_params(segmentor.backbone) - query_params,
        decoder_params=_params(segmentor.decode_head) + query_params,
        unsupported_ops=dict(analyzer.unsupported_ops()))
