"""Region features on the token grid: class area fractions and prototypes."""
import pytest
import torch

from depict.models.layers import class_area_fractions, region_prototypes


def test_area_fractions_on_a_hand_made_map():
    # 4x6 labels on a 2x3 grid: every cell is 2x2 pixels.
    labels = torch.tensor([[0, 0, 1, 1, 2, 255],
                           [0, 0, 1, 2, 2, 255],
                           [1, 1, 1, 1, 0, 0],
                           [1, 1, 1, 1, 0, 255]])[None]
    fractions = class_area_fractions(labels, num_classes=3, grid_shape=(2, 3))
    assert fractions.shape == (1, 3, 6)
    expected = torch.tensor([[1.0, 0.0, 0.0, 0.0, 0.0, 0.75],    # class 0 per cell
                             [0.0, 0.75, 0.0, 1.0, 1.0, 0.0],    # class 1
                             [0.0, 0.25, 0.5, 0.0, 0.0, 0.0]])  # class 2 (2 ignored px)
    torch.testing.assert_close(fractions[0], expected)


@pytest.mark.parametrize('size,grid', [((7, 10), (2, 3)), ((16, 9), (4, 3)), ((5, 5), (5, 5))])
def test_area_fractions_sum_to_the_valid_share_for_any_grid(size, grid):
    labels = torch.randint(0, 4, (2, 1, *size))
    labels[0, 0, 0, :] = 255
    fractions = class_area_fractions(labels, num_classes=4, grid_shape=grid)
    assert fractions.shape == (2, 4, grid[0] * grid[1])
    total = fractions.sum(1)
    assert (total <= 1 + 1e-6).all() and torch.allclose(total[1], torch.ones_like(total[1]))


def test_area_fractions_reject_labels_out_of_range():
    with pytest.raises(ValueError, match='reduce_zero_label'):
        class_area_fractions(torch.tensor([[[0, 5]]]), num_classes=3, grid_shape=(1, 1))


def test_region_prototypes_are_area_weighted_means():
    features = torch.randn(1, 4, 3)
    fractions = torch.tensor([[[1.0, 0.5, 0.0, 0.0], [0.0, 0.5, 1.0, 0.0]]])
    prototypes, present = region_prototypes(features, fractions)
    torch.testing.assert_close(prototypes[0, 0], (features[0, 0] + 0.5 * features[0, 1]) / 1.5)
    torch.testing.assert_close(prototypes[0, 1], (0.5 * features[0, 1] + features[0, 2]) / 1.5)
    assert present.tolist() == [[True, True]]
