"""Fused SDPA attention in our ViT backbones is numerically mmseg's stock path.

For each of FusedVisionTransformer, ShrunkVisionTransformer and
TwoPathwayVisionTransformer: the same weights built with ``fused_attn=True`` and
``fused_attn=False`` (stock mmcv ``nn.MultiheadAttention``) give the same
outputs, input gradients and parameter gradients to float rounding, on odd /
non-square grids, with and without the CLS token and the final norm.
"""
import pytest
import torch
from mmcv.cnn.bricks.transformer import MultiheadAttention
from mmseg.models.backbones import VisionTransformer
from mmseg.registry import MODELS

from depict.models.backbones import (FusedMultiheadAttention, FusedVisionTransformer,
                                     ShrunkVisionTransformer, TwoPathwayVisionTransformer,
                                     fuse_attention)

TINY = dict(img_size=(64, 64), patch_size=8, embed_dims=24, num_layers=3, num_heads=3,
            mlp_ratio=2, out_indices=(0, 2))
EXTRA = {
    FusedVisionTransformer: {},
    ShrunkVisionTransformer: dict(shrink_index=1),
    TwoPathwayVisionTransformer: dict(local_channels=8, lsb_indices=(0, 2)),
}
# Odd, non-square grids: 3x5 patches (CLS + 15 tokens), 5x7 (QD: 3x4).
SIZES = [(24, 40), (40, 56)]


def build_pair(cls, seed=0, **kwargs):
    """The same weights, fused and stock."""
    kwargs = {**TINY, **EXTRA[cls], **kwargs}
    torch.manual_seed(seed)
    fused = cls(**kwargs, fused_attn=True)
    fused.init_weights()
    stock = cls(**kwargs, fused_attn=False)
    stock.load_state_dict(fused.state_dict(), strict=True)
    return fused, stock


def run(model, x):
    """Outputs, input gradient and parameter gradients of a fixed loss."""
    model.zero_grad()
    x = x.clone().requires_grad_(True)
    outs = model(x)
    maps = [out[0] if isinstance(out, list) else out for out in outs]
    loss = sum((m * torch.linspace(-1, 1, m.numel()).reshape(m.shape)).sum() for m in maps)
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return [m.detach() for m in maps], x.grad, grads


