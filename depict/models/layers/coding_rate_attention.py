"""DEPICT's attention operators: MSSA and MSCA (Wen & Li, NeurIPS 2024).

Both come from unrolling a gradient step on a coding-rate (compression)
objective, as in CRATE (Yu et al., 2023), arXiv 2411.03033 §3:

* **MSSA** (multi-head subspace self-attention). A subspace basis
  ``P_k ∈ R^{p×d}`` per head k; ``W_k = X P_kᵀ`` are the coordinates of the
  tokens in subspace k. One step of compressing the tokens against the union
  of subspaces is

  ``MSSA(X) = η Σ_k softmax(W_k W_kᵀ / √p) W_k P_k``           (paper: MSSA)

  Tokens that are similar inside subspace k are pulled together (their coding
  rate in that subspace falls); ``P_k`` maps the update back to R^d.
* **MSCA** (multi-head subspace cross-attention). The same step, with the
  queries ``Q`` (the class embeddings) compressed against the tokens X:

  ``MSCA(X; Q) = η Σ_k softmax((Q P_kᵀ)(X P_kᵀ)ᵀ / √p) (X P_kᵀ) P_k``  (paper: MSCA)

One parameter ``P = [P_1; …; P_K] ∈ R^{(K·p)×d}`` serves as query, key, value
and (transposed) output projection; the step size ``η`` is a learnable scalar
per layer. There is no MLP: each layer is a residual pre-norm step
``X ← X + MSSA(LN(X))`` or ``Q ← Q + MSCA(LN(X); Q)`` (only the key/value side is
normalised, as in the official code).

Initialisation follows the official code: ``P ~ N(0, 1/d)`` and
``η ~ N(0, 1)`` (its sign is free; training fixes it). The official code calls
an ``ortho(P, operation=None)`` hook before use; with ``None`` it is the
identity (the helper itself is not in the public repository), so P is used as
is here.

The attention itself runs through :func:`depict.models.layers.attention.attention`
(``F.scaled_dot_product_attention``): ``q = W_k`` (or ``Q P_kᵀ``), ``k = v = W_k``
and the default scale ``1/√p`` are exactly the operator above.
"""
import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .attention import attention, merge_heads, split_heads

__all__ = ['subspace_attention', 'SubspaceAttention', 'MSSA', 'MSCA', 'MSSALayer', 'MSCALayer']


def subspace_attention(x: Tensor, proj: Tensor, *, num_heads: int,
                       query: Optional[Tensor] = None, dropout_p: float = 0.0) -> Tensor:
    """The shared core of MSSA and MSCA, without the step size.

    Computes ``Σ_k softmax(Q_k W_kᵀ / √p) W_k P_k`` with ``W_k = x P_kᵀ`` and
    ``Q_k = W_k`` (self, ``query=None``) or ``Q_k = query P_kᵀ`` (cross).

    Args:
        x: Tokens that are compressed against (keys/values), (B, N, d).
        proj: ``P``, the stacked head bases, (K·p, d).
        num_heads: K; must divide ``proj.shape[0]``.
        query: Optional queries (B, Nq, d) for the cross-attention form.
        dropout_p: Dropout on the attention weights (0 in eval mode).

    Returns:
        The update, (B, Nq, d) with ``Nq = N`` for self-attention.
    """
    # x P_kᵀ for all heads at once: (B, N, d) -> (B, N, K·p) -> (B, K, N, p)
    coords = split_heads(F.linear(x, proj), num_heads)
    # (B, Nq, d) -> (B, Nq, K·p) -> (B, K, Nq, p)
    q = coords if query is None else split_heads(F.linear(query, proj), num_heads)
    # softmax(q W_kᵀ / √p) W_k, per head: (B, K, Nq, p); default scale is 1/√p.
    out = attention(q, coords, coords, dropout_p=dropout_p)
    # Σ_k (·) P_k == [·_1 … ·_K] P: (B, K, Nq, p) -> (B, Nq, K·p) -> (B, Nq, d)
    return merge_heads(out) @ proj


