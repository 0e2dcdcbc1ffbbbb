"""DEPICT-SA: the self-attention-only DEPICT decoder (Wen & Li, NeurIPS 2024)."""
import torch
from mmseg.registry import MODELS
from torch import Tensor, nn

from ..layers.coding_rate_attention import MSSALayer
from ._depict_base import DepictBaseHead

__all__ = ['DepictSAHead']


@MODELS.register_module()
class DepictSAHead(DepictBaseHead):
    """DEPICT-SA decode head (arXiv 2411.03033, "DEPICT-SA").

    The class embeddings E are appended to the patch tokens Z and both are
    refined together by L MSSA layers, i.e. L unrolled gradient steps that
    compress the joint token set against K learned subspaces P_k; the class
    embeddings end up as a basis of the principal subspace of the patches:

    ==========================================  ===============================
    code                                        paper
    ==========================================  ===============================
    ``tokens = cat(Z, E)``                      T⁰ = [Z; E]
    ``tokens = layer(tokens)`` (L times)        Tˡ⁺¹ = Tˡ + MSSA(LN(Tˡ)), MSSA(X)
                                                = η Σ_k softmax(W_k W_kᵀ/√p) W_k P_k,
                                                W_k = X P_kᵀ
    ``tokens = self.decoder_norm(tokens)``      LN(Tᴸ) = [Ẑ; Ê]
    ``self._masks(Ẑ, Ê, h, w)``                 M = LN_C(n(Ẑ) n(Ê)ᵀ) -> (C, h, w)
    ==========================================  ===============================

    Defaults reproduce the official code (``model/decoder.py`` with
    ``mode='sa'``): L = 3, K = 3, p = 100 (so K·p = 300 = 2C on ADE20K), P ~
    N(0, 1/d), η ~ N(0, 1), E ~ TruncNormal(0, 0.02). With d = 1024 and C = 150
    that is 1.08 M parameters (Segmenter's mask decoder: 28.5 M).

    ``attn_drop_rate`` 0.0 is the official ``config.yml``'s decoder
    ``dropout`` (Segmenter's is 0.1; DEPICT changes it). Decision where the
    public code is silent: n(·) uses ``F.normalize`` (eps 1e-12) where the
    official code divides by the norm directly.

    Args:
        in_channels: d, the backbone width (the decoder width).
        num_classes: C.
        num_layers: L, the number of MSSA layers.
        num_heads: K, the number of subspaces per layer.
        head_dims: p, the dimension of each subspace.
        attn_drop_rate: Dropout on the attention weights (training only).
        cls_emb_init_std: Std of E's truncated-normal init.
        norm_eps: LayerNorm epsilon.
        **kwargs: :class:`BaseDecodeHead` arguments (``channels`` must equal
            ``in_channels`` if given).
    """

    def __init__(self, *, in_channels: int, num_classes: int, num_layers: int = 3,
                 num_heads: int = 3, head_dims: int = 100, attn_drop_rate: float = 0.0,
                 cls_emb_init_std: float = 0.02, norm_eps: float = 1e-5, **kwargs) -> None:
        super().__init__(in_channels=in_channels, num_classes=num_classes,
                         cls_emb_init_std=cls_emb_init_std, norm_eps=norm_eps, **kwargs)
        if num_layers < 1:
            raise ValueError(f'num_layers must be >= 1, got {num_layers}')
        self.layers = nn.ModuleList(
            MSSALayer(embed_dims=in_channels, num_heads=num_heads, head_dims=head_dims,
                      attn_drop=attn_drop_rate, norm_eps=norm_eps) for _ in range(num_layers))
        self.decoder_norm = nn.LayerNorm(in_channels, eps=norm_eps)

    def forward(self, inputs: list[Tensor]) -> Tensor:
        """Backbone features -> mask logits (B, C, h, w) at the feature resolution."""
        patches, h, w = self._patch_tokens(inputs)  # (B, h*w, d)
        # T⁰ = [Z; E]: (B, h*w, d) + (B, C, d) -> (B, h*w + C, d)
        tokens = torch.cat((patches, self._class_embeddings(patches.shape[0])), dim=1)
        for layer in self.layers:
            tokens = layer(tokens)
        tokens = self.decoder_norm(tokens)
        num_patches = h * w
        return self._masks(tokens[:, :num_patches], tokens[:, num_patches:], h, w)
