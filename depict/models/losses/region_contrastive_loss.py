"""Region supervision for the discriminative cross-attention (DCA) of
representation separation (Hong et al., arXiv 2212.13764; RECONSTRUCTION).

The paper trains DCA "with novel auxiliary supervisions" that make region
representations discriminative, and drops the auxiliary branch at inference;
it does not publish the losses. Ours (``docs/repsep.md``):

* :func:`~depict.models.layers.class_area_fractions` bins the label map onto
  the token grid: the fraction of every cell's pixels that carry each class
  (ignored pixels count in the cell's area but in no class);
* :func:`~depict.models.layers.region_prototypes` averages token features over
  each class's cells, weighted by those fractions: the ground-truth region
  representation of every class present in an image;
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

__all__ = ['RegionContrastiveLoss']


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
