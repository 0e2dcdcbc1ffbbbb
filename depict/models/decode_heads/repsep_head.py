"""Representation-separation decode head (Hong et al., arXiv 2212.13764).

"Representation Separation for Semantic Segmentation with Vision Transformers"
released no code; only its abstract and figure captions are public. The paper
names a spatially adaptive separation module (SASM) that makes deep
representations more separate, and a discriminative cross-attention (DCA)
that yields more discriminative region representations through auxiliary
supervisions, whose branch is "dropped during inference". Everything below the
module names is a documented RECONSTRUCTION (``docs/repsep.md``).

The head extends Segmenter's mask transformer (mmseg's
:class:`SegmenterMaskTransformerHead`, reused, not rewritten). With
``with_sasm=False, with_dca=False`` it computes exactly Segmenter's masks
(same parameter names too), which is the ablation baseline::

    [Z W_dec; E] → mask-transformer layers → LN → (Ẑ, Ê)               (Segmenter)
    Ẑ ← SASM(Ẑ)                                             if with_sasm
    R ← Ê;  R ← R + MHA(LN(R), LN(Ẑ));  R ← R + FFN(LN(R)); R ← LN(R)   if with_dca
    M = LN_C( n(Ẑ P_p) · n(R P_c)ᵀ )  → (C, h, w)                      (Segmenter)

Auxiliary branch (training only, computed in :meth:`loss`, never in
:meth:`forward`/:meth:`predict`):

* attention supervision: the head-mean pre-softmax logits S (C, h·w) of every
  DCA layer, upsampled to the label map, are trained with pixel CE over the
  class axis, so that query c out-scores the other queries on class c's
  pixels, i.e. each class attends to its own region;
* region supervision: a projector g (only used here) maps R and the
  ground-truth region prototypes P (area-weighted means of Ẑ per class) into a
  space where :class:`RegionContrastiveLoss` makes R_c closer to P_c than to
  any other present class's prototype.

At inference DCA runs through the fused SDPA path (no logits materialised) and
nothing of the auxiliary branch runs.
"""
from typing import NamedTuple, Optional

import torch
from mmseg.models.decode_heads import SegmenterMaskTransformerHead
from mmseg.models.utils import nchw_to_nlc, resize
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, SampleList
from torch import Tensor, nn

from ..layers.class_masks import class_masks
from ..layers.region_features import class_area_fractions, region_prototypes
from ..layers.separation import SpatiallyAdaptiveSeparation
from ..layers.transformer_decoder import DiscriminativeCrossAttentionLayer
from .widths import mask_transformer_widths

__all__ = ['DCAAuxiliary', 'DiscriminativeCrossAttentionLayer', 'RepSepHead']


class DCAAuxiliary(NamedTuple):
    """What the auxiliary supervision of DCA reads (training only).

    Attributes:
        grid_shape: (h, w) of the patch grid.
        patches: Ẑ after SASM, (B, h*w, D): the region prototypes' source.
        regions: R after the DCA layers and their LN, (B, C, D).
        attn_logits: Pre-softmax logits (B, H, C, h*w) of every DCA layer; empty
            when the attention supervision is off.
    """
    grid_shape: tuple[int, int]
    patches: Tensor
    regions: Tensor
    attn_logits: list[Tensor]


