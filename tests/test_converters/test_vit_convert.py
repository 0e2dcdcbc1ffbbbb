"""timm / AugReg ViT -> mmseg VisionTransformer conversion gives the same features."""
import glob
import os.path as osp

import numpy as np
import pytest
import torch
from mmseg.models.backbones import VisionTransformer
from mmseg.registry import MODELS
from timm.layers import resample_abs_pos_embed
from timm.models.vision_transformer import VisionTransformer as TimmViT
from timm.models.vision_transformer import _load_weights as timm_load_npz

from conftest import PYTHON, REPO, parsed_config, run_tool
from depict.converters.vit import (convert_vit_checkpoint, npz_to_timm, resize_pos_embed,
                                      timm_to_mmseg)

WIDTH, DEPTH, HEADS, PATCH = 32, 2, 2, 8


def _timm_vit(img_size=(32, 32), depth=DEPTH, **kwargs) -> TimmViT:
    """A small timm ViT with every parameter randomised (biases and norms too),
    so that a wrongly mapped bias or norm changes the features."""
    model = TimmViT(img_size=img_size, patch_size=PATCH, embed_dim=WIDTH, depth=depth,
                    num_heads=HEADS, num_classes=5, **kwargs)
    with torch.no_grad():
        for name, param in model.named_parameters():
            base = 1.0 if 'norm' in name and name.endswith('weight') else 0.0
            param.copy_(base + 0.2 * torch.randn_like(param))
    return model.eval()


def _mmseg_vit(img_size=(32, 32), **kwargs) -> VisionTransformer:
    model = VisionTransformer(img_size=img_size, patch_size=PATCH, embed_dims=WIDTH,
                              num_layers=DEPTH, num_heads=HEADS, mlp_ratio=4,
                              out_indices=(0, DEPTH - 1), final_norm=True, patch_bias=True,
                              norm_cfg=dict(type='LN', eps=1e-6), with_cls_token=True,
                              interpolate_mode='bicubic', **kwargs)
    model.eval()  # mmseg's VisionTransformer.train() returns None: do not chain
    return model


@torch.no_grad()
def _timm_features(model: TimmViT, x: torch.Tensor) -> list[torch.Tensor]:
    """Patch tokens after block 0 and after the last block + final norm, as (B, D, h, w)."""
    h, w = x.shape[-2] // PATCH, x.shape[-1] // PATCH
    tokens = model.norm_pre(model._pos_embed(model.patch_embed(x)))
    outs = []
    for i, block in enumerate(model.blocks):
        tokens = block(tokens)
        if i == len(model.blocks) - 1:
            tokens = model.norm(tokens)
        if i in (0, len(model.blocks) - 1):
            # (B, 1 + h*w, D) -> (B, D, h, w), CLS dropped
            outs.append(tokens[:, 1:].reshape(x.shape[0], h, w, -1).permute(0, 3, 1, 2))
    return outs


def _assert_same_features(timm_model, mmseg_model, x):
    expected = _timm_features(timm_model, x)
    with torch.no_grad():
        got = mmseg_model(x)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e, atol=1e-5, rtol=1e-5)


