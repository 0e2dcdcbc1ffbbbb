"""EoMT's readout (Kerssies et al., "Your ViT is Secretly an Image Segmentation
Model", CVPR 2025, arXiv 2503.19108), as an mmseg decode head.

EoMT has no decoder: its queries run through the last L₂ blocks of the ViT
(:class:`~depict.models.backbones.EoMTTimmViT`,
:class:`~depict.models.backbones.EoMTVisionTransformer`). This head is what
reads them out at every prediction point (Sec. 3.2):

* class logits ``Y = Linear(q)`` over K classes + "no object";
* mask logits ``M[q] = MLP(q) · Up(F)``: a 3-layer MLP (GELU) on the queries
  against the patch features ``F`` upsampled to stride 4 by
  :class:`~depict.models.layers.ScaleBlock` s (2 for patch 16, 1 for patch 14);
* semantic inference: ``P[c] = Σ_q softmax(Y)[q, c] · σ(↑M[q])`` with the
  no-object column dropped, at the input (or slide window) size
  (:func:`~depict.models.decode_heads.atm_head.upsampled_class_scores`);
* training: :class:`~depict.models.losses.Mask2FormerLoss` on every point.

Paper ↔ official code ↔ here: docs/eomt.md.
"""
from typing import Optional

import torch
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.losses import accuracy
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, SampleList
from torch import Tensor, nn

from ..backbones.eomt_vit import EoMTFeatures, num_upscale_blocks
from ..layers import ScaleBlock, prediction_size
from ..losses.mask2former_loss import semantic_segments
from .atm_head import upsampled_class_scores

__all__ = ['EoMTHead']

#: Per prediction point, (class logits (B, Q, K+1), mask logits (B, Q, h', w')).
EoMTOutputs = tuple[list, list]


@MODELS.register_module()
class EoMTHead(BaseDecodeHead):
    """Class and mask readout of EoMT's queries (see the module docstring).

    Args:
        in_channels: The ViT width C.
        num_classes: K.
        patch_size: The ViT patch size; sets the number of 2x upscaling blocks
            (to stride 4, at least one: ``max(1, ⌊log2 p⌋ − 2)``).
        loss_decode: The loss config (:class:`~depict.models.losses.Mask2FormerLoss`).
        **kwargs: Other :class:`BaseDecodeHead` arguments (``ignore_index``,
            ``align_corners``...). ``channels`` is C (the readout keeps the
            ViT's width).
    """

    def __init__(self, *, in_channels: int, num_classes: int, patch_size: int = 16,
                 loss_decode: ConfigType = dict(type='Mask2FormerLoss'),
                 init_cfg: Optional[ConfigType] = None, **kwargs) -> None:
        kwargs.setdefault('channels', in_channels)
        if kwargs['channels'] != in_channels:
            raise ValueError(f'EoMTHead keeps the ViT width: channels={kwargs["channels"]} '
                             f'must equal in_channels={in_channels} (or be left out)')
        super().__init__(in_channels=in_channels, num_classes=num_classes,
                         loss_decode=loss_decode, init_cfg=init_cfg, dropout_ratio=0.0,
                         **kwargs)
        # The readout replaces mmseg's 1x1 classifier: drop it (no unused parameters).
        del self.conv_seg
        width = in_channels
        self.class_head = nn.Linear(width, num_classes + 1)
        self.mask_head = nn.Sequential(nn.Linear(width, width), nn.GELU(),
                                       nn.Linear(width, width), nn.GELU(),
                                       nn.Linear(width, width))
        self.upscale = nn.Sequential(*[ScaleBlock(width)
                                       for _ in range(num_upscale_blocks((patch_size,)))])

    def init_weights(self) -> None:
        """PyTorch's default initialisation, as the official model (no custom init).

        An explicit ``init_cfg`` still applies.
        """
        if self.init_cfg is not None:
            super().init_weights()

    def readout(self, queries: Tensor, patches: Tensor) -> tuple[Tensor, Tensor]:
        """Queries (B, Q, C) and patch map (B, C, h, w) -> mask logits
        (B, Q, 2^u·h, 2^u·w) and class logits (B, Q, K+1)."""
        class_logits = self.class_head(queries)
        pixels = self.upscale(patches)  # (B, C, 2^u h, 2^u w)
        mask_logits = torch.einsum('bqc,bchw->bqhw', self.mask_head(queries), pixels)
        return mask_logits, class_logits

    def forward(self, inputs: EoMTFeatures) -> EoMTOutputs:
        """Backbone features -> per-point class and mask logits (last = final)."""
        if not isinstance(inputs, EoMTFeatures):
            raise TypeError('EoMTHead reads the queries of an EoMT backbone (EoMTTimmViT or '
                            'EoMTVisionTransformer), got '
                            f'{type(inputs).__name__}; set model.backbone accordingly.')
        cls_logits, mask_logits = [], []
        for queries, patches, prediction in zip(*inputs):
            masks, classes = prediction if prediction is not None else \
                self.readout(queries, patches)
            cls_logits.append(classes)
            mask_logits.append(masks)
        return cls_logits, mask_logits

    def loss_by_feat(self, seg_logits: EoMTOutputs, batch_data_samples: SampleList) -> dict:
        """Mask2Former losses of every prediction point, plus ``acc_seg``."""
        cls_logits, mask_logits = seg_logits
        seg_label = self._stack_batch_gt(batch_data_samples).squeeze(1)  # (B, H, W)
        targets = semantic_segments(seg_label, self.num_classes, self.ignore_index)
        losses = self.loss_decode(cls_logits, mask_logits, targets)
        with torch.no_grad():
            # A training-log metric at mask resolution, then upsampled.
            class_probs = cls_logits[-1].float().softmax(-1)[..., :-1]
            scores = torch.einsum('bqc,bqhw->bchw', class_probs, mask_logits[-1].float().sigmoid())
            scores = resize(scores, size=seg_label.shape[-2:], mode='bilinear',
                            align_corners=self.align_corners)
            losses['acc_seg'] = accuracy(scores, seg_label, ignore_index=self.ignore_index)
        return losses

    def predict_by_feat(self, seg_logits: EoMTOutputs, batch_img_metas: list[dict]) -> Tensor:
        """``P[c] = Σ_q softmax(Y)[q, c] · σ(↑M[q])`` at the input / window size.

        As the official semantic inference, the final mask logits are
        upsampled bilinearly before the sigmoid; the sum runs in row blocks.
        """
        cls_logits, mask_logits = seg_logits
        return upsampled_class_scores(cls_logits[-1], mask_logits[-1],
                                      size=prediction_size(batch_img_metas),
                                      align_corners=self.align_corners)
