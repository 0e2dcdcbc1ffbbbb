"""Region features on the token grid: which classes cover each cell, and the
mean feature of each class region.

Used by representation separation (Hong et al., arXiv 2212.13764): the
repsep head builds the ground-truth region representation of every class
present in an image, which :class:`depict.models.losses.RegionContrastiveLoss`
compares with the discriminative cross-attention's (``docs/repsep.md``).

* :func:`class_area_fractions` bins the label map onto the token grid: the
  fraction of every cell's pixels that carry each class (ignored pixels count
  in the cell's area but in no class);
* :func:`region_prototypes` averages token features over each class's cells,
  weighted by those fractions.
"""
import torch
from torch import Tensor

__all__ = ['class_area_fractions', 'region_prototypes']


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
