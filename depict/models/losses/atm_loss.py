"""The loss of SegViT's Attention-to-Mask decoder (Zhang et al., NeurIPS 2022).

Every prediction point (an ATM stage, or a decoder layer of the Shrunk head's
single stage) gives class logits ``Y ∈ R^{B×C×(C+1)}`` for its C class queries
and mask logits ``M ∈ R^{B×C×h×w}``. With the fixed assignment of SegViT
(query c ↔ class c, no Hungarian matching) the loss of one point is

    L = λ_cls · CE(Y, t) + λ_focal · Σ_{(b,c) present} Focal(↑M[b,c], 1[y_b = c]) / n
                         + λ_dice  · Σ_{(b,c) present} Dice(σ(↑M[b,c]), 1[y_b = c]) / n

with ``t[b, c] = c`` if class c occurs in image b and ``C`` (no-object) otherwise,
CE weighted 1 per class and ``no_object_weight`` (0.1) on the no-object
column (PyTorch's weighted mean, as DETR / MaskFormer), the sigmoid focal loss
of Lin et al. (α 0.25, γ 2) averaged over pixels, the dice loss
``1 - (2 Σ p t + 1) / (Σ p + Σ t + 1)``, ``↑`` bilinear upsampling to the label
size, and ``n`` the number of present (image, class) masks averaged over all
processes (at least 1). The paper's weights are λ = (1, 20, 1) at every point,
all points weighted equally.
"""
from typing import Sequence

import torch
import torch.nn.functional as F
from mmengine.dist import all_reduce
from mmseg.models.losses.dice_loss import dice_loss
from mmseg.models.losses.focal_loss import py_sigmoid_focal_loss
from mmseg.registry import MODELS
from torch import Tensor, nn

__all__ = ['ATMLoss', 'atm_class_loss', 'atm_mask_losses', 'present_classes']


def present_classes(seg_label: Tensor, num_classes: int, ignore_index: int) -> Tensor:
    """Which classes occur in each label map.

    Args:
        seg_label: Labels (B, H, W) in ``[0, num_classes)`` or ``ignore_index``.
        num_classes: C.
        ignore_index: The label of unlabelled pixels.

    Returns:
        A boolean (B, C) table, ``True`` where class c occurs in image b.
    """
    valid = seg_label != ignore_index
    labels = seg_label[valid]
    if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f'labels must lie in [0, {num_classes}) or equal ignore_index='
                         f'{ignore_index}; got values in [{int(labels.min())}, '
                         f'{int(labels.max())}]. Check num_classes and reduce_zero_label.')
    batch = seg_label.shape[0]
    # Per image, a one-hot histogram of its valid labels (ignored pixels -> column C).
    flat = torch.where(valid, seg_label, num_classes).reshape(batch, -1)  # (B, H*W)
    counts = torch.zeros(batch, num_classes + 1, dtype=torch.long, device=seg_label.device)
    counts.scatter_add_(1, flat.long(), torch.ones_like(flat, dtype=torch.long))
    return counts[:, :num_classes] > 0


def atm_class_loss(cls_logits: Tensor, present: Tensor, no_object_weight: float) -> Tensor:
    """CE over C+1 classes with the fixed assignment query c ↔ class c.

    Args:
        cls_logits: (B, C, C+1), one row per class query.
        present: (B, C) boolean table of :func:`present_classes`.
        no_object_weight: Class weight of the no-object column.

    Returns:
        The weighted-mean cross-entropy (a scalar).
    """
    num_classes = present.shape[1]
    class_ids = torch.arange(num_classes, device=present.device)
    # Query c is "class c" where c occurs, else "no object" (index C).
    targets = torch.where(present, class_ids, num_classes)  # (B, C)
    weight = cls_logits.new_ones(num_classes + 1)
    weight[num_classes] = no_object_weight
    # (B, C, C+1) -> (B, C+1, C): cross_entropy wants the class axis second.
    return F.cross_entropy(cls_logits.transpose(1, 2), targets, weight=weight)


def atm_mask_losses(mask_logits: Tensor, seg_label: Tensor, present: Tensor, *,
                    num_masks: float, ignore_index: int, alpha: float, gamma: float,
                    dice_smooth: float, ignored_pixels_are_negatives: bool
                    ) -> tuple[Tensor, Tensor]:
    """Sigmoid focal and dice losses on the masks of the present classes.

    Args:
        mask_logits: (B, C, h, w); upsampled bilinearly to the label size.
        seg_label: (B, H, W).
        present: (B, C) boolean table of :func:`present_classes`.
        num_masks: The normaliser n (masks per process, averaged over processes).
        ignore_index: The label of unlabelled pixels.
        alpha: Focal α (weight of the positives).
        gamma: Focal γ.
        dice_smooth: The +1 of the dice numerator and denominator.
        ignored_pixels_are_negatives: True (SegViT / MaskFormer): unlabelled
            pixels are background of every mask. False: they are left out of
            both losses (focal averages over labelled pixels only).

    Returns:
        ``(focal, dice)``, each summed over masks and divided by ``num_masks``.
    """
    batch_ids, class_ids = present.nonzero(as_tuple=True)  # (M,), (M,)
    if batch_ids.numel() == 0:
        # Nothing present: zero losses that still belong to the graph.
        zero = mask_logits.sum() * 0.0
        return zero, zero
    size = seg_label.shape[-2:]
    # (M, h, w) -> (M, 1, h, w) -> upsample -> (M, H, W) -> (M, H*W)
    pred = F.interpolate(mask_logits[batch_ids, class_ids].unsqueeze(1), size=size,
                         mode='bilinear', align_corners=False).squeeze(1).flatten(1)
    labels = seg_label[batch_ids].flatten(1)  # (M, H*W)
    target = (labels == class_ids.unsqueeze(1)).to(pred.dtype)
    if ignored_pixels_are_negatives:
        valid = torch.ones_like(target)
    else:
        valid = (labels != ignore_index).to(pred.dtype)

    focal = py_sigmoid_focal_loss(pred, target, gamma=gamma, alpha=alpha, valid_mask=valid,
                                  reduction='none')  # (M, H*W), zero where not valid
    focal = focal.sum(1) / valid.sum(1).clamp(min=1.0)  # mean over pixels, per mask
    dice = dice_loss(pred.sigmoid() * valid, target * valid, weight=None, eps=dice_smooth,
                     reduction='none', naive_dice=True, ignore_index=None)  # (M,)
    return focal.sum() / num_masks, dice.sum() / num_masks