@pytest.mark.parametrize('cls', list(EXTRA))
@pytest.mark.parametrize('with_cls_token', [True, False])
@pytest.mark.parametrize('final_norm', [True, False])
@pytest.mark.parametrize('size', SIZES)
def test_fused_equals_stock_forward_and_backward(cls, with_cls_token, final_norm, size):
    fused, stock = build_pair(cls, with_cls_token=with_cls_token, final_norm=final_norm)
    assert all(isinstance(layer.attn, FusedMultiheadAttention) for layer in fused.layers)
    assert all(type(layer.attn) is MultiheadAttention for layer in stock.layers)
    x = torch.randn(2, 3, *size)
    outs, x_grad, grads = run(fused, x)
    ref_outs, ref_x_grad, ref_grads = run(stock, x)
    grid = (-(-size[0] // 8), -(-size[1] // 8))
    if cls is ShrunkVisionTransformer:
        assert outs[1].shape[-2:] == ((grid[0] + 1) // 2, (grid[1] + 1) // 2)
    else:
        assert outs[1].shape[-2:] == grid
    for out, ref in zip(outs, ref_outs, strict=True):
        torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(x_grad, ref_x_grad, rtol=1e-4, atol=1e-5)
    assert grads.keys() == ref_grads.keys()
    assert len(grads) == sum(p.requires_grad for p in fused.parameters())
    for name, grad in grads.items():
        torch.testing.assert_close(grad, ref_grads[name], rtol=1e-4, atol=1e-5, msg=name)


@pytest.mark.parametrize('cls', list(EXTRA))
def test_output_cls_token_pre_norm_and_out_origin(cls):
    """mmseg's options work the same way in every backbone of the shared base."""
    fused, stock = build_pair(cls, output_cls_token=True, pre_norm=True, out_origin=True)
    x = torch.randn(1, 3, 24, 40)
    with torch.no_grad():
        outs, refs = fused(x), stock(x)
        plain = VisionTransformer(**TINY, output_cls_token=True, pre_norm=True, out_origin=True)
        plain.load_state_dict(stock.state_dict(), strict=False)
        plain_outs = plain(x)
    assert len(outs) == len(refs) == 3  # origin + out_indices
    assert outs[0][0].shape == (1, 24, 3, 5)  # the embedding map
    for (out, cls_out), (ref, cls_ref) in zip(outs, refs):
        torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(cls_out, cls_ref, rtol=1e-5, atol=1e-5)
    # The embedding and the first layer equal mmseg's own ViT's.
    for (out, cls_out), (ref, cls_ref) in zip(outs[:2], plain_outs[:2]):
        torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(cls_out, cls_ref, rtol=1e-5, atol=1e-5)


def test_fused_vit_equals_mmseg_vision_transformer():
    """The fused backbone loads a stock mmseg checkpoint strictly and matches it;
    fused_attn=False is exactly mmseg's ViT (bitwise)."""
    torch.manual_seed(0)
    plain = VisionTransformer(**TINY, final_norm=True)
    plain.init_weights()
    plain.eval()
    fused = FusedVisionTransformer(**TINY, final_norm=True)
    stock = FusedVisionTransformer(**TINY, final_norm=True, fused_attn=False)
    assert list(fused.state_dict()) == list(plain.state_dict()) == list(stock.state_dict())
    assert fused.load_state_dict(plain.state_dict(), strict=True)
    stock.load_state_dict(plain.state_dict(), strict=True)
    fused.eval(), stock.eval()
    x = torch.randn(2, 3, 40, 24)
    with torch.no_grad():
        refs = plain(x)
        for out, ref in zip(fused(x), refs, strict=True):
            torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
        for out, ref in zip(stock(x), refs, strict=True):
            assert torch.equal(out, ref)


@pytest.mark.parametrize('cls', list(EXTRA))
def test_state_dict_keys_are_stock_vit_keys(cls, tmp_path):
    """Same keys as mmseg's ViT (plus only the local pathway's), and a stock
    checkpoint loads through init_cfg."""
    plain = VisionTransformer(**TINY)
    plain.init_weights()
    path = tmp_path / 'vit.pth'
    torch.save(plain.state_dict(), path)
    model = cls(**TINY, **EXTRA[cls], init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    model.init_weights()
    keys = [k for k in model.state_dict() if not k.startswith('local_pathway.')]
    assert keys == list(plain.state_dict())
    for key, value in plain.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


@pytest.mark.parametrize('cls', list(EXTRA))
def test_attention_dropout(cls):
    """With attention dropout the fused path drops (train differs from eval, and
    two training passes differ) while eval is still the stock model."""
    fused, stock = build_pair(cls, attn_drop_rate=0.5)
    x = torch.randn(1, 3, 24, 40)
    fused.eval(), stock.eval()
    with torch.no_grad():
        for out, ref in zip(fused(x), stock(x)):
            torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
        evaluated = fused(x)[-1]
        fused.train()
        first, second = fused(x)[-1], fused(x)[-1]
    assert not torch.allclose(first, evaluated, atol=1e-3)
    assert not torch.allclose(first, second, atol=1e-3)


def test_attention_dropout_statistics():
    """SDPA's dropout is inverted dropout on the attention weights with the
    configured rate: with v = identity rows the output is the dropped weights,
    so the zero fraction is p and the mean weight stays 1 / num_keys."""
    torch.manual_seed(0)
    attn = fuse_attention(MultiheadAttention(embed_dims=64, num_heads=1, attn_drop=0.3,
                                             batch_first=True))
    with torch.no_grad():
        attn.attn.in_proj_weight.zero_()  # q = k = 0: uniform weights 1/64
        attn.attn.in_proj_weight[128:].copy_(torch.eye(64))  # v = x
        attn.attn.in_proj_bias.zero_()
        attn.attn.out_proj.weight.copy_(torch.eye(64))
        attn.attn.out_proj.bias.zero_()
    attn.train()
    x = torch.eye(64).expand(8, 64, 64)  # token j = e_j, so out[i, j] = dropped weight (i, j)
    with torch.no_grad():
        weights = attn(x, identity=torch.zeros_like(x))
    assert abs((weights == 0).float().mean().item() - 0.3) < 0.02
    assert abs(weights.mean().item() - 1 / 64) < 0.02 / 64


def test_qd_block_uses_sdpa_with_fewer_queries(monkeypatch):
    """Shrunk's QD attention (queries != keys) goes through SDPA too."""
    calls = []
    sdpa = torch.nn.functional.scaled_dot_product_attention

    def spy(q, k, v, **kwargs):
        calls.append((q.shape[-2], k.shape[-2]))
        return sdpa(q, k, v, **kwargs)

    monkeypatch.setattr(torch.nn.functional, 'scaled_dot_product_attention', spy)
    fused, _ = build_pair(ShrunkVisionTransformer, with_cls_token=True)
    with torch.no_grad():
        fused(torch.randn(1, 3, 24, 40))  # 3x5 grid -> QD -> 2x3
    assert calls == [(16, 16), (7, 16), (7, 7)]


def test_stock_vit_built_afterwards_is_unaffected():
    """The swap is local: mmcv / mmseg modules built later keep mmcv's path."""
    fused = MODELS.build(dict(type='FusedVisionTransformer', **TINY))
    assert all(type(layer.attn) is FusedMultiheadAttention for layer in fused.layers)
    plain = MODELS.build(dict(type='VisionTransformer', **TINY))
    assert all(type(layer.attn) is MultiheadAttention for layer in plain.layers)
    assert MultiheadAttention.forward is not FusedMultiheadAttention.forward
    seen = []
    handle = plain.layers[0].attn.attn.register_forward_hook(lambda *args: seen.append(1))
    with torch.no_grad():
        plain(torch.randn(1, 3, 32, 32))
    handle.remove()
    assert seen == [1]  # nn.MultiheadAttention.forward ran


def test_unsupported_attention_is_refused():
    class Custom(MultiheadAttention):
        pass

    with pytest.raises(TypeError, match='fused_attn=False'):
        fuse_attention(Custom(embed_dims=8, num_heads=2, batch_first=True))
    with pytest.raises(ValueError, match='fused_attn=False'):
        fuse_attention(MultiheadAttention(embed_dims=8, num_heads=2, batch_first=True,
                                          add_bias_kv=True))


@pytest.mark.parametrize('extra', [dict(qkv_bias=False), dict(with_cp=True)])
def test_fused_equals_stock_without_qkv_bias_and_with_checkpointing(extra):
    fused, stock = build_pair(ShrunkVisionTransformer, **extra)
    x = torch.randn(1, 3, 24, 40)
    outs, x_grad, grads = run(fused, x)
    ref_outs, ref_x_grad, ref_grads = run(stock, x)
    for out, ref in zip(outs, ref_outs, strict=True):
        torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(x_grad, ref_x_grad, rtol=1e-4, atol=1e-5)
    for name, grad in grads.items():
        torch.testing.assert_close(grad, ref_grads[name], rtol=1e-4, atol=1e-5, msg=name)


@pytest.mark.parametrize('bias', [True, False])
@pytest.mark.parametrize('case', ['self', 'fewer_queries', 'separate_values', 'query_pos'])
def test_fused_attention_module_equals_mmcv(bias, case):
    """Every call shape of the swapped module equals mmcv's forward, incl. the
    fallback to mmcv for arguments the fast path does not take."""
    import copy
    torch.manual_seed(0)
    stock = MultiheadAttention(embed_dims=12, num_heads=3, batch_first=True, bias=bias)
    fused = fuse_attention(copy.deepcopy(stock))
    query, key, value = torch.randn(2, 7, 12), torch.randn(2, 10, 12), torch.randn(2, 10, 12)
    kwargs = {
        'self': dict(query=query),
        'fewer_queries': dict(query=query, key=key, value=key),
        'separate_values': dict(query=query, key=key, value=value),
        'query_pos': dict(query=query, query_pos=torch.randn(2, 7, 12)),
    }[case]
    torch.testing.assert_close(fused(**kwargs), stock(**kwargs), rtol=1e-5, atol=1e-6)
