"""Region supervision for the discriminative cross-attention (DCA) of
representation separation (Hong et al., arXiv 2212.13764; RECONSTRUCTION).

The paper trains DCA "with novel auxiliary supervisions" that make region
representations discriminative, and drops the auxiliary branch at inference;
it does not publish the losses. Ours (``docs/repsep.md``):

* :func:`class_area_fractions` bins the label map onto the token grid: the
  fraction of every cell's pixels that carry each class (ignored pixels count
  in the cell's area but in no class);
* :func:`region_prototypes` averages token features over each class's cells,
  weighted by those fractions: the ground-truth region representation of every
  class present in an image;
* :class:`RegionContrastiveLoss`: the DCA representation of class c must be
  closer (cosine) to the prototype of c than to the prototype of any other
  class present in the same image (InfoNCE over the present classes). Over-
  smoothed features make all prototypes, and any region representation built
  by attention over them, alike; the loss pulls them apart.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor, nn

__all__ = ['class_area_fractions', 'region_prototypes', 'RegionContrastiveLoss']


def class_area_fractions(labels: Tensor, *, num_classes: int, grid_shape: tuple[int, int],
                         ignore_index: int = 255) -> Tensor:
    """Fraction of each grid cell's pixels that belong to each class.

    Pixel (y, x) of an (H, W) label map falls in cell (⌊y·h/H⌋, ⌊x·w/W⌋), so the
    grid need not divide the map (and h ≠ w is fine). Computed with one
    ``bincount``: memory O(B·h·w·C), never a (B, C, H, W) one-hot.

    Args:
        labels: Label maps (B, H, W) or (B, 1, H, W), integer, with classes in
            [0, num_classes) and ``ignore_index`` elsewhere.
        num_classes: C.
        grid_shape: Token grid (h, w).
        ignore_index: Label value that belongs to no class.

    Returns:
        Fractions (B, C, h·w) in [0, 1]; a cell's fractions sum to its share of
        non-ignored pixels.
    """
    if labels.dim() == 4:
        labels = labels.squeeze(1)
    if labels.dim() != 3:
        raise ValueError(f'labels must be (B, H, W) or (B, 1, H, W), got {tuple(labels.shape)}')
    batch, height, width = labels.shape
    grid_h, grid_w = grid_shape
    labels = labels.long()
    valid = labels != ignore_index
    if bool(((labels < 0) | (labels >= num_classes))[valid].any()):
        bad = torch.unique(labels[valid & ((labels < 0) | (labels >= num_classes))])
        raise ValueError(f'labels hold {bad.tolist()}, outside [0, {num_classes}) and not the '
                         f'ignore index {ignore_index}: check num_classes / reduce_zero_label')
    device = labels.device
    rows = torch.arange(height, device=device) * grid_h // height  # (H,)
    cols = torch.arange(width, device=device) * grid_w // width  # (W,)
    cell = rows[:, None] * grid_w + cols[None, :]  # (H, W) cell index of each pixel
    cells = grid_h * grid_w
    # One bin per (image, cell, class): key = (b * cells + cell) * C + label.
    image = torch.arange(batch, device=device)[:, None, None] * cells
    keys = ((image + cell[None]) * num_classes + labels.clamp(0, num_classes - 1))[valid]
    counts = torch.bincount(keys, minlength=batch * cells * num_classes).to(torch.float32)
    counts = counts.view(batch, cells, num_classes)  # (B, h*w, C)
    pixels_per_cell = torch.bincount(cell.flatten(), minlength=cells).to(torch.float32)  # (h*w,)
    fractions = counts / pixels_per_cell.clamp(min=1)[None, :, None]
    return fractions.transpose(1, 2).contiguous()  # (B, h*w, C) -> (B, C, h*w)


def region_prototypes(features: Tensor, fractions: Tensor, *,
                      eps: float = 1e-6) -> tuple[Tensor, Tensor]:
    """Area-weighted mean feature of every class region.

    Args:
        features: Token features (B, h·w, D).
        fractions: Class fractions (B, C, h·w) from :func:`class_area_fractions`.
        eps: Minimum area (in cells) for a class to count as present.

    Returns:
        prototypes (B, C, D) (zero for absent classes) and present (B, C) bool.
    """
    area = fractions.sum(-1)  # (B, C)
    present = area > eps
    weights = fractions.to(features.dtype) / area.clamp(min=eps)[..., None].to(features.dtype)
    prototypes = torch.einsum('bcn,bnd->bcd', weights, features)
    return prototypes, present


@MODELS.register_module()
class RegionContrastiveLoss(nn.Module):
    """InfoNCE between region representations and ground-truth region prototypes.

    For image b and every class c present in it::

        ℓ_{b,c} = −log softmax_{j ∈ present(b)}( cos(R_{b,c}, P_{b,j}) / τ )[c]

    averaged over all present (b, c). Rows and columns of absent classes are
    excluded (their representations have no ground-truth region). An image
    with one present class contributes 0 (nothing to separate from).

    Args:
        temperature: τ.
        loss_weight: Multiplier of the loss.
        loss_name: Key in the loss dict; must start with ``loss_`` to be summed.
    """

    def __init__(self, *, temperature: float = 0.1, loss_weight: float = 1.0,
                 loss_name: str = 'loss_dca_region') -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f'temperature={temperature} must be > 0')
        self.temperature = temperature
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def forward(self, regions: Tensor, prototypes: Tensor, present: Tensor,
                weight: Optional[Tensor] = None) -> Tensor:
        """Args: regions and prototypes (B, C, D), present (B, C) bool; ``weight``
        unused (mmseg loss signature). Returns a scalar."""
        if regions.shape != prototypes.shape or present.shape != regions.shape[:2]:
            raise ValueError(f'shape mismatch: regions {tuple(regions.shape)}, prototypes '
                             f'{tuple(prototypes.shape)}, present {tuple(present.shape)}')
        regions = F.normalize(regions.float(), dim=-1)
        prototypes = F.normalize(prototypes.float(), dim=-1)
        logits = torch.einsum('bcd,bjd->bcj', regions, prototypes) / self.temperature
        logits = logits.masked_fill(~present[:, None, :], float('-inf'))  # absent columns
        rows = present.nonzero(as_tuple=True)  # present (b, c) pairs
        if rows[0].numel() == 0:
            return logits.new_zeros(()) + 0.0 * regions.sum()  # keeps the graph connected
        row_logits = logits[rows]  # (P, C)
        loss = F.cross_entropy(row_logits, rows[1])
        return self.loss_weight * loss
