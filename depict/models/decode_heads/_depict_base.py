"""What DEPICT-SA and DEPICT-CA share (private; the heads are registered in their own files).

DEPICT (Wen & Li, "Rethinking Decoders for Transformer-based Semantic
Segmentation: A Compression Perspective", NeurIPS 2024, arXiv 2411.03033) reads
the last ViT layer Z ∈ R^{N×d} (after the backbone's final LN, CLS token dropped,
N = h·w) at the backbone width d (no input projection), refines it with MSSA
layers and finds class embeddings Ê; the masks are the compact coordinates of
the patches in the basis Ê:

    M = LN_C( n(Ẑ) n(Ê)ᵀ ) ∈ R^{N×C}  ->  (C, h, w)        (paper: masks)

with n(·) row-wise ℓ2 normalisation and LN_C a LayerNorm over the class axis.
mmseg then upsamples M bilinearly and applies pixel-wise cross-entropy: the
paper's only loss.
"""
from typing import Optional

import torch
from mmengine.model.weight_init import constant_init, trunc_normal_
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from torch import Tensor, nn

from ..layers.class_masks import class_masks
from ..layers.coding_rate_attention import SubspaceAttention

__all__ = ['DepictBaseHead']


class DepictBaseHead(BaseDecodeHead):
    """Input handling, class embeddings, mask computation and init of the DEPICT heads.

    Args:
        in_channels: d, the backbone width. The decoder works at this width.
        num_classes: C, the number of classes (one class embedding each).
        channels: Must equal ``in_channels`` if given (DEPICT has no input
            projection); accepted so that mmseg-style configs stay valid.
        cls_emb_init_std: Std of the truncated-normal init of the class
            embeddings E (official: 0.02).
        norm_eps: Epsilon of every LayerNorm (official: PyTorch's 1e-5).
        eta_init: None (official) draws every operator's step size η from
            N(0, 1), so each layer starts with a random sign and size; a float
            starts every η at that value instead (an ablation knob: does the
            random initial sign and size of η matter? docs/toy_dataset.md).
        **kwargs: Passed to :class:`BaseDecodeHead` (``in_index``, ``align_corners``,
            ``loss_decode``, ``ignore_index``, ...).
    """

    def __init__(self, *, in_channels: int, num_classes: int, channels: Optional[int] = None,
                 cls_emb_init_std: float = 0.02, norm_eps: float = 1e-5,
                 eta_init: Optional[float] = None, **kwargs) -> None:
        if not isinstance(in_channels, int):
            raise TypeError(f'{type(self).__name__} reads one feature map; in_channels must be '
                            f'an int (the ViT width), got {in_channels!r}. Select the layer '
                            f'with in_index, not input_transform.')
        if channels is not None and channels != in_channels:
            raise ValueError(f'{type(self).__name__} works at the backbone width (no input '
                             f'projection): channels={channels} must equal '
                             f'in_channels={in_channels}, or be left out.')
        out_channels = kwargs.get('out_channels')
        if out_channels is not None and out_channels != num_classes:
            raise ValueError(f'{type(self).__name__} predicts one mask per class embedding: '
                             f'out_channels={out_channels} must equal num_classes={num_classes}.')
        kwargs.setdefault('dropout_ratio', 0.0)  # BaseDecodeHead's conv_seg dropout: unused
        super().__init__(in_channels=in_channels, channels=in_channels,
                         num_classes=num_classes, **kwargs)
        # The masks come from dot products with the class embeddings, so the
        # 1x1 classifier is never used; removing it keeps DDP free of unused params.
        delattr(self, 'conv_seg')
        self.embed_dims = in_channels
        self.cls_emb_init_std = cls_emb_init_std
        self.norm_eps = norm_eps
        self.eta_init = eta_init
        # E: one learnable embedding per class (paper: the class embeddings).
        self.cls_emb = nn.Parameter(torch.zeros(1, num_classes, in_channels))
        # LN_C: normalises the N×C similarities over the class axis.
        self.mask_norm = nn.LayerNorm(num_classes, eps=norm_eps)
        trunc_normal_(self.cls_emb, std=cls_emb_init_std)

    def no_weight_decay(self) -> set[str]:
        """timm's convention: parameter names to keep out of weight decay.

        The configs apply it through ``optim_wrapper.paramwise_cfg =
        dict(custom_keys={'cls_emb': dict(decay_mult=0.0)})``.
        """
        return {'cls_emb'}

    def init_weights(self) -> None:
        """The official initialisation (Segmenter's ``init_weights`` + CRATE's operator).

        E ~ TruncNormal(0, 0.02); LayerNorms: weight 1, bias 0; each operator:
        ``P ~ N(0, 1/d)``, ``η ~ N(0, 1)`` (or ``η = eta_init`` when given).
        """
        trunc_normal_(self.cls_emb, std=self.cls_emb_init_std)
        for module in self.modules():
            if isinstance(module, nn.LayerNorm):
                constant_init(module, val=1.0, bias=0.0)
            elif isinstance(module, SubspaceAttention):
                module.reset_parameters()
                if self.eta_init is not None:
                    with torch.no_grad():
                        module.eta.fill_(self.eta_init)

    def _patch_tokens(self, inputs: list[Tensor]) -> tuple[Tensor, int, int]:
        """The ViT feature map as tokens Z, with its grid size (never assumed square)."""
        x = self._transform_inputs(inputs)
        if x.dim() != 4 or x.shape[1] != self.embed_dims:
            raise ValueError(f'{type(self).__name__} expects a (B, {self.embed_dims}, h, w) '
                             f'feature map, got {tuple(x.shape)}; check in_channels and the '
                             f'backbone\'s out_indices / output_cls_token.')
        batch, dims, h, w = x.shape
        # (B, d, h, w) -> (B, h*w, d)
        return x.flatten(2).transpose(1, 2), h, w

    def _class_embeddings(self, batch: int) -> Tensor:
        """E for every image: (1, C, d) -> (B, C, d)."""
        return self.cls_emb.expand(batch, -1, -1)

    def _masks(self, patches: Tensor, classes: Tensor, h: int, w: int) -> Tensor:
        """M = LN_C(n(Ẑ) n(Ê)ᵀ): patches (B, h*w, d), classes (B, C, d) -> (B, C, h, w)."""
        return class_masks(patches, classes, self.mask_norm, (h, w))
