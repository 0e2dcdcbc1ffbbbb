"""A post-norm Transformer decoder layer built on the shared attention block.

The layer of Vaswani et al. ("Attention Is All You Need", NeurIPS 2017) as
DETR and SegViT use it (``torch.nn.TransformerDecoderLayer`` with its default
``norm_first=False``): queries attend to themselves, then to a memory, then go
through a ReLU FFN; each sub-layer is ``x = LN(x + Dropout(sublayer(x)))``.

SegViT's Attention-to-Mask (Zhang et al., NeurIPS 2022) needs the pre-softmax
logits of the cross-attention; the layer returns them on request and only then
computes them explicitly (see :func:`depict.models.layers.attention.attention`).
"""
from typing import Optional

from torch import Tensor, nn

from .attention import MultiheadAttention

__all__ = ['PostNormDecoderLayer']


class PostNormDecoderLayer(nn.Module):
    """Self-attention, cross-attention and FFN, each followed by add & LN.

    Args:
        embed_dims: Width of the queries (and of the output).
        num_heads: Attention heads of both attentions.
        ffn_channels: Hidden width of the FFN.
        kv_dims: Width of the memory (defaults to ``embed_dims``).
        dropout: Dropout on every residual branch and inside the FFN
            (``torch.nn.TransformerDecoderLayer``'s ``dropout``).
        attn_drop: Dropout on the attention weights of both attentions.
    """

    def __init__(self, embed_dims: int, num_heads: int, *, ffn_channels: int,
                 kv_dims: Optional[int] = None, dropout: float = 0.1,
                 attn_drop: float = 0.1) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(embed_dims, num_heads, attn_drop=attn_drop)
        self.norm1 = nn.LayerNorm(embed_dims)
        self.cross_attn = MultiheadAttention(embed_dims, num_heads, kv_dims=kv_dims,
                                             attn_drop=attn_drop)
        self.norm2 = nn.LayerNorm(embed_dims)
        self.ffn = nn.Sequential(
            nn.Linear(embed_dims, ffn_channels), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(ffn_channels, embed_dims))
        self.norm3 = nn.LayerNorm(embed_dims)
        self.dropout = nn.Dropout(dropout)

    def forward(self, query: Tensor, memory: Tensor, *,
                return_logits: bool = False) -> tuple[Tensor, Optional[Tensor]]:
        """Decodes ``query`` (B, Nq, C) against ``memory`` (B, Nk, Ckv).

        Returns:
            The updated queries (B, Nq, C) and, with ``return_logits``, the
            cross-attention logits ``q kᵀ / √d_head`` (B, H, Nq, Nk), else None.
        """
        query = self.norm1(query + self.dropout(self.self_attn(query)))
        if return_logits:
            attended, logits = self.cross_attn(query, memory, return_logits=True)
        else:
            attended, logits = self.cross_attn(query, memory), None
        query = self.norm2(query + self.dropout(attended))
        query = self.norm3(query + self.dropout(self.ffn(query)))
        return query, logits
