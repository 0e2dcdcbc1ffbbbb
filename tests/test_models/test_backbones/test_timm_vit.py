"""TimmViT: any plain timm ViT as a backbone (tiny random models, no downloads)."""
import pytest
import torch
from mmseg.models.backbones import VisionTransformer

from depict.models.backbones import TimmViT
from depict.converters.vit import convert_vit_checkpoint

TINY = dict(embed_dim=32, depth=4, num_heads=2)


def tiny(name='vit_base_patch16_224', **kwargs):
    kwargs.setdefault('img_size', 64)
    kwargs.setdefault('out_indices', (1, 2, 3))
    return TimmViT(model_name=name, model_kwargs=dict(TINY, **kwargs.pop('model_kwargs', {})),
                   **kwargs).eval()


def timm_tokens(backbone, x, num_prefix):
    """Reference: timm's own forward_features, prefix stripped, then the final norm
    (the wrapper moved timm's ``norm`` to ``backbone.norm``)."""
    tokens = backbone.model.forward_features(x)  # (B, prefix + h*w, C)
    return backbone.norm(tokens[:, num_prefix:])


@pytest.mark.parametrize('name,prefix,patch', [
    ('vit_base_patch16_224', 1, 16),  # AugReg layout: CLS
    ('deit3_small_patch16_224', 1, 16),  # layer scale
    ('vit_small_patch14_reg4_dinov2', 5, 14),  # CLS + 4 registers, patch 14
    ('vit_base_patch16_siglip_224', 0, 16),  # no CLS (MAP pooling, removed)
    ('eva02_tiny_patch14_224', 1, 14),  # RoPE, SwiGLU
])
def test_outputs_are_timm_tokens_without_prefix(name, prefix, patch):
    backbone = tiny(name)
    assert backbone.num_prefix_tokens == prefix and backbone.patch_size == (patch, patch)
    x = torch.randn(2, 3, 3 * patch, 5 * patch)  # non-square, multiple of the patch
    with torch.no_grad():
        outs = backbone(x)
        ref = timm_tokens(backbone, x, prefix)  # blocks 0..3 then the final norm
    assert [tuple(o.shape) for o in outs] == [(2, 32, 3, 5)] * 3
    # (B, C, h, w) -> (B, h*w, C): the last output is exactly timm's normalised tokens.
    torch.testing.assert_close(outs[-1].flatten(2).transpose(1, 2), ref)
    # Intermediate outputs are not normalised (mmseg's final_norm semantics).
    assert not torch.allclose(outs[1].flatten(2).transpose(1, 2), ref)


def test_registers_patch14_padding_non_square():
    """DINOv2-style: 4 registers dropped; 50x77 is padded to 56x84 (4x6 patches)."""
    backbone = tiny('vit_small_patch14_reg4_dinov2', out_indices=(-1, ))
    x = torch.randn(1, 3, 50, 77)
    with torch.no_grad():
        (out, ) = backbone(x)
        padded = torch.nn.functional.pad(x, (0, 84 - 77, 0, 56 - 50))
        (ref, ) = backbone(padded)
    assert out.shape == (1, 32, 4, 6)
    torch.testing.assert_close(out, ref)  # bottom/right zero padding, as mmseg's ViT


def test_eva02_rope_non_square_follows_the_grid():
    """EVA-02's RoPE is built for the actual (h, w) grid: a transposed input gives
    the transposed features only if the rotary positions follow the grid axes."""
    backbone = tiny('eva02_tiny_patch14_224', out_indices=(-1, ), img_size=56)
    assert backbone.model.rope is not None
    x = torch.randn(1, 3, 28, 70)  # 2x5 grid, trained grid 4x4
    with torch.no_grad():
        (out, ) = backbone(x)
        ref = timm_tokens(backbone, x, 1)
    assert out.shape == (1, 32, 2, 5)
    torch.testing.assert_close(out.flatten(2).transpose(1, 2), ref)
    # The position code matters: moving content changes the features non-trivially.
    with torch.no_grad():
        (shifted, ) = backbone(torch.roll(x, shifts=14, dims=3))
    assert not torch.allclose(torch.roll(out, shifts=1, dims=3), shifted, atol=1e-3)


def test_final_norm_off_and_pruning():
    backbone = tiny(out_indices=(0, 2), final_norm=True)  # last block (3) not read
    assert len(backbone.layers) == 3 and backbone.norm is None  # pruned, no norm
    raw = tiny(out_indices=(-1, ), final_norm=False)
    assert raw.norm is None and isinstance(raw.model.norm, torch.nn.Identity)
    # Every remaining parameter is used (DDP without find_unused_parameters).
    for model in (backbone, raw, tiny('vit_small_patch14_reg4_dinov2'),
                  tiny('vit_base_patch16_siglip_224'), tiny('eva02_tiny_patch14_224')):
        model.train()
        sum(o.square().mean() for o in model(torch.randn(1, 3, 32, 48))).backward()
        unused = [n for n, p in model.named_parameters() if p.grad is None]
        assert not unused, unused


