"""Mask2Former's set loss (Cheng et al., CVPR 2022), as EoMT trains with it.

EoMT (Kerssies et al., CVPR 2025) trains every prediction point (the inputs of
the last L₂ blocks and the output of the last block; deep supervision) with
Mask2Former's loss. For one point with class logits ``Y ∈ R^{B×Q×(K+1)}`` and
mask logits ``M ∈ R^{B×Q×h×w}``, and per image b the K_b ground-truth segments
(semantic segmentation: one binary mask per class present in the label map,
in increasing class order; unlabelled pixels belong to no mask):

1. **Matching** (Hungarian, ``scipy.optimize.linear_sum_assignment``) per
   image on ``C = λ_mask · BCE + λ_cls · (−softmax(Y)[:, label]) + λ_dice · Dice``,
   the mask terms computed pairwise on ``num_points`` uniformly sampled points
   shared by all predictions and targets (NaN / inf costs replaced by the
   largest float, so they are matched last);
2. **Class loss**: cross-entropy over K+1 classes, matched queries to their
   segment's class and the others to "no object" (index K), weighted 1 per
   class and ``no_object_weight`` (0.1) for no-object, PyTorch's weighted mean;
3. **Mask losses** on the matched pairs at ``num_points`` points per mask
   chosen by uncertainty (PointRend, Kirillov et al., CVPR 2020):
   ``oversample_ratio · num_points`` uniform candidates, the
   ``importance_sample_ratio`` share with the smallest ``|logit|`` kept, the
   rest drawn uniformly again; sigmoid BCE averaged over the points and dice
   ``1 − (2 Σ p t + 1) / (Σ p + Σ t + 1)``, each summed over masks and divided
   by the number of matched masks (every target when Q ≥ K_b) averaged over
   processes (at least 1).

Total: ``Σ_points λ_cls · CE + λ_mask · BCE + λ_dice · Dice`` with EoMT's
λ = (2, 5, 5) (the matching uses the same weights). Sampling is bilinear
(``grid_sample``, ``align_corners=False``) at normalised coordinates, so the
stride-4 predictions and full-resolution targets are never resized.

The random draws happen in the official order (per image the matching points,
then per point the candidates and the uniform rest) with the default dtype,
so a seeded run reproduces the official loss exactly
(tests/test_converters/test_eomt2mmseg.py).
"""
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from mmcv.ops import point_sample
from mmengine.dist import all_reduce
from mmseg.registry import MODELS
from scipy.optimize import linear_sum_assignment
from torch import Tensor, nn

__all__ = ['Mask2FormerLoss', 'SegmentTargets', 'semantic_segments',
           'pairwise_mask_costs', 'hungarian_match', 'uncertain_points']

#: Per image: (labels (K,) long, masks (K, H, W) float).
SegmentTargets = list


def semantic_segments(seg_label: Tensor, num_classes: int, ignore_index: int,
                      dtype: torch.dtype = torch.float32) -> SegmentTargets:
    """One binary mask per class present, per image (increasing class order).

    Args:
        seg_label: Labels (B, H, W) in ``[0, num_classes)`` or ``ignore_index``.
        num_classes: K.
        ignore_index: The label of unlabelled pixels (in no mask).
        dtype: Mask dtype.

    Returns:
        Per image ``(labels (K_b,), masks (K_b, H, W))``.
    """
    targets = []
    for labels in seg_label:
        classes = torch.unique(labels)
        classes = classes[classes != ignore_index]
        if classes.numel() and (classes.min() < 0 or classes.max() >= num_classes):
            raise ValueError(f'labels must lie in [0, {num_classes}) or equal ignore_index='
                             f'{ignore_index}; got {classes.tolist()[:10]}. Check '
                             'num_classes and reduce_zero_label.')
        # (K, 1, 1) == (H, W) -> (K, H, W)
        masks = (labels[None] == classes[:, None, None]).to(dtype)
        targets.append((classes.long(), masks))
    return targets