@MODELS.register_module()
class ATMLoss(nn.Module):
    """SegViT's set loss with fixed assignment, over every prediction point.

    Args:
        cls_weight: λ_cls.
        mask_weight: λ_focal (20 in the paper).
        dice_weight: λ_dice.
        no_object_weight: CE weight of the no-object class (0.1).
        focal_alpha: Focal α (0.25).
        focal_gamma: Focal γ (2).
        dice_smooth: Dice smoothing (1, as the official code).
        ignored_pixels_are_negatives: Whether unlabelled pixels count as
            background of every mask (True, the official code and mmseg's
            MaskFormer heads) or are excluded from the mask losses.
        loss_weight: A factor on every term.
        loss_name: Name for mmseg's bookkeeping (``BaseDecodeHead`` reads it);
            the returned keys are ``loss_cls``, ``loss_mask``, ``loss_dice``
            for the last point and ``p{i}.loss_*`` for the earlier ones.
    """

    def __init__(self, *, cls_weight: float = 1.0, mask_weight: float = 20.0,
                 dice_weight: float = 1.0, no_object_weight: float = 0.1,
                 focal_alpha: float = 0.25, focal_gamma: float = 2.0, dice_smooth: float = 1.0,
                 ignored_pixels_are_negatives: bool = True, loss_weight: float = 1.0,
                 loss_name: str = 'loss_atm') -> None:
        super().__init__()
        self.cls_weight = cls_weight
        self.mask_weight = mask_weight
        self.dice_weight = dice_weight
        self.no_object_weight = no_object_weight
        self.focal_alpha = focal_alpha
        self.focal_gamma = focal_gamma
        self.dice_smooth = dice_smooth
        self.ignored_pixels_are_negatives = ignored_pixels_are_negatives
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def forward(self, cls_logits: Sequence[Tensor], mask_logits: Sequence[Tensor],
                seg_label: Tensor, *, ignore_index: int = 255) -> dict[str, Tensor]:
        """Losses of every prediction point, in fp32 even under autocast.

        Args:
            cls_logits: Per point, class logits (B, C, C+1) of the C class queries.
            mask_logits: Per point, mask logits (B, C, h, w).
            seg_label: Labels (B, H, W).
            ignore_index: The label of unlabelled pixels.

        Returns:
            ``{'p0.loss_cls': ..., ..., 'loss_cls': ..., 'loss_mask': ..., 'loss_dice': ...}``.
        """
        if len(cls_logits) != len(mask_logits) or not cls_logits:
            raise ValueError('ATMLoss needs one (class, mask) logits pair per prediction '
                             f'point; got {len(cls_logits)} and {len(mask_logits)}')
        num_queries, num_outputs = cls_logits[0].shape[1:]
        if num_outputs != num_queries + 1:
            raise ValueError(f'ATMLoss assigns query c to class c, so class logits must be '
                             f'(B, C, C+1); got {tuple(cls_logits[0].shape)}')
        device_type = seg_label.device.type
        with torch.autocast(device_type=device_type, enabled=False):
            present = present_classes(seg_label, num_queries, ignore_index)
            # n: masks in this process's batch, averaged over processes (DETR).
            num_masks = present.sum().to(torch.float32)
            all_reduce(num_masks, op='mean')  # in place; a no-op without a process group
            num_masks = float(num_masks.clamp(min=1.0))
            losses = {}
            last = len(cls_logits) - 1
            for point, (cls, masks) in enumerate(zip(cls_logits, mask_logits)):
                prefix = '' if point == last else f'p{point}.'
                focal, dice = atm_mask_losses(
                    masks.float(), seg_label, present, num_masks=num_masks,
                    ignore_index=ignore_index, alpha=self.focal_alpha, gamma=self.focal_gamma,
                    dice_smooth=self.dice_smooth,
                    ignored_pixels_are_negatives=self.ignored_pixels_are_negatives)
                ce = atm_class_loss(cls.float(), present, self.no_object_weight)
                losses[f'{prefix}loss_cls'] = self.loss_weight * self.cls_weight * ce
                losses[f'{prefix}loss_mask'] = self.loss_weight * self.mask_weight * focal
                losses[f'{prefix}loss_dice'] = self.loss_weight * self.dice_weight * dice
        return losses