@MODELS.register_module()
class RepSepHead(SegmenterMaskTransformerHead):
    """Segmenter's mask transformer + SASM + DCA (reconstruction of Hong et al.).

    Args:
        in_channels: Backbone width; with ``input_transform='resize_concat'`` the
            widths of the ``in_index`` levels (pyramid backbones: resized to
            the first level and concatenated, mmseg's rule).
        num_layers: Mask-transformer layers (Segmenter: 2).
        num_heads: Heads of the mask transformer and of DCA; default
            ``embed_dims // 64`` (Segmenter's rule).
        embed_dims: Decoder width D; default the backbone width (Segmenter's
            rule; ``channels`` defaults to it too).
        with_sasm: Switch of the spatially adaptive separation module.
        sasm_kernel_size: Odd local-context window of SASM; None = image mean.
        sasm_reduction: SASM gate MLP hidden width is ``2D / sasm_reduction``.
        with_dca: Switch of the discriminative cross-attention (and of its
            auxiliary branch).
        dca_num_layers: DCA layers.
        dca_mlp_ratio: FFN ratio of the DCA layers.
        region_proj_channels: Output width of the auxiliary region projector.
        loss_dca_attn: Loss of the attention supervision (an mmseg pixel loss
            taking logits (B, C, H, W) and labels (B, H, W)); None disables it.
        loss_dca_region: Loss of the region supervision
            (:class:`RegionContrastiveLoss`); None disables it and the projector.
        **kwargs: :class:`SegmenterMaskTransformerHead` / ``BaseDecodeHead``
            arguments (``num_classes``, ``channels``, ``loss_decode``, ...).
    """

    def __init__(self, *, in_channels: int, num_layers: int = 2,
                 num_heads: Optional[int] = None, embed_dims: Optional[int] = None,
                 with_sasm: bool = True, sasm_kernel_size: Optional[int] = 3,
                 sasm_reduction: int = 4, with_dca: bool = True, dca_num_layers: int = 1,
                 dca_mlp_ratio: int = 4, region_proj_channels: int = 256,
                 loss_dca_attn: Optional[ConfigType] = dict(
                     type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4,
                     loss_name='loss_dca_attn'),
                 loss_dca_region: Optional[ConfigType] = dict(
                     type='RegionContrastiveLoss', temperature=0.1, loss_weight=0.4,
                     loss_name='loss_dca_region'),
                 **kwargs) -> None:
        transform = kwargs.pop('input_transform', None)
        if transform not in (None, 'resize_concat'):
            raise ValueError('RepSepHead reads one backbone output (input_transform=None) or '
                             "several resized to the first and concatenated ('resize_concat', "
                             f'pyramid backbones); got {transform!r}')
        levels = None
        if transform == 'resize_concat':
            # Multi-level input (pyramid backbones): Segmenter's projection takes
            # the concatenated width; mmseg's _transform_inputs does the resize.
            levels = (tuple(in_channels), tuple(kwargs.pop('in_index')))
            in_channels, kwargs['in_index'] = sum(levels[0]), levels[1][0]
        embed_dims, num_heads, kwargs['channels'] = mask_transformer_widths(
            in_channels, embed_dims, num_heads, kwargs.get('channels'))
        super().__init__(in_channels=in_channels, num_layers=num_layers, num_heads=num_heads,
                         embed_dims=embed_dims, **kwargs)
        if levels is not None:
            self.input_transform, self.in_index = transform, list(levels[1])
        self.with_sasm = with_sasm
        self.with_dca = with_dca
        if with_sasm:
            self.sasm = SpatiallyAdaptiveSeparation(channels=embed_dims,
                                                    kernel_size=sasm_kernel_size,
                                                    reduction=sasm_reduction)
        self.loss_dca_attn = None
        self.loss_dca_region = None
        if with_dca:
            if dca_num_layers < 1:
                raise ValueError(f'dca_num_layers={dca_num_layers} must be >= 1 '
                                 '(switch DCA off with with_dca=False)')
            self.dca_layers = nn.ModuleList([
                DiscriminativeCrossAttentionLayer(embed_dims=embed_dims, num_heads=num_heads,
                                                  mlp_ratio=dca_mlp_ratio)
                for _ in range(dca_num_layers)
            ])
            self.dca_norm = nn.LayerNorm(embed_dims)
            if loss_dca_attn is not None:
                self.loss_dca_attn = MODELS.build(loss_dca_attn)
            if loss_dca_region is not None:
                self.loss_dca_region = MODELS.build(loss_dca_region)
                # Auxiliary branch: used only by the region loss (training).
                self.region_proj = nn.Sequential(
                    nn.Linear(embed_dims, region_proj_channels), nn.GELU(),
                    nn.Linear(region_proj_channels, region_proj_channels))

    def init_weights(self) -> None:
        """Segmenter's init (trunc-normal std ``init_std`` for every Linear, unit
        LayerNorms) covers the new Linear layers; SASM keeps its own (its scale
        is not a Linear)."""
        super().init_weights()
        if self.with_sasm:
            self.sasm.reset_parameters()

    def _decode(self, inputs: tuple[Tensor, ...], *,
                with_aux: bool) -> tuple[Tensor, Optional[DCAAuxiliary]]:
        """Masks (B, C, h, w) and, with ``with_aux`` and DCA on, the tensors
        the auxiliary supervision needs."""
        x = self._transform_inputs(inputs)  # (B, c_in, h, w)
        batch, _, h, w = x.shape
        num_classes = self.num_classes
        x = self.dec_proj(nchw_to_nlc(x))  # (B, c_in, h, w) -> (B, h*w, D)
        cls_emb = self.cls_emb.expand(batch, -1, -1)  # (B, C, D)
        x = torch.cat((x, cls_emb), 1)  # (B, h*w + C, D)
        for layer in self.layers:
            x = layer(x)
        x = self.decoder_norm(x)
        # (B, h*w + C, D) -> patches (B, h*w, D), classes (B, C, D)
        patches, classes = x[:, :-num_classes], x[:, -num_classes:]

        if self.with_sasm:  # Ẑ ← Ẑ + s ⊙ g ⊙ (Ẑ − μ_k(Ẑ)), after the last attention
            patches = self.sasm(patches, (h, w))

        attn_logits = []
        need_logits = with_aux and self.loss_dca_attn is not None
        if self.with_dca:  # R ← R + MHA(LN(R), LN(Ẑ)); R ← R + FFN(LN(R)); R ← LN(R)
            for layer in self.dca_layers:
                classes, logits = layer(classes, patches, return_logits=need_logits)
                attn_logits.append(logits)
            classes = self.dca_norm(classes)

        # Segmenter's masks: M = LN_C( n(Ẑ P_p) · n(R P_c)ᵀ )
        masks = class_masks(self.patch_proj(patches), self.classes_proj(classes),
                            self.mask_norm, (h, w))

        if not (with_aux and self.with_dca):
            return masks, None
        return masks, DCAAuxiliary(grid_shape=(h, w), patches=patches, regions=classes,
                                   attn_logits=attn_logits if need_logits else [])

    def forward(self, inputs: tuple[Tensor, ...]) -> Tensor:
        """Inference graph: masks (B, C, h, w); no auxiliary computation."""
        return self._decode(inputs, with_aux=False)[0]

    def loss(self, inputs: tuple[Tensor, ...], batch_data_samples: SampleList,
             train_cfg: ConfigType) -> dict:
        """Main pixel loss on the masks (as Segmenter) plus, with DCA, the
        auxiliary attention and region losses."""
        masks, aux = self._decode(inputs, with_aux=True)
        losses = self.loss_by_feat(masks, batch_data_samples)
        if aux is not None:
            losses.update(self.aux_loss_by_feat(aux, batch_data_samples))
        return losses

    def aux_loss_by_feat(self, aux: DCAAuxiliary, batch_data_samples: SampleList) -> dict:
        """The auxiliary supervision of DCA (training only)."""
        return self.aux_losses(aux, self._stack_batch_gt(batch_data_samples))

    def aux_losses(self, aux: DCAAuxiliary, labels: Tensor) -> dict:
        """Auxiliary losses from :meth:`_decode`'s ``aux`` and label maps
        (B, 1, H, W); computed in fp32 under AMP."""
        grid_h, grid_w = aux.grid_shape
        losses = {}
        if self.loss_dca_attn is not None:
            total = 0.0
            for logits in aux.attn_logits:
                batch, _, num_classes, _ = logits.shape
                # Head mean, (B, H, C, h*w) -> (B, C, h*w) -> (B, C, h, w)
                maps = logits.float().mean(1).reshape(batch, num_classes, grid_h, grid_w)
                maps = resize(maps, size=labels.shape[2:], mode='bilinear',
                              align_corners=self.align_corners)
                total = total + self.loss_dca_attn(maps, labels.squeeze(1),
                                                   ignore_index=self.ignore_index)
            losses[self.loss_dca_attn.loss_name] = total / len(aux.attn_logits)
        if self.loss_dca_region is not None:
            fractions = class_area_fractions(labels, num_classes=self.num_classes,
                                             grid_shape=(grid_h, grid_w),
                                             ignore_index=self.ignore_index)
            prototypes, present = region_prototypes(aux.patches.float(), fractions)
            losses[self.loss_dca_region.loss_name] = self.loss_dca_region(
                self.region_proj(aux.regions.float()), self.region_proj(prototypes), present)
        return losses