def pairwise_mask_costs(pred: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """BCE and dice costs of every (prediction, target) pair at shared points.

    Args:
        pred: Mask logits (Q, P).
        target: Target values (K, P) in [0, 1].

    Returns:
        ``(bce, dice)``, each (Q, K): the mean BCE over the points and the
        dice loss of each pair.
    """
    num_points = pred.shape[1]
    # BCE(x, t) = t · BCE(x, 1) + (1 − t) · BCE(x, 0), summed over points by products.
    positive = F.binary_cross_entropy_with_logits(pred, torch.ones_like(pred), reduction='none')
    negative = F.binary_cross_entropy_with_logits(pred, torch.zeros_like(pred),
                                                  reduction='none')
    bce = (positive / num_points) @ target.T + (negative / num_points) @ (1 - target).T
    probs = pred.sigmoid()
    numerator = 2 * probs @ target.T
    denominator = probs.sum(-1)[:, None] + target.sum(-1)[None, :]
    dice = 1 - (numerator + 1) / (denominator + 1)
    return bce, dice


def hungarian_match(cost: Tensor) -> tuple[Tensor, Tensor]:
    """Minimum-cost one-to-one assignment (scipy), rows = queries, cols = targets.

    NaN and ±inf costs become the largest finite value (matched only when
    nothing else is left) instead of failing the assignment.

    Returns:
        ``(query_indices, target_indices)`` as int64 tensors (CPU), sorted by query.
    """
    largest = torch.finfo(cost.dtype).max
    cost = torch.nan_to_num(cost.detach(), nan=largest, posinf=largest, neginf=largest)
    rows, cols = linear_sum_assignment(cost.cpu().numpy())
    return (torch.as_tensor(np.asarray(rows), dtype=torch.int64),
            torch.as_tensor(np.asarray(cols), dtype=torch.int64))


def uncertain_points(logits: Tensor, num_points: int, oversample_ratio: float,
                     importance_sample_ratio: float) -> Tensor:
    """PointRend's uncertainty-based sampling, (M, 1, h, w) -> points (M, P, 2).

    ``int(num_points · oversample_ratio)`` uniform candidates per mask; the
    ``int(importance_sample_ratio · num_points)`` with the smallest ``|logit|``
    are kept, and the rest of the ``num_points`` are drawn uniformly.
    """
    num_masks = logits.shape[0]
    num_candidates = int(num_points * oversample_ratio)
    # Drawn in float32 (the official random stream), sampled at the logits' dtype.
    candidates = torch.rand(num_masks, num_candidates, 2, device=logits.device).to(logits.dtype)
    uncertainty = -point_sample(logits, candidates).abs()  # (M, 1, S)
    num_uncertain = int(importance_sample_ratio * num_points)
    chosen = uncertainty[:, 0].topk(num_uncertain, dim=1).indices  # (M, k)
    # (M, S, 2) -> (M, k, 2): the chosen candidates of each mask.
    points = candidates.gather(1, chosen[..., None].expand(-1, -1, 2))
    num_random = num_points - num_uncertain
    if num_random > 0:
        points = torch.cat(
            [points, torch.rand(num_masks, num_random, 2, device=logits.device).to(logits.dtype)],
            dim=1)
    return points


@MODELS.register_module()
class Mask2FormerLoss(nn.Module):
    """Hungarian-matched class, BCE and dice losses over every prediction point.

    See the module docstring. Defaults are EoMT's (and Mask2Former's).

    Args:
        class_weight: λ_cls, in the loss and the matching cost (2.0).
        mask_weight: λ_mask (BCE), in the loss and the matching cost (5.0).
        dice_weight: λ_dice, in the loss and the matching cost (5.0).
        no_object_weight: CE weight of the no-object class (0.1).
        num_points: Points per mask (12544 = 112²).
        oversample_ratio: Uniform candidates per point (3.0).
        importance_sample_ratio: Share of points chosen by uncertainty (0.75).
        loss_name: Name for mmseg's bookkeeping; the returned keys are
            ``loss_cls``, ``loss_mask``, ``loss_dice`` for the last point and
            ``p{i}.loss_*`` for the earlier ones.
    """

    def __init__(self, *, class_weight: float = 2.0, mask_weight: float = 5.0,
                 dice_weight: float = 5.0, no_object_weight: float = 0.1,
                 num_points: int = 12544, oversample_ratio: float = 3.0,
                 importance_sample_ratio: float = 0.75,
                 loss_name: str = 'loss_mask2former') -> None:
        super().__init__()
        if not 0.0 <= importance_sample_ratio <= 1.0:
            raise ValueError(f'importance_sample_ratio must be in [0, 1], got '
                             f'{importance_sample_ratio}')
        if num_points < 1 or oversample_ratio < 1.0:
            raise ValueError(f'num_points must be positive and oversample_ratio at least 1; got '
                             f'{num_points} and {oversample_ratio}')
        self.class_weight = class_weight
        self.mask_weight = mask_weight
        self.dice_weight = dice_weight
        self.no_object_weight = no_object_weight
        self.num_points = num_points
        self.oversample_ratio = oversample_ratio
        self.importance_sample_ratio = importance_sample_ratio
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    @torch.no_grad()
    def match(self, cls_logits: Tensor, mask_logits: Tensor,
              targets: SegmentTargets) -> list[tuple[Tensor, Tensor]]:
        """Per image, the Hungarian assignment ``(query_indices, target_indices)``."""
        indices = []
        for image, (labels, masks) in enumerate(targets):
            pred = mask_logits[image]  # (Q, h, w)
            # One set of uniform points per image, shared by predictions and targets.
            points = torch.rand(1, self.num_points, 2, device=pred.device).to(pred.dtype)
            target_points = point_sample(masks[:, None].to(pred.dtype),
                                         points.expand(masks.shape[0], -1, -1))[:, 0]
            pred_points = point_sample(pred[:, None], points.expand(pred.shape[0], -1, -1))[:, 0]
            bce, dice = pairwise_mask_costs(pred_points, target_points)  # (Q, K) each
            class_cost = -cls_logits[image].softmax(-1)[:, labels]  # (Q, K)
            cost = self.mask_weight * bce + self.class_weight * class_cost \
                + self.dice_weight * dice
            indices.append(hungarian_match(cost))
        return indices

    def class_loss(self, cls_logits: Tensor, targets: SegmentTargets,
                   indices: Sequence[tuple[Tensor, Tensor]]) -> Tensor:
        """Weighted-mean CE over K+1 classes; unmatched queries are no-object."""
        batch, num_queries, num_outputs = cls_logits.shape
        classes = torch.full((batch, num_queries), num_outputs - 1, dtype=torch.long,
                             device=cls_logits.device)
        for image, ((labels, _), (rows, cols)) in enumerate(zip(targets, indices)):
            classes[image, rows.to(classes.device)] = labels[cols.to(labels.device)]
        weight = cls_logits.new_ones(num_outputs)
        weight[-1] = self.no_object_weight
        # (B, Q, K+1) -> (B, K+1, Q): cross_entropy wants the class axis second.
        return F.cross_entropy(cls_logits.transpose(1, 2), classes, weight=weight)

    def mask_losses(self, mask_logits: Tensor, targets: SegmentTargets,
                    indices: Sequence[tuple[Tensor, Tensor]],
                    num_masks: float) -> tuple[Tensor, Tensor]:
        """BCE and dice of the matched pairs at uncertain points, / ``num_masks``."""
        images = torch.cat([torch.full_like(rows, image) for image, (rows, _) in
                            enumerate(indices)]).to(mask_logits.device)
        rows = torch.cat([rows for rows, _ in indices]).to(mask_logits.device)
        if rows.numel() == 0:
            # No segment anywhere: zero losses that still belong to the graph.
            zero = mask_logits.sum() * 0.0
            return zero, zero
        pred = mask_logits[images, rows][:, None]  # (M, 1, h, w)
        target = torch.cat([masks[cols.to(masks.device)] for (_, masks), (_, cols) in
                            zip(targets, indices)])[:, None].to(pred.dtype)  # (M, 1, H, W)
        with torch.no_grad():
            points = uncertain_points(pred, self.num_points, self.oversample_ratio,
                                      self.importance_sample_ratio)
            labels = point_sample(target, points)[:, 0]  # (M, P)
        logits = point_sample(pred, points)[:, 0]  # (M, P)
        bce = F.binary_cross_entropy_with_logits(logits, labels, reduction='none').mean(1)
        probs = logits.sigmoid()
        dice = 1 - (2 * (probs * labels).sum(-1) + 1) / (probs.sum(-1) + labels.sum(-1) + 1)
        return bce.sum() / num_masks, dice.sum() / num_masks

    @staticmethod
    def num_masks(indices: Sequence[tuple[Tensor, Tensor]], device: torch.device) -> float:
        """n: matched pairs in this process's batch, averaged over processes (at least 1).

        With Q ≥ K_b queries every target is matched, so n is the number of
        target masks (Mask2Former's normaliser); the official EoMT loss counts
        the matched pairs, which also covers a fixed or partial assignment.
        """
        count = torch.tensor(float(sum(len(cols) for _, cols in indices)), device=device)
        all_reduce(count, op='mean')  # in place; a no-op without a process group
        return float(count.clamp(min=1.0))

    def forward(self, cls_logits: Sequence[Tensor], mask_logits: Sequence[Tensor],
                targets: SegmentTargets, *,
                indices: Optional[Sequence[Sequence[tuple[Tensor, Tensor]]]] = None
                ) -> dict[str, Tensor]:
        """Weighted losses of every prediction point, in fp32 under autocast.

        Args:
            cls_logits: Per point, (B, Q, K+1).
            mask_logits: Per point, (B, Q, h, w).
            targets: Per image ``(labels, masks)`` (:func:`semantic_segments`).
            indices: A fixed assignment per point and image instead of the
                matching (tests).

        Returns:
            ``{'p0.loss_cls': ..., ..., 'loss_cls': ..., 'loss_mask': ..., 'loss_dice': ...}``.
        """
        if len(cls_logits) != len(mask_logits) or not cls_logits:
            raise ValueError('Mask2FormerLoss needs one (class, mask) logits pair per '
                             f'prediction point; got {len(cls_logits)} and {len(mask_logits)}')
        if len(targets) != cls_logits[0].shape[0]:
            raise ValueError(f'{len(targets)} targets for a batch of {cls_logits[0].shape[0]}')
        device_type = cls_logits[0].device.type
        with torch.autocast(device_type=device_type, enabled=False):
            losses = {}
            last = len(cls_logits) - 1
            for point, (cls, masks) in enumerate(zip(cls_logits, mask_logits)):
                if cls.dtype in (torch.float16, torch.bfloat16):
                    cls, masks = cls.float(), masks.float()
                prefix = '' if point == last else f'p{point}.'
                matched = indices[point] if indices is not None else \
                    self.match(cls, masks, targets)
                bce, dice = self.mask_losses(masks, targets, matched,
                                             self.num_masks(matched, cls.device))
                ce = self.class_loss(cls, targets, matched)
                losses[f'{prefix}loss_cls'] = self.class_weight * ce
                losses[f'{prefix}loss_mask'] = self.mask_weight * bce
                losses[f'{prefix}loss_dice'] = self.dice_weight * dice
        return losses
