"""The multi-head attention building block shared by depict's decoders.

One implementation, two paths: ``torch.nn.functional.scaled_dot_product_attention``
(fused kernels, no (Nq, Nk) matrix kept for backward on backends that support
it) whenever only the attended values are needed, and an explicit
``softmax(q kᵀ / √d) v`` when a caller also needs the pre-softmax logits (for
example SegViT's Attention-to-Mask, where the logits become masks).
"""
from typing import Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ['split_heads', 'merge_heads', 'attention', 'MultiheadAttention',
           'init_like_torch_mha_']


def split_heads(x: Tensor, num_heads: int) -> Tensor:
    """(B, N, H·D) -> (B, H, N, D)."""
    batch, tokens, channels = x.shape
    return x.reshape(batch, tokens, num_heads, channels // num_heads).transpose(1, 2)


def merge_heads(x: Tensor) -> Tensor:
    """(B, H, N, D) -> (B, N, H·D)."""
    batch, heads, tokens, dims = x.shape
    return x.transpose(1, 2).reshape(batch, tokens, heads * dims)


def attention(q: Tensor, k: Tensor, v: Tensor, *, dropout_p: float = 0.0,
              attn_mask: Optional[Tensor] = None, return_logits: bool = False,
              scale: Optional[float] = None) -> Union[Tensor, tuple[Tensor, Tensor]]:
    """Scaled dot-product attention over heads.

    Args:
        q: Queries, (B, H, Nq, D).
        k: Keys, (B, H, Nk, D).
        v: Values, (B, H, Nk, Dv).
        dropout_p: Dropout on the attention weights (pass 0 in eval mode).
        attn_mask: Optional additive float mask or boolean keep-mask,
            broadcastable to (B, H, Nq, Nk).
        return_logits: Also return the pre-softmax logits ``q kᵀ · scale``
            (computed explicitly; otherwise the fused SDPA path is used).
        scale: Logit scale; defaults to ``1 / √D``.

    Returns:
        The attended values (B, H, Nq, Dv), and with ``return_logits`` the
        logits (B, H, Nq, Nk) as well.
    """
    if not return_logits:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask,
                                              dropout_p=dropout_p, scale=scale)
    scale = q.shape[-1]**-0.5 if scale is None else scale
    logits = torch.einsum('bhqd,bhkd->bhqk', q, k) * scale
    weights = logits
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            weights = weights.masked_fill(~attn_mask, float('-inf'))
        else:
            weights = weights + attn_mask
    weights = F.dropout(weights.softmax(dim=-1), p=dropout_p, training=dropout_p > 0)
    out = torch.einsum('bhqk,bhkd->bhqd', weights, v)
    return out, logits


class MultiheadAttention(nn.Module):
    """Multi-head attention with separate q/k/v projections (batch first).

    Args:
        embed_dims: Width of queries and of the output.
        num_heads: Number of heads; must divide ``embed_dims``.
        kv_dims: Width of keys/values inputs (defaults to ``embed_dims``).
        qkv_bias: Whether the q/k/v projections have a bias.
        attn_drop: Dropout on attention weights (training only).
        proj_drop: Dropout after the output projection (training only).
    """

    def __init__(self, embed_dims: int, num_heads: int, *, kv_dims: Optional[int] = None,
                 qkv_bias: bool = True, attn_drop: float = 0.0,
                 proj_drop: float = 0.0) -> None:
        super().__init__()
        if embed_dims % num_heads:
            raise ValueError(f'embed_dims={embed_dims} is not divisible by '
                             f'num_heads={num_heads}')
        kv_dims = embed_dims if kv_dims is None else kv_dims
        self.num_heads = num_heads
        self.q_proj = nn.Linear(embed_dims, embed_dims, bias=qkv_bias)
        self.k_proj = nn.Linear(kv_dims, embed_dims, bias=qkv_bias)
        self.v_proj = nn.Linear(kv_dims, embed_dims, bias=qkv_bias)
        self.out_proj = nn.Linear(embed_dims, embed_dims)
        self.attn_drop = attn_drop
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, query: Tensor, key: Optional[Tensor] = None,
                value: Optional[Tensor] = None, *, attn_mask: Optional[Tensor] = None,
                return_logits: bool = False) -> Union[Tensor, tuple[Tensor, Tensor]]:
        """Attends ``query`` (B, Nq, C) to ``key``/``value`` (B, Nk, Ckv).

        ``key`` and ``value`` default to ``query`` (self-attention). With
        ``return_logits`` the pre-softmax logits (B, H, Nq, Nk) are returned too.
        """
        key = query if key is None else key
        value = key if value is None else value
        q = split_heads(self.q_proj(query), self.num_heads)  # (B, H, Nq, D)
        k = split_heads(self.k_proj(key), self.num_heads)  # (B, H, Nk, D)
        v = split_heads(self.v_proj(value), self.num_heads)  # (B, H, Nk, D)
        dropout_p = self.attn_drop if self.training else 0.0
        result = attention(q, k, v, dropout_p=dropout_p, attn_mask=attn_mask,
                           return_logits=return_logits)
        out, logits = result if return_logits else (result, None)
        out = self.proj_drop(self.out_proj(merge_heads(out)))  # (B, Nq, C)
        return (out, logits) if return_logits else out


def init_like_torch_mha_(attn: MultiheadAttention) -> None:
    """Initialises ``attn``'s q / k / v as ``torch.nn.MultiheadAttention`` does.

    PyTorch's attention keeps q / k / v in one packed ``in_proj_weight`` (3d, d)
    drawn xavier-uniform, with zero ``in_proj_bias``; with key / value widths
    other than d it draws the three matrices separately. Official heads built on
    ``nn.TransformerDecoderLayer`` keep that init, because their
    ``init_weights`` re-initialises ``nn.Linear`` modules only. Our q / k / v
    are separate linears, so they receive the rows of one packed draw (same
    bound: sqrt(6 / (d + 3d))). ``out_proj`` is an ``nn.Linear`` there too and
    is left to the caller.
    """
    projections = (attn.q_proj, attn.k_proj, attn.v_proj)
    with torch.no_grad():
        if len({p.in_features for p in projections}) == 1:
            # (3d, d): xavier bounds from the packed shape.
            packed = torch.empty(sum(p.out_features for p in projections),
                                 attn.q_proj.in_features)
            nn.init.xavier_uniform_(packed)
            for proj, rows in zip(projections,
                                  packed.split([p.out_features for p in projections])):
                proj.weight.copy_(rows)
        else:
            for proj in projections:
                nn.init.xavier_uniform_(proj.weight)
        for proj in projections:
            if proj.bias is not None:
                nn.init.zeros_(proj.bias)