def _to_vit_jax_npz(model: TimmViT, path: str, layout: str = 'vit_jax') -> None:
    """Writes ``model`` as a JAX ViT ``.npz`` (kernels (in, out), attention
    kernels (D, heads, head_dim) / (heads, head_dim, D), patch kernel HWIO).

    ``vit_jax``: the AugReg releases (``encoderblock_N``, MHDPA_1, MlpBlock_3,
    LayerNorm_2); ``big_vision``: ``params/`` prefix, blocks stacked on axis 0
    ("scan"), MHDPA_0, MlpBlock_0, LayerNorm_1, top-level ``pos_embedding``.
    """
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    d, heads = WIDTH, HEADS
    big = layout == 'big_vision'
    p = 'params/' if big else ''
    mha, mlp, ln2 = (0, 0, 1) if big else (1, 3, 2)
    out = {
        f'{p}cls': sd['cls_token'],
        f'{p}embedding/kernel': sd['patch_embed.proj.weight'].transpose(2, 3, 1, 0),
        f'{p}embedding/bias': sd['patch_embed.proj.bias'],
        (f'{p}pos_embedding' if big else 'Transformer/posembed_input/pos_embedding'):
            sd['pos_embed'],
        f'{p}Transformer/encoder_norm/scale': sd['norm.weight'],
        f'{p}Transformer/encoder_norm/bias': sd['norm.bias'],
        f'{p}head/kernel': sd['head.weight'].T,
        f'{p}head/bias': sd['head.bias'],
    }
    blocks = []
    for i in range(len(model.blocks)):
        b = f'blocks.{i}.'
        qkv_w, qkv_b = sd[b + 'attn.qkv.weight'], sd[b + 'attn.qkv.bias']
        att = f'MultiHeadDotProductAttention_{mha}/'
        block = {
            'LayerNorm_0/scale': sd[b + 'norm1.weight'], 'LayerNorm_0/bias': sd[b + 'norm1.bias'],
            f'LayerNorm_{ln2}/scale': sd[b + 'norm2.weight'],
            f'LayerNorm_{ln2}/bias': sd[b + 'norm2.bias'],
            att + 'out/kernel': sd[b + 'attn.proj.weight'].T.reshape(heads, d // heads, d),
            att + 'out/bias': sd[b + 'attn.proj.bias'],
        }
        for j, name in enumerate(('query', 'key', 'value')):
            block[att + f'{name}/kernel'] = qkv_w[j * d:(j + 1) * d].T.reshape(d, heads, d // heads)
            block[att + f'{name}/bias'] = qkv_b[j * d:(j + 1) * d].reshape(heads, d // heads)
        for r in range(2):
            block[f'MlpBlock_{mlp}/Dense_{r}/kernel'] = sd[b + f'mlp.fc{r + 1}.weight'].T
            block[f'MlpBlock_{mlp}/Dense_{r}/bias'] = sd[b + f'mlp.fc{r + 1}.bias']
        blocks.append(block)
    if big:
        for key in blocks[0]:
            out[f'{p}Transformer/encoderblock/{key}'] = np.stack([blk[key] for blk in blocks])
    else:
        for i, block in enumerate(blocks):
            out.update({f'Transformer/encoderblock_{i}/{k}': v for k, v in block.items()})
    np.savez(path, **out)


def test_timm_state_dict_gives_same_features():
    timm_model = _timm_vit()
    ckpt = convert_vit_checkpoint(timm_model.state_dict())
    mmseg_model = _mmseg_vit()
    # strict: every key maps, nothing is left over (the classifier is dropped).
    mmseg_model.load_state_dict(ckpt['state_dict'], strict=True)
    _assert_same_features(timm_model, mmseg_model, torch.randn(2, 3, 32, 32))


def test_non_square_model_and_input():
    timm_model = _timm_vit(img_size=(40, 56))
    mmseg_model = _mmseg_vit(img_size=(40, 56))
    ckpt = convert_vit_checkpoint(timm_model.state_dict(), source_grid=(5, 7))
    mmseg_model.load_state_dict(ckpt['state_dict'])
    _assert_same_features(timm_model, mmseg_model, torch.randn(1, 3, 40, 56))
    # Without source_grid, 1 + 5*7 = 36 positions read as a square 6x6 grid
    # without CLS: a non-square source needs source_grid.
    with pytest.raises(RuntimeError, match='size mismatch'):
        mmseg_model.load_state_dict(convert_vit_checkpoint(timm_model.state_dict())['state_dict'])


def test_pos_embed_resized_on_conversion_matches_timm_and_mmseg():
    """Converted to a non-square target size: the same features as a timm model
    whose position embedding timm resamples (bicubic, no antialias), and the same
    table as mmseg's own run-time resize."""
    source = _timm_vit(img_size=(32, 32))
    target_size = (40, 56)
    ckpt = convert_vit_checkpoint(source.state_dict(), img_size=target_size)
    assert ckpt['meta']['grid'] == [5, 7] and ckpt['meta']['source_grid'] == [4, 4]

    reference = _timm_vit(img_size=target_size)
    state = dict(source.state_dict())
    state['pos_embed'] = resample_abs_pos_embed(state['pos_embed'], new_size=[5, 7],
                                                num_prefix_tokens=1, interpolation='bicubic',
                                                antialias=False)
    reference.load_state_dict(state)
    mmseg_model = _mmseg_vit(img_size=target_size)
    mmseg_model.load_state_dict(ckpt['state_dict'])
    x = torch.randn(1, 3, *target_size)
    _assert_same_features(reference, mmseg_model, x)

    # Unresized weights in a 32x32 model: mmseg resizes at run time, identically.
    runtime = _mmseg_vit(img_size=(32, 32))
    runtime.load_state_dict(convert_vit_checkpoint(source.state_dict())['state_dict'])
    _assert_same_features(reference, runtime, x)
    torch.testing.assert_close(
        ckpt['state_dict']['pos_embed'],
        VisionTransformer.resize_pos_embed(source.pos_embed.detach(), (5, 7), (4, 4), 'bicubic'))


def test_resize_pos_embed_keeps_cls_and_identity():
    pos = torch.randn(1, 1 + 16, 8)
    torch.testing.assert_close(resize_pos_embed(pos, (4, 4)), pos)
    resized = resize_pos_embed(pos, (6, 3))
    assert resized.shape == (1, 1 + 18, 8)
    torch.testing.assert_close(resized[:, 0], pos[:, 0])
    with pytest.raises(ValueError, match='not a square'):
        resize_pos_embed(torch.randn(1, 1 + 12, 8), (4, 4))


@pytest.mark.parametrize('layout', ['vit_jax', 'big_vision'])
def test_npz_route(tmp_path, layout):
    timm_model = _timm_vit()
    path = str(tmp_path / f'{layout}.npz')
    _to_vit_jax_npz(timm_model, path, layout)

    # The writer matches the real layout: timm's own .npz reader restores the model.
    restored = _timm_vit()
    timm_load_npz(restored, path)
    for key, value in timm_model.state_dict().items():
        torch.testing.assert_close(restored.state_dict()[key], value, msg=key)

    with np.load(path) as arrays:
        as_timm = npz_to_timm(dict(arrays))
    assert set(as_timm) == {k for k in timm_model.state_dict() if not k.startswith('head')}

    ckpt = convert_vit_checkpoint(path)
    assert ckpt['meta']['source_format'] == 'npz'
    mmseg_model = _mmseg_vit()
    mmseg_model.load_state_dict(ckpt['state_dict'], strict=True)
    _assert_same_features(timm_model, mmseg_model, torch.randn(2, 3, 32, 32))


def test_saved_checkpoint_loads_through_mmseg_pretrained_path(tmp_path):
    """The real entry point: ``init_cfg=Pretrained`` goes through mmengine's
    CheckpointLoader (depict's weights_only loader), meta included."""
    timm_model = _timm_vit()
    path = str(tmp_path / 'vit.pth')
    torch.save(convert_vit_checkpoint(timm_model.state_dict(), img_size=48), path)
    assert torch.serialization.get_unsafe_globals_in_checkpoint(path) == []
    mmseg_model = _mmseg_vit(img_size=(48, 48),
                             init_cfg=dict(type='Pretrained', checkpoint=path))
    mmseg_model.init_weights()
    mmseg_model.eval()
    reference = _timm_vit(img_size=(48, 48))
    state = dict(timm_model.state_dict())
    state['pos_embed'] = resample_abs_pos_embed(state['pos_embed'], [6, 6], antialias=False)
    reference.load_state_dict(state)
    _assert_same_features(reference, mmseg_model, torch.randn(1, 3, 48, 48))


def test_mmseg_default_patch_bias_drops_the_bias():
    """mmseg 1.x defaults to patch_bias=False: a config that forgets
    patch_bias=True silently loses the patch-embedding bias."""
    ckpt = convert_vit_checkpoint(_timm_vit().state_dict())
    assert ckpt['meta']['backbone_cfg']['patch_bias'] is True
    model = VisionTransformer(img_size=32, patch_size=PATCH, embed_dims=WIDTH,
                              num_layers=DEPTH, num_heads=HEADS, final_norm=True)
    result = model.load_state_dict(ckpt['state_dict'], strict=False)
    assert result.unexpected_keys == ['patch_embed.projection.bias']


def test_no_embed_class_and_unsupported_keys():
    timm_model = _timm_vit(no_embed_class=True)
    ckpt = convert_vit_checkpoint(timm_model.state_dict())
    assert ckpt['state_dict']['pos_embed'].shape == (1, 1 + 16, WIDTH)
    mmseg_model = _mmseg_vit()
    mmseg_model.load_state_dict(ckpt['state_dict'], strict=True)
    _assert_same_features(timm_model, mmseg_model, torch.randn(1, 3, 32, 32))

    with pytest.raises(ValueError, match='layer scale'):
        timm_to_mmseg(_timm_vit(depth=1, init_values=0.1).state_dict())


def test_timm_name_route(monkeypatch):
    """``timm:<name>`` asks timm for the pretrained model (network in real use;
    here timm.create_model is replaced by a random model of the same kind)."""
    import timm
    calls = []

    def create_model(name, pretrained=False, **kwargs):
        calls.append((name, pretrained, kwargs))
        return _timm_vit(img_size=(40, 56))

    monkeypatch.setattr(timm, 'create_model', create_model)
    ckpt = convert_vit_checkpoint('timm:vit_tiny_patch16_384.augreg_in21k_ft_in1k')
    assert calls[0][:2] == ('vit_tiny_patch16_384.augreg_in21k_ft_in1k', True)
    # The grid comes from the model, so a non-square one needs no source_grid.
    assert ckpt['meta']['source_grid'] == [5, 7]
    assert ckpt['meta']['timm_model'].startswith('vit_tiny')


def _pretrained_path(model_cfg) -> str | None:
    backbone = model_cfg.get('backbone', {})
    init_cfg = backbone.get('init_cfg') or {}
    return model_cfg.get('pretrained') or (init_cfg.get('checkpoint')
                                           if isinstance(init_cfg, dict) else None)


_VIT_TYPES = ('VisionTransformer', 'TwoPathwayVisionTransformer', 'ShrunkVisionTransformer')


def _configs_with_pretrained_vits():
    found = []
    for path in sorted(glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True)):
        if '_base_' in path:
            continue
        cfg = parsed_config(path)  # parsed once per session (test_all_configs.py too)
        # Only ViT backbones take vit_convert's checkpoints (not BEiT, Swin: docs/backbones.md).
        if cfg.model.backbone.get('type') not in _VIT_TYPES:
            continue
        ckpt = _pretrained_path(cfg.model)
        if ckpt and 'pretrain' in ckpt:
            found.append((osp.relpath(path, REPO), cfg))
    return found


def test_every_pretrained_config_takes_all_converted_keys():
    """Each config that names a data/pretrain file gets every converted key
    (no silently dropped tensor such as the patch bias) and misses none."""
    configs = _configs_with_pretrained_vits()
    assert configs, 'no config names a data/pretrain file'
    converted = set(convert_vit_checkpoint(_timm_vit(depth=1).state_dict())['state_dict'])
    for name, cfg in configs:
        backbone_cfg = dict(cfg.model.backbone, num_layers=1, init_cfg=None)
        backbone_cfg.pop('pretrained', None)
        if 'shrink_index' in backbone_cfg:  # SegViT-Shrunk: downsample in the one block
            backbone_cfg.update(shrink_index=0, out_indices=(0, ))
        backbone = MODELS.build(backbone_cfg)
        if not isinstance(backbone, VisionTransformer):
            continue
        keys = set(backbone.state_dict())
        # Without a final norm (SegViT) the pretrained final LN is unused by design.
        unused = set() if getattr(backbone, 'final_norm', True) else {'ln1.weight', 'ln1.bias'}
        dropped = converted - keys - unused
        assert not dropped, f'{name}: the backbone drops {sorted(dropped)}'
        if type(backbone) is VisionTransformer:
            assert not keys - converted, f'{name}: pretrained lacks {sorted(keys - converted)}'


def test_converter_tool(tmp_path):
    timm_model = _timm_vit()
    src = str(tmp_path / 'vit.npz')
    _to_vit_jax_npz(timm_model, src)
    dst = str(tmp_path / 'out' / 'vit_mmseg.pth')
    proc = run_tool([PYTHON, 'tools/model_converters/vit2mmseg.py', src, dst,
                     '--img-size', '40', '56'], fork=True)
    assert '[4, 4] -> [5, 7]' in proc.stdout and '"patch_bias": true' in proc.stdout
    ckpt = torch.load(dst, weights_only=True)
    assert ckpt['meta']['img_size'] == [40, 56] and ckpt['meta']['source'] == 'vit.npz'
    assert ckpt['state_dict']['pos_embed'].shape == (1, 1 + 35, WIDTH)
