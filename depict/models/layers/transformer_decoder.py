"""Transformer decoder layers built on the shared attention, FFN and residual norm.

:class:`PostNormDecoderLayer` (SegViT's ATM and QU layers) and
:class:`DiscriminativeCrossAttentionLayer` (the pre-norm DCA layer of
representation separation) share :class:`~depict.models.layers.FFN` and
:class:`~depict.models.layers.ResidualNorm`.

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
from .sublayer import FFN, ResidualNorm

__all__ = ['PostNormDecoderLayer', 'DiscriminativeCrossAttentionLayer']


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
        self.norm1 = ResidualNorm(embed_dims, norm_first=False, dropout=dropout)
        self.cross_attn = MultiheadAttention(embed_dims, num_heads, kv_dims=kv_dims,
                                             attn_drop=attn_drop)
        self.norm2 = ResidualNorm(embed_dims, norm_first=False, dropout=dropout)
        self.ffn = FFN(embed_dims, ffn_channels, act_layer=nn.ReLU, dropout=dropout)
        self.norm3 = ResidualNorm(embed_dims, norm_first=False, dropout=dropout)

    def forward(self, query: Tensor, memory: Tensor, *,
                return_logits: bool = False) -> tuple[Tensor, Optional[Tensor]]:
        """Decodes ``query`` (B, Nq, C) against ``memory`` (B, Nk, Ckv).

        Returns:
            The updated queries (B, Nq, C) and, with ``return_logits``, the
            cross-attention logits ``q kᵀ / √d_head`` (B, H, Nq, Nk), else None.
        """
        query = self.norm1.residual(query, self.self_attn)
        logits = None
        if return_logits:
            attended, logits = self.cross_attn(query, memory, return_logits=True)
            query = self.norm2.residual(query, lambda _: attended)
        else:
            query = self.norm2.residual(query, lambda q: self.cross_attn(q, memory))
        query = self.norm3.residual(query, self.ffn)
        return query, logits


class DiscriminativeCrossAttentionLayer(nn.Module):
    """One DCA layer: class queries attend to the patch tokens (pre-norm).

    ``R ← R + MHA(LN(R), LN(Ẑ)); R ← R + FFN(LN(R))``. What makes it
    discriminative is its training signal (the auxiliary supervision of the
    head), not the operator, so that inference costs one plain cross-attention.

    Args:
        embed_dims: Width D of queries and tokens.
        num_heads: Attention heads.
        mlp_ratio: FFN hidden width in multiples of D.
    """

    def __init__(self, *, embed_dims: int, num_heads: int, mlp_ratio: int = 4) -> None:
        super().__init__()
        self.norm_query = ResidualNorm(embed_dims, norm_first=True)
        self.norm_memory = nn.LayerNorm(embed_dims)
        self.attn = MultiheadAttention(embed_dims, num_heads)
        self.norm_ffn = ResidualNorm(embed_dims, norm_first=True)
        self.ffn = FFN(embed_dims, mlp_ratio * embed_dims, act_layer=nn.GELU)

    def forward(self, queries: Tensor, memory: Tensor, *,
                return_logits: bool = False) -> tuple[Tensor, Optional[Tensor]]:
        """queries (B, C, D), memory (B, N, D) -> queries (B, C, D), and the
        pre-softmax logits (B, H, C, N) with ``return_logits`` (else None)."""
        memory = self.norm_memory(memory)
        logits = None
        if return_logits:
            attended, logits = self.attn(self.norm_query(queries), memory, return_logits=True)
            queries = queries + attended
        else:
            queries = self.norm_query.residual(
                queries, lambda q: self.attn(q, memory, return_logits=False))
        queries = self.norm_ffn.residual(queries, self.ffn)
        return queries, logits
