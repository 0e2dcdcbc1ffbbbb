"""The decoupled two-pathway ViT (reconstruction of Hong et al.'s LSB pathway)."""
import pytest
import torch
from mmseg.models.backbones import VisionTransformer

from depict.models.backbones import TwoPathwayVisionTransformer
from depict.models.backbones.two_pathway_vit import default_lsb_indices

VIT = dict(img_size=(32, 32), patch_size=8, embed_dims=32, num_layers=3, num_heads=2,
           mlp_ratio=2, out_indices=(1, 2), final_norm=True,
           norm_cfg=dict(type='LN', eps=1e-6), with_cls_token=True)


def build(**kwargs) -> TwoPathwayVisionTransformer:
    model = TwoPathwayVisionTransformer(**{**VIT, 'local_channels': 8, **kwargs})
    model.init_weights()
    return model


def test_default_lsb_indices():
    assert default_lsb_indices(24) == (5, 11, 17, 23)
    assert default_lsb_indices(12) == (2, 5, 8, 11)
    assert default_lsb_indices(4) == (0, 1, 2, 3)
    assert default_lsb_indices(2) == (0, 1)


@pytest.mark.parametrize('size', [(32, 32), (24, 48), (40, 16), (37, 53)])
def test_output_shapes_square_non_square_and_odd(size):
    model = build()
    outs = model(torch.randn(2, 3, *size))
    grid = (-(-size[0] // 8), -(-size[1] // 8))  # the patch embedding pads to a multiple
    assert len(outs) == 2
    assert all(out.shape == (2, 32, *grid) for out in outs)


def test_pathway_off_is_exactly_the_plain_vit():
    plain = VisionTransformer(**VIT)
    wrapper = TwoPathwayVisionTransformer(**VIT, with_local_pathway=False)
    assert not hasattr(wrapper, 'local_pathway')
    assert wrapper.load_state_dict(plain.state_dict(), strict=True)
    assert plain.load_state_dict(wrapper.state_dict(), strict=True)
    plain.eval(), wrapper.eval()
    x = torch.randn(1, 3, 24, 40)
    for a, b in zip(plain(x), wrapper(x)):
        torch.testing.assert_close(a, b)


def test_pathway_changes_only_outputs_at_or_after_the_first_lsb():
    model = build(lsb_indices=(2, ), out_indices=(0, 1, 2))
    model.eval()
    plain = VisionTransformer(**{**VIT, 'out_indices': (0, 1, 2)})
    plain.load_state_dict(model.state_dict(), strict=False)
    plain.eval()
    x = torch.randn(1, 3, 32, 24)
    ours, reference = model(x), plain(x)
    torch.testing.assert_close(ours[0], reference[0])
    torch.testing.assert_close(ours[1], reference[1])
    assert not torch.allclose(ours[2], reference[2])
    assert set(model.local_pathway.fuse_projs.keys()) == {'2'}


def test_plain_vit_state_dict_loads_into_the_transformer_pathway():
    """Pretrained ViT weights load unchanged: no unexpected keys, and the only
    missing keys are the new pathway's (listed)."""
    plain = VisionTransformer(**VIT)
    wrapper = build(lsb_indices=(0, 2))
    result = wrapper.load_state_dict(plain.state_dict(), strict=False)
    assert result.unexpected_keys == []
    new_keys = sorted(k for k in wrapper.state_dict() if k.startswith('local_pathway.'))
    assert sorted(result.missing_keys) == new_keys
    assert {k.split('.')[1] + '.' + k.split('.')[2] for k in new_keys} == {
        'blocks.0', 'blocks.2', 'fuse_norms.2', 'fuse_projs.2'}
    for key, value in plain.state_dict().items():
        torch.testing.assert_close(wrapper.state_dict()[key], value)


def test_pretrained_checkpoint_through_init_cfg(tmp_path):
    """mmseg's Pretrained path (pos-embed resize included) loads the transformer;
    the local pathway then gets its own initialisation (high-pass filters)."""
    source = VisionTransformer(**{**VIT, 'img_size': (16, 16)})  # 2x2 grid: resized on load
    checkpoint = tmp_path / 'vit.pth'
    torch.save({'state_dict': source.state_dict()}, checkpoint)
    model = TwoPathwayVisionTransformer(
        **VIT, local_channels=8, init_cfg=dict(type='Pretrained', checkpoint=str(checkpoint)))
    model.init_weights()
    for key, value in source.state_dict().items():
        if key != 'pos_embed':
            torch.testing.assert_close(model.state_dict()[key], value)
    assert model.pos_embed.shape == (1, 1 + 16, 32)
    kernel = model.local_pathway.blocks['0'].discrepancy.weight
    expected = torch.full_like(kernel, -1 / 9)
    expected[:, :, 1, 1] += 1
    torch.testing.assert_close(kernel, expected)


@pytest.mark.parametrize('fuse_indices', [None, (1, 2)])
def test_every_parameter_gets_a_gradient_from_the_outputs_read(fuse_indices):
    """By default only the deepest output is fused: a head reading that output
    alone leaves no parameter unused (DDP without find_unused_parameters)."""
    model = build(fuse_indices=fuse_indices)
    model.train()
    outs = model(torch.randn(2, 3, 24, 40))
    read = outs[-1:] if fuse_indices is None else outs
    sum(out.square().mean() for out in read).backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name
        if name.startswith('local_pathway.'):
            assert param.grad.abs().sum() > 0, name
    # The fusion bias adds to every position of its output: its gradient is
    # Σ_{b,h,w} ∂(mean of squares)/∂out = 2 Σ_{b,h,w} out / numel.
    fused = dict(zip(model.out_indices, outs))
    for key, proj in model.local_pathway.fuse_projs.items():
        out = fused[int(key)].detach()
        torch.testing.assert_close(proj.bias.grad, 2 * out.sum((0, 2, 3)) / out.numel())


def reference_outputs(model, x):
    """The two-pathway outputs written out: a plain mmseg ViT with the same
    weights gives every layer's map (the last after the final LN), the LSBs
    accumulate the state L from the layers they follow, and each fused output is
    ``X_i + W_i · LN_c(L)`` (LayerNorm over the channels, eps 1e-6)."""
    pathway = model.local_pathway
    plain = VisionTransformer(**{**VIT, 'with_cls_token': model.with_cls_token,
                                 'output_cls_token': model.output_cls_token,
                                 'out_indices': tuple(range(len(model.layers)))})
    plain.load_state_dict(model.state_dict(), strict=False)
    plain.eval()
    layers = plain(x)
    maps = [out[0] if model.output_cls_token else out for out in layers]
    expected, state = [], None
    for index, features in enumerate(maps):
        if str(index) in pathway.blocks:
            tokens = features.flatten(2).transpose(1, 2)  # (B, d, h, w) -> (B, h*w, d)
            state = pathway.blocks[str(index)](tokens, features.shape[-2:], state)
        if index not in model.out_indices:
            continue
        if str(index) in pathway.fuse_projs:
            norm = pathway.fuse_norms[str(index)]
            normed = torch.nn.functional.layer_norm(state.permute(0, 2, 3, 1), state.shape[1:2],
                                                    norm.weight, norm.bias, 1e-6)
            features = features + pathway.fuse_projs[str(index)](normed.permute(0, 3, 1, 2))
        expected.append([features, layers[index][1]] if model.output_cls_token else features)
    return expected


@pytest.mark.parametrize('variant', [dict(output_cls_token=True), dict(with_cls_token=False),
                                     dict(fuse_indices=(1, 2))])
def test_outputs_equal_the_plain_vit_plus_the_written_out_pathway(variant):
    """With the CLS token returned (the pathway leaves it alone), without a CLS
    token, and with both outputs fused."""
    model = build(**variant)
    model.eval()
    with torch.no_grad():
        for fuse_proj in model.local_pathway.fuse_projs.values():  # a visible fusion
            fuse_proj.weight.normal_(std=0.5)
        x = torch.randn(1, 3, 16, 32)
        outs, expected = model(x), reference_outputs(model, x)
    assert len(outs) == len(expected) == 2
    if model.output_cls_token:
        assert outs[-1][0].shape == (1, 32, 2, 4) and outs[-1][1].shape == (1, 32)
    else:
        assert outs[-1].shape == (1, 32, 2, 4)
    torch.testing.assert_close(list(outs), expected, atol=1e-5, rtol=1e-5)


def test_bad_arguments_are_reported():
    with pytest.raises(ValueError, match='lsb_indices'):
        build(lsb_indices=(3, ))
    with pytest.raises(ValueError, match='lsb_indices'):
        build(lsb_indices=(1, 1))
    with pytest.raises(ValueError, match='never reach the decoder'):
        build(lsb_indices=(2, ), out_indices=(0, 1))
    with pytest.raises(ValueError, match='never reach the decoder'):
        build(lsb_indices=(0, 2), out_indices=(1, 2), fuse_indices=(1, ))
    with pytest.raises(ValueError, match='fuse_indices'):
        build(lsb_indices=(1, ), out_indices=(0, 1, 2), fuse_indices=(0, 2))