def test_init_weights_keeps_weights_and_drop_path():
    backbone = tiny(drop_path_rate=0.2)
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    backbone.init_weights()  # mmengine would otherwise call timm's random init
    for key, value in backbone.state_dict().items():
        assert torch.equal(value, before[key]), key
    rates = [float(getattr(block.drop_path1, 'drop_prob', 0.0)) for block in backbone.layers]
    assert rates == pytest.approx([0.0, 0.2 / 3, 0.4 / 3, 0.2])


def test_local_checkpoint_file_and_pos_embed_resampling(tmp_path):
    source = tiny(img_size=64)
    path = tmp_path / 'weights.pth'
    torch.save(source.model.state_dict(), path)
    # Same architecture from the file; timm resamples the 4x4 grid to 2x6 at load.
    loaded = tiny(img_size=(32, 96), checkpoint_file=str(path))
    torch.testing.assert_close(loaded.model.blocks[2].mlp.fc1.weight,
                               source.model.blocks[2].mlp.fc1.weight)
    assert loaded.model.pos_embed.shape == (1, 1 + 2 * 6, 32)
    same = tiny(img_size=64, checkpoint_file=str(path))
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(source(x), same(x)):
            torch.testing.assert_close(a, b)


def test_offline_download_error_names_the_local_file_option(monkeypatch):
    import huggingface_hub.constants
    monkeypatch.setattr(huggingface_hub.constants, 'HF_HUB_OFFLINE', True)
    with pytest.raises(RuntimeError, match='checkpoint_file'):
        TimmViT(model_name='vit_tiny_patch16_224.augreg_in21k', pretrained=True)


def test_bad_arguments():
    with pytest.raises(ValueError, match='no model'):
        TimmViT(model_name='vit_nonexistent_patch16')
    with pytest.raises(ValueError, match='out_indices'):
        tiny(out_indices=(4, ))
    with pytest.raises(ValueError, match='plain ViT'):
        TimmViT(model_name='resnet18')


def test_augreg_timm_equals_mmseg_vit_through_the_converter(tmp_path):
    """The same AugReg-layout weights in TimmViT and in mmseg's VisionTransformer
    (converted by depict.converters.vit) give the same features.

    On the pretrained grid exactly; on another (non-square) window the two
    resample the position grid differently (timm: antialiased bicubic, PIL's
    a = -0.5 kernel; mmseg: plain bicubic, a = -0.75), so the comparison there
    gives mmseg the grid timm uses and checks everything else (the non-square
    token layout, attention, norms)."""
    import timm
    from timm.layers import resample_abs_pos_embed
    torch.manual_seed(0)
    # A "downloaded" AugReg-layout timm checkpoint (classifier included).
    source = timm.create_model('vit_base_patch16_224', img_size=64, num_classes=10, **TINY)
    for param in source.parameters():  # non-trivial biases and norms
        param.data.normal_(0, 0.2)
    path = tmp_path / 'augreg.pth'
    torch.save(source.state_dict(), path)
    ours = tiny('vit_base_patch16_224', img_size=64, checkpoint_file=str(path))
    ckpt = convert_vit_checkpoint(str(path))
    cfg = dict(ckpt['meta']['backbone_cfg'])
    cfg.pop('type')
    assert cfg['patch_bias'] and cfg['final_norm']

    def mmseg_vit(img_size, state):
        vit = VisionTransformer(**dict(cfg, img_size=img_size), num_heads=2,
                                out_indices=(1, 2, 3), norm_cfg=dict(type='LN', eps=1e-6))
        vit.eval()  # mmseg's VisionTransformer.train() returns None: never chain
        missing, unexpected = vit.load_state_dict(state, strict=False)
        assert not missing and not unexpected
        return vit

    state = ckpt['state_dict']
    # timm's resampling of the 4x4 grid to 6x4 (CLS position kept), given to mmseg as stored.
    pos_96x64 = resample_abs_pos_embed(state['pos_embed'], (6, 4), num_prefix_tokens=1)
    for shape, vit in (((64, 64), mmseg_vit((64, 64), state)),
                       ((96, 64), mmseg_vit((96, 64), dict(state, pos_embed=pos_96x64)))):
        x = torch.randn(2, 3, *shape)
        with torch.no_grad():
            for a, b in zip(ours(x), vit(x)):
                torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_img_size_rounds_up_to_the_padded_grid():
    """A 512 crop at patch 14 is padded to 518: the position grid is built 37 x 37
    (the grid the padded input uses), not 36 x 36 resampled again at every forward."""
    backbone = tiny('vit_base_patch14_reg4_dinov2', img_size=(512, 500))
    assert backbone.model.patch_embed.grid_size == (37, 36)
    exact = tiny('vit_base_patch14_reg4_dinov2', img_size=(512, 500), dynamic_img_pad=False)
    assert exact.model.patch_embed.grid_size == (36, 35)
