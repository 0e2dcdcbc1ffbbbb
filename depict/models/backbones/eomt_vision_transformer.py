"""EoMT's encoder on mmseg's ViT (AugReg / DeiT weights converted by ``vit2mmseg``).

The token loop, the queries and masked attention are
:class:`~depict.models.backbones.eomt_vit.EoMTQueriesMixin`'s (see that module
for the paper mapping); this class supplies the embedding, the blocks and the
final norm of :class:`~depict.models.backbones.FusedVisionTransformer`, whose
parameter names (``layers.<i>``, ``patch_embed``...) it keeps.
"""
from typing import Optional

import torch
from mmseg.registry import MODELS
from torch import Tensor, nn

from .eomt_vit import EoMTFeatures, EoMTQueriesMixin, Readout
from .vit_base import FusedVisionTransformer

__all__ = ['EoMTVisionTransformer']


@MODELS.register_module()
class EoMTVisionTransformer(EoMTQueriesMixin, FusedVisionTransformer):
    """EoMT's encoder on :class:`FusedVisionTransformer` (mmseg's ViT).

    Args:
        num_queries: Q (100).
        num_blocks: L₂, the blocks that process the queries (4).
        masked_attn: Masked attention and per-block predictions in training.
        **kwargs: :class:`FusedVisionTransformer` arguments; ``final_norm``
            must stay True (the readout reads normed tokens) and
            ``out_indices`` has no effect (EoMT runs every block).
    """

    def __init__(self, *, num_queries: int = 100, num_blocks: int = 4, masked_attn: bool = True,
                 **kwargs) -> None:
        if not kwargs.get('final_norm', True):
            raise ValueError('EoMTVisionTransformer reads normed tokens: keep final_norm=True.')
        kwargs['final_norm'] = True
        super().__init__(**kwargs)
        self.init_queries(num_queries=num_queries, num_blocks=num_blocks,
                          masked_attn=masked_attn, embed_dims=self.pos_embed.shape[-1])

    @property
    def blocks(self) -> nn.ModuleList:
        return self.layers

    def embed_tokens(self, inputs: Tensor) -> tuple[Tensor, tuple[int, int], Optional[Tensor]]:
        x, hw_shape = self.embed(inputs)
        return x, tuple(hw_shape), None

    def run_block(self, index: int, x: Tensor, keep: Optional[Tensor],
                  rope: Optional[Tensor]) -> Tensor:
        layer = self.layers[index]
        if keep is None:
            return layer(x)
        # nn.MultiheadAttention (mmcv's path when a mask is given) takes an
        # additive (B*heads, T, T) float mask, batch-major.
        heads = layer.attn.num_heads
        bias = torch.zeros(keep.shape, dtype=x.dtype, device=x.device)
        bias.masked_fill_(~keep, float('-inf'))
        bias = bias[:, None].expand(-1, heads, -1, -1).flatten(0, 1)
        x = layer.attn(layer.norm1(x), identity=x, attn_mask=bias)
        return layer.ffn(layer.norm2(x), identity=x)

    def norm_tokens(self, x: Tensor) -> Tensor:
        return self.norm1(x)

    def forward(self, inputs: Tensor, readout: Optional[Readout] = None) -> EoMTFeatures:
        return EoMTQueriesMixin.forward(self, inputs, readout)
