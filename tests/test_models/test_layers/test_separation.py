"""Local-discrepancy building blocks of representation separation (reconstruction)."""
import pytest
import torch
import torch.nn.functional as F

from depict.models.layers.separation import (DiscrepancyConv, LocalSeparationBlock,
                                             SpatiallyAdaptiveSeparation, adaptive_box_mean,
                                             box_mean)


@pytest.mark.parametrize('hw', [(5, 5), (3, 7), (1, 4), (6, 1)])
def test_box_mean_is_the_replicate_padded_local_mean(hw):
    x = torch.randn(2, 3, *hw)
    padded = F.pad(x, (1, 1, 1, 1), mode='replicate')
    reference = torch.stack([padded[..., i:i + hw[0], j:j + hw[1]]
                             for i in range(3) for j in range(3)]).mean(0)
    torch.testing.assert_close(box_mean(x, 3), reference)
    # A constant map is its own local mean, borders included.
    torch.testing.assert_close(box_mean(torch.full((1, 2, *hw), 4.0), 3),
                               torch.full((1, 2, *hw), 4.0))


@pytest.mark.parametrize('kernel_size', [0, 2, -3])
def test_kernel_size_must_be_positive_odd(kernel_size):
    with pytest.raises(ValueError, match='odd'):
        box_mean(torch.randn(1, 1, 4, 4), kernel_size)
    with pytest.raises(ValueError, match='odd'):
        DiscrepancyConv(4, kernel_size=kernel_size)


@pytest.mark.parametrize('kernel_size', [3, 5])
def test_discrepancy_conv_starts_as_identity_minus_box_mean(kernel_size):
    conv = DiscrepancyConv(4, kernel_size=kernel_size)
    x = torch.randn(2, 4, 6, 9)
    torch.testing.assert_close(conv(x), x - box_mean(x, kernel_size), atol=1e-5, rtol=1e-5)
    assert conv(torch.full((1, 4, 3, 5), 2.5)).abs().max() < 1e-5


def test_local_separation_block_accumulates_state_non_square():
    block = LocalSeparationBlock(in_channels=16, channels=8, kernel_size=3, mlp_ratio=2)
    tokens = torch.randn(2, 5 * 7, 16, requires_grad=True)
    state = block(tokens, (5, 7))
    assert state.shape == (2, 8, 5, 7)
    state2 = block(tokens, (5, 7), state)
    assert state2.shape == (2, 8, 5, 7)
    state2.square().mean().backward()
    assert tokens.grad is not None
    for name, param in block.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_local_separation_block_ignores_constant_features_at_its_input():
    """The pathway only receives the discrepancy: a constant token map reads as zero."""
    block = LocalSeparationBlock(in_channels=8, channels=4)
    constant = torch.ones(1, 12, 8) * torch.randn(1, 1, 8)
    update = block.in_proj(block.discrepancy(
        block.in_norm(constant).transpose(1, 2).reshape(1, 8, 3, 4)))
    torch.testing.assert_close(update, block.in_proj.bias.view(1, 4, 1, 1).expand_as(update))


@pytest.mark.parametrize('kernel_size', [3, None])
@pytest.mark.parametrize('hw', [(4, 4), (3, 6), (1, 5)])
def test_sasm_shapes_and_identity_on_constant_maps(kernel_size, hw):
    sasm = SpatiallyAdaptiveSeparation(channels=16, kernel_size=kernel_size)
    tokens = torch.randn(2, hw[0] * hw[1], 16)
    assert sasm(tokens, hw).shape == tokens.shape
    constant = torch.randn(2, 1, 16).expand(2, hw[0] * hw[1], 16)
    torch.testing.assert_close(sasm(constant, hw), constant)


def test_sasm_amplifies_the_discrepancy_within_bounds():
    """Z' = μ + (1 + s·g)·r with g in (0, 1): the discrepancy grows by 1..1+s."""
    sasm = SpatiallyAdaptiveSeparation(channels=8, kernel_size=3)
    tokens = torch.randn(1, 20, 8)
    context = sasm.context(tokens, (4, 5))
    ratio = (sasm(tokens, (4, 5)) - context) / (tokens - context)
    assert ratio.min() > 1.0 - 1e-4 and ratio.max() < 2.0 + 1e-4


def test_sasm_gradients_and_errors():
    sasm = SpatiallyAdaptiveSeparation(channels=8)
    tokens = torch.randn(2, 15, 8)
    sasm(tokens, (3, 5)).square().mean().backward()
    for name, param in sasm.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    with pytest.raises(ValueError, match='grid'):
        sasm(tokens, (4, 4))
    with pytest.raises(ValueError, match='reduction'):
        SpatiallyAdaptiveSeparation(channels=6, reduction=5)


@pytest.mark.parametrize('in_size,out_size', [((16, 16), (8, 8)), ((19, 14), (10, 7)),
                                              ((5, 3), (3, 2)), ((7, 9), (3, 4)), ((1, 6), (1, 3)),
                                              ((4, 4), (6, 5))])
def test_adaptive_box_mean_equals_adaptive_avg_pool(in_size, out_size):
    """The two-matrix form is PyTorch's adaptive average pooling: halving with
    rounding up (the pyramid stages), uneven bins, and more bins than inputs."""
    x = torch.randn(2, 3, *in_size, dtype=torch.float64)
    torch.testing.assert_close(adaptive_box_mean(x, out_size), F.adaptive_avg_pool2d(x, out_size),
                               rtol=1e-12, atol=1e-12)


def test_adaptive_box_mean_is_the_identity_at_equal_size():
    x = torch.randn(2, 3, 5, 7)
    assert torch.equal(adaptive_box_mean(x, (5, 7)), x)
