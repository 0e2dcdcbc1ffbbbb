"""The shared attention block: both paths agree, and agree with the formula."""
import pytest
import torch

from depict.models.layers import (MultiheadAttention, attention, init_like_torch_mha_, merge_heads,
                                  split_heads)


def test_split_merge_roundtrip():
    x = torch.randn(2, 7, 12)
    heads = split_heads(x, 3)
    assert heads.shape == (2, 3, 7, 4)
    torch.testing.assert_close(merge_heads(heads), x)


@pytest.mark.parametrize('mask_kind', [None, 'bool', 'float'])
def test_sdpa_and_explicit_paths_agree(mask_kind):
    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 9, 8), torch.randn(2, 3, 9, 6)
    mask = None
    if mask_kind == 'bool':
        mask = torch.rand(2, 1, 5, 9) > 0.3
        mask[..., 0] = True  # no fully masked row
    elif mask_kind == 'float':
        mask = torch.randn(2, 3, 5, 9)
    fused = attention(q, k, v, attn_mask=mask)
    explicit, logits = attention(q, k, v, attn_mask=mask, return_logits=True)
    torch.testing.assert_close(fused, explicit, atol=1e-5, rtol=1e-5)
    # The logits are the raw scaled products, before any mask.
    torch.testing.assert_close(logits, q @ k.transpose(-1, -2) / 8**0.5)
    if mask_kind is None:
        reference = torch.softmax(q @ k.transpose(-1, -2) / 8**0.5, -1) @ v
        torch.testing.assert_close(fused, reference, atol=1e-5, rtol=1e-5)


def test_module_cross_attention_shapes_and_gradients():
    layer = MultiheadAttention(16, 4, kv_dims=10)
    query, memory = torch.randn(2, 5, 16), torch.randn(2, 13, 10)
    out, logits = layer(query, memory, return_logits=True)
    assert out.shape == (2, 5, 16) and logits.shape == (2, 4, 5, 13)
    torch.testing.assert_close(layer(query, memory), out, atol=1e-5, rtol=1e-5)
    (out.sum() + logits.sum()).backward()
    assert all(p.grad is not None for p in layer.parameters())


def test_heads_must_divide_width():
    with pytest.raises(ValueError, match='divisible'):
        MultiheadAttention(10, 3)


@pytest.mark.parametrize('kv_dims', [16, 8])
def test_init_like_torch_mha_matches_pytorch_bounds(kv_dims):
    """Same width: rows of one (3d, d) xavier draw (PyTorch's packed in_proj_weight);
    other key / value widths: one xavier draw per matrix (PyTorch's q/k/v_proj_weight)."""
    attn = MultiheadAttention(16, 2, kv_dims=kv_dims)
    for proj in (attn.q_proj, attn.k_proj, attn.v_proj):
        torch.nn.init.constant_(proj.bias, 1.0)
    init_like_torch_mha_(attn)
    reference = torch.nn.MultiheadAttention(16, 2, kdim=kv_dims, vdim=kv_dims)
    if kv_dims == 16:
        packed_bound = (6 / (16 + 48)) ** 0.5
        assert reference.in_proj_weight.abs().max() <= packed_bound
        bounds = [packed_bound] * 3
    else:
        bounds = [(6 / (16 + i)) ** 0.5 for i in (16, kv_dims, kv_dims)]
    for proj, bound in zip((attn.q_proj, attn.k_proj, attn.v_proj), bounds):
        assert proj.weight.abs().max() <= bound
        assert proj.weight.abs().max() > 0.8 * bound  # spread over the whole range
        assert not proj.bias.any()