class SubspaceAttention(nn.Module):
    """η · Σ_k softmax(Q_k W_kᵀ / √p) W_k P_k: the operator MSSA and MSCA share.

    Args:
        embed_dims: d, the token width (the backbone's; no input projection).
        num_heads: K, the number of subspaces.
        head_dims: p, the dimension of each subspace.
        attn_drop: Dropout on the attention weights (training only).

    Attributes:
        proj: ``P ∈ R^{(K·p)×d}``; rows ``k·p:(k+1)·p`` are ``P_k``.
        eta: The step size ``η`` of the unrolled gradient step, shape (1,).
    """

    def __init__(self, *, embed_dims: int, num_heads: int, head_dims: int,
                 attn_drop: float = 0.0) -> None:
        super().__init__()
        for name, value in (('embed_dims', embed_dims), ('num_heads', num_heads),
                            ('head_dims', head_dims)):
            if value < 1:
                raise ValueError(f'{name} must be a positive integer, got {value}')
        if not 0.0 <= attn_drop < 1.0:
            raise ValueError(f'attn_drop must be in [0, 1), got {attn_drop}')
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.head_dims = head_dims
        self.attn_drop = attn_drop
        self.proj = nn.Parameter(torch.empty(num_heads * head_dims, embed_dims))
        self.eta = nn.Parameter(torch.empty(1))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The official initialisation: ``P ~ N(0, 1/d)``, ``η ~ N(0, 1)``."""
        with torch.no_grad():
            self.proj.normal_(0.0, 1.0 / math.sqrt(self.embed_dims))
            self.eta.normal_(0.0, 1.0)

    def head_projections(self) -> Tensor:
        """The per-head bases ``P_k``: (K·p, d) -> (K, p, d)."""
        return self.proj.reshape(self.num_heads, self.head_dims, self.embed_dims)

    def forward(self, x: Tensor, query: Optional[Tensor] = None) -> Tensor:
        dropout_p = self.attn_drop if self.training else 0.0
        return self.eta * subspace_attention(x, self.proj, num_heads=self.num_heads,
                                             query=query, dropout_p=dropout_p)

    def extra_repr(self) -> str:
        return (f'embed_dims={self.embed_dims}, num_heads={self.num_heads}, '
                f'head_dims={self.head_dims}, attn_drop={self.attn_drop}')


class MSSA(SubspaceAttention):
    """Multi-head subspace self-attention: ``MSSA(X) = η Σ_k softmax(W_k W_kᵀ/√p) W_k P_k``."""

    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]
        """(B, N, d) -> (B, N, d)."""
        return super().forward(x)


class MSCA(SubspaceAttention):
    """Multi-head subspace cross-attention of queries Q over tokens X.

    ``MSCA(X; Q) = η Σ_k softmax((Q P_kᵀ)(X P_kᵀ)ᵀ/√p) (X P_kᵀ) P_k``.
    """

    def forward(self, x: Tensor, query: Tensor) -> Tensor:  # type: ignore[override]
        """Tokens (B, N, d), queries (B, Nq, d) -> update of the queries (B, Nq, d)."""
        return super().forward(x, query=query)


class MSSALayer(nn.Module):
    """One DEPICT self-attention layer: ``X ← X + MSSA(LN(X))`` (pre-norm, no MLP).

    Args:
        embed_dims: d.
        num_heads: K.
        head_dims: p.
        attn_drop: Dropout on the attention weights (training only).
        norm_eps: LayerNorm epsilon (PyTorch's default, as the official code).
    """

    def __init__(self, *, embed_dims: int, num_heads: int, head_dims: int,
                 attn_drop: float = 0.0, norm_eps: float = 1e-5) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(embed_dims, eps=norm_eps)
        self.attn = MSSA(embed_dims=embed_dims, num_heads=num_heads, head_dims=head_dims,
                         attn_drop=attn_drop)

    def forward(self, x: Tensor) -> Tensor:
        """(B, N, d) -> (B, N, d)."""
        return x + self.attn(self.norm(x))


class MSCALayer(nn.Module):
    """One DEPICT cross-attention layer: ``Q ← Q + MSCA(LN(X); Q)``.

    Only the tokens X (keys/values) are normalised; the queries enter the
    projection as they are, as in the official code.

    Args:
        embed_dims: d.
        num_heads: K.
        head_dims: p.
        attn_drop: Dropout on the attention weights (training only).
        norm_eps: LayerNorm epsilon.
    """

    def __init__(self, *, embed_dims: int, num_heads: int, head_dims: int,
                 attn_drop: float = 0.0, norm_eps: float = 1e-5) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(embed_dims, eps=norm_eps)
        self.attn = MSCA(embed_dims=embed_dims, num_heads=num_heads, head_dims=head_dims,
                         attn_drop=attn_drop)

    def forward(self, x: Tensor, query: Tensor) -> Tensor:
        """Tokens (B, N, d), queries (B, Nq, d) -> refined queries (B, Nq, d)."""
        return query + self.attn(self.norm(x), query)
