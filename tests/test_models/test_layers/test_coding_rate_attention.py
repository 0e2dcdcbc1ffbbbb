"""DEPICT's MSSA / MSCA against a direct, loop-over-heads reading of the equations."""
import math

import pytest
import torch

from depict.models.layers import MSCA, MSSA, MSCALayer, MSSALayer, SubspaceAttention


def reference_operator(x, proj, eta, num_heads, query=None):
    """η Σ_k softmax(Q_k W_kᵀ/√p) W_k P_k, written head by head from the paper."""
    head_dims = proj.shape[0] // num_heads
    out = 0
    for k in range(num_heads):
        p_k = proj[k * head_dims:(k + 1) * head_dims]  # (p, d)
        w_k = x @ p_k.T  # (B, N, p)
        q_k = w_k if query is None else query @ p_k.T  # (B, Nq, p)
        a_k = torch.softmax(q_k @ w_k.transpose(1, 2) / math.sqrt(head_dims), dim=-1)
        out = out + (a_k @ w_k) @ p_k  # (B, Nq, d)
    return eta * out


@pytest.mark.parametrize('num_heads,head_dims', [(1, 4), (3, 5), (2, 16)])
def test_mssa_matches_equation(num_heads, head_dims):
    layer = MSSA(embed_dims=12, num_heads=num_heads, head_dims=head_dims).eval()
    x = torch.randn(2, 7, 12)
    expected = reference_operator(x, layer.proj, layer.eta, num_heads)
    torch.testing.assert_close(layer(x), expected, atol=1e-5, rtol=1e-5)


def test_msca_matches_equation():
    layer = MSCA(embed_dims=12, num_heads=3, head_dims=4).eval()
    x, q = torch.randn(2, 11, 12), torch.randn(2, 5, 12)
    out = layer(x, q)
    assert out.shape == (2, 5, 12)
    torch.testing.assert_close(out, reference_operator(x, layer.proj, layer.eta, 3, query=q),
                               atol=1e-5, rtol=1e-5)


def test_layers_are_prenorm_residual_steps():
    sa = MSSALayer(embed_dims=8, num_heads=2, head_dims=3).eval()
    x = torch.randn(2, 6, 8)
    torch.testing.assert_close(
        sa(x), x + reference_operator(sa.norm(x), sa.attn.proj, sa.attn.eta, 2))
    ca = MSCALayer(embed_dims=8, num_heads=2, head_dims=3).eval()
    q = torch.randn(2, 4, 8)
    # Only the key/value side is normalised; the queries go in raw.
    torch.testing.assert_close(
        ca(x, q), q + reference_operator(ca.norm(x), ca.attn.proj, ca.attn.eta, 2, query=q))


def test_zero_step_size_is_identity():
    sa = MSSALayer(embed_dims=8, num_heads=2, head_dims=3)
    ca = MSCALayer(embed_dims=8, num_heads=2, head_dims=3)
    x, q = torch.randn(2, 6, 8), torch.randn(2, 4, 8)
    with torch.no_grad():
        sa.attn.eta.zero_()
        ca.attn.eta.zero_()
    torch.testing.assert_close(sa(x), x)
    torch.testing.assert_close(ca(x, q), q)


def test_step_size_scales_update_linearly():
    sa = MSSA(embed_dims=8, num_heads=2, head_dims=3)
    x = torch.randn(1, 5, 8)
    with torch.no_grad():
        sa.eta.fill_(1.0)
        unit = sa(x)
        sa.eta.fill_(-2.5)
    torch.testing.assert_close(sa(x), -2.5 * unit)


def test_single_projection_is_query_key_value_and_output():
    """The only weights are P (K·p × d) and η; P is shared by all roles."""
    layer = MSSA(embed_dims=10, num_heads=3, head_dims=4)
    assert {n: tuple(p.shape) for n, p in layer.named_parameters()} == {
        'proj': (12, 10), 'eta': (1,)}
    assert layer.head_projections().shape == (3, 4, 10)
    torch.testing.assert_close(layer.head_projections()[1], layer.proj[4:8])
    # Output lies in the row space of P (P transposed is the output projection).
    x = torch.randn(1, 6, 10)
    out = layer(x)[0]  # (N, d)
    basis = torch.linalg.pinv(layer.proj) @ layer.proj  # projector onto row space of P
    torch.testing.assert_close(out @ basis, out, atol=1e-5, rtol=1e-4)


def test_initialisation_follows_official_code():
    torch.manual_seed(0)
    layer = SubspaceAttention(embed_dims=256, num_heads=4, head_dims=64)
    # P ~ N(0, 1/d): its entries' std is d^-1/2.
    assert abs(layer.proj.std().item() - 256**-0.5) < 0.05 * 256**-0.5
    etas = torch.stack([SubspaceAttention(embed_dims=4, num_heads=1, head_dims=2).eta
                        for _ in range(400)]).detach()
    assert abs(etas.mean().item()) < 0.2 and abs(etas.std().item() - 1.0) < 0.15


def test_dropout_only_in_training_and_gradients_flow():
    layer = MSSALayer(embed_dims=8, num_heads=2, head_dims=4, attn_drop=0.5)
    x = torch.randn(2, 9, 8, requires_grad=True)
    layer.eval()
    torch.testing.assert_close(layer(x), layer(x))
    layer.train()
    layer(x).square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in layer.parameters())
    assert x.grad is not None


def test_autocast_bfloat16():
    layer = MSSALayer(embed_dims=8, num_heads=2, head_dims=4)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = layer(torch.randn(1, 5, 8))
    assert out.shape == (1, 5, 8) and torch.isfinite(out.float()).all()


def test_bad_arguments_have_clear_errors():
    with pytest.raises(ValueError, match='head_dims'):
        MSSA(embed_dims=8, num_heads=2, head_dims=0)
    with pytest.raises(ValueError, match='attn_drop'):
        MSSA(embed_dims=8, num_heads=2, head_dims=2, attn_drop=1.0)
