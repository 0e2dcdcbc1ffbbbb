"""Region supervision of DCA: the contrastive loss (the area fractions and
prototypes it compares are tested in test_layers/test_region_features.py)."""
import pytest
import torch
from mmseg.registry import MODELS

from depict.models.losses.region_contrastive_loss import RegionContrastiveLoss


def test_contrastive_loss_prefers_matching_regions():
    loss = MODELS.build(dict(type='RegionContrastiveLoss', temperature=0.05))
    basis = torch.eye(4)[None]  # 4 well separated prototypes
    present = torch.tensor([[True, True, True, False]])
    aligned = loss(basis, basis, present)
    swapped = loss(basis[:, [1, 0, 2, 3]], basis, present)
    assert aligned < 1e-6 and swapped > 10
    # The absent class never matters, whatever its representation.
    noisy = basis.clone()
    noisy[0, 3] = torch.randn(4)
    torch.testing.assert_close(loss(noisy, basis, present), aligned)


def test_contrastive_loss_degenerate_cases_keep_the_graph():
    loss = RegionContrastiveLoss(temperature=0.1, loss_weight=0.5)
    regions = torch.randn(2, 3, 5, requires_grad=True)
    prototypes = torch.randn(2, 3, 5)
    none = loss(regions, prototypes, torch.zeros(2, 3, dtype=torch.bool))
    one = loss(regions, prototypes, torch.tensor([[True, False, False], [False, False, True]]))
    assert none.item() == 0 and one.item() == pytest.approx(0.0, abs=1e-6)
    (none + one).backward()
    assert regions.grad is not None
    assert loss.loss_name == 'loss_dca_region'
    with pytest.raises(ValueError, match='shape mismatch'):
        loss(regions, prototypes[:, :2], torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match='temperature'):
        RegionContrastiveLoss(temperature=0.0)
