"""DEPICT-CA: the self- then cross-attention DEPICT decoder (Wen & Li, NeurIPS 2024)."""
from mmseg.registry import MODELS
from torch import Tensor, nn

from ..layers.coding_rate_attention import MSCALayer, MSSALayer
from ._depict_base import DepictBaseHead

__all__ = ['DepictCAHead']


@MODELS.register_module()
class DepictCAHead(DepictBaseHead):
    """DEPICT-CA decode head (arXiv 2411.03033, "DEPICT-CA").

    Two stages with separate projections. MSSA layers refine the patch tokens
    alone, building the principal subspace; then MSCA layers move the class
    queries E towards a low-rank approximation of the refined patches (an
    orthonormal basis of that subspace, one vector per class):

    ===============================================  ==============================
    code                                             paper
    ===============================================  ==============================
    ``patches = layer(patches)`` (L times)           Zˡ⁺¹ = Zˡ + MSSA(LN(Zˡ))
    ``patches = self.patch_norm(patches)``           Ẑ = LN(Zᴸ)
    ``classes = layer(patches, classes)`` (L_c)      Eˡ⁺¹ = Eˡ + MSCA(LN(Ẑ); Eˡ), MSCA(X; Q)
                                                     = η Σ_k softmax((Q P_kᵀ)(X P_kᵀ)ᵀ/√p)
                                                     (X P_kᵀ) P_k
    ``classes = self.class_norm(classes)``           Ê = LN(E^{L_c})
    ``self._masks(Ẑ, Ê, h, w)``                      M = LN_C(n(Ẑ) n(Ê)ᵀ) -> (C, h, w)
    ===============================================  ==============================

    Defaults reproduce the official code (``model/decoder.py`` with
    ``mode='ca'``): L = 3 MSSA layers with K = 3, p = 100; L_c = 3 MSCA layers
    with their own P, K = 3, p = 50 (K·p = C on ADE20K). As in the official
    code the MSCA layers normalise the already normalised Ẑ again (their own
    pre-norm) and leave the queries un-normalised. See :class:`DepictSAHead`
    for the initialisation and the decisions on dropout and n(·).

    Args:
        in_channels: d, the backbone width (the decoder width).
        num_classes: C.
        num_layers: L, the number of MSSA layers on the patch tokens.
        num_heads: K of the MSSA layers.
        head_dims: p of the MSSA layers.
        num_cross_layers: L_c, the number of MSCA layers.
        cross_num_heads: K of the MSCA layers.
        cross_head_dims: p of the MSCA layers.
        attn_drop_rate: Dropout on the attention weights (training only).
        cls_emb_init_std: Std of E's truncated-normal init.
        norm_eps: LayerNorm epsilon.
        **kwargs: :class:`BaseDecodeHead` arguments.
    """

    def __init__(self, *, in_channels: int, num_classes: int, num_layers: int = 3,
                 num_heads: int = 3, head_dims: int = 100, num_cross_layers: int = 3,
                 cross_num_heads: int = 3, cross_head_dims: int = 50,
                 attn_drop_rate: float = 0.0, cls_emb_init_std: float = 0.02,
                 norm_eps: float = 1e-5, **kwargs) -> None:
        super().__init__(in_channels=in_channels, num_classes=num_classes,
                         cls_emb_init_std=cls_emb_init_std, norm_eps=norm_eps, **kwargs)
        if num_layers < 0 or num_cross_layers < 1:
            raise ValueError(f'need num_layers >= 0 and num_cross_layers >= 1, got '
                             f'{num_layers} and {num_cross_layers}')
        self.layers = nn.ModuleList(
            MSSALayer(embed_dims=in_channels, num_heads=num_heads, head_dims=head_dims,
                      attn_drop=attn_drop_rate, norm_eps=norm_eps) for _ in range(num_layers))
        self.patch_norm = nn.LayerNorm(in_channels, eps=norm_eps)
        self.cross_layers = nn.ModuleList(
            MSCALayer(embed_dims=in_channels, num_heads=cross_num_heads,
                      head_dims=cross_head_dims, attn_drop=attn_drop_rate, norm_eps=norm_eps)
            for _ in range(num_cross_layers))
        self.class_norm = nn.LayerNorm(in_channels, eps=norm_eps)

    def forward(self, inputs: list[Tensor]) -> Tensor:
        """Backbone features -> mask logits (B, C, h, w) at the feature resolution."""
        patches, h, w = self._patch_tokens(inputs)  # (B, h*w, d)
        for layer in self.layers:
            patches = layer(patches)
        patches = self.patch_norm(patches)
        classes = self._class_embeddings(patches.shape[0])  # (B, C, d)
        for layer in self.cross_layers:
            classes = layer(patches, classes)
        classes = self.class_norm(classes)
        return self._masks(patches, classes, h, w)
