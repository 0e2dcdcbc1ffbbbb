"""Every DEPICT config builds, says what it targets, and keeps E out of weight decay."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from conftest import parsed_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', 'depict', '*.py')))
CLASSES = {'ade20k': 150, 'cityscapes': 19, 'pascal-context-59': 59, 'pascal-context': 60,
           'toy': 8}
WIDTHS = {'vit-t16': 192, 'vit-s16': 384, 'vit-b16': 768, 'vit-l16': 1024, 'vit-toy': 64}


@pytest.fixture(autouse=True)
def _mmseg_scope():
    init_default_scope('mmseg')


def dataset_of(path):
    name = osp.basename(path)
    return next(key for key in CLASSES if f'_{key}-' in name)


def test_expected_configs_exist():
    names = {osp.basename(p) for p in CONFIGS}
    for v in ('sa', 'ca'):
        expected = [f'depict-{v}_vit-{s}16_8xb1-160k_ade20k-512x512.py' for s in 'tsb'] + [
            f'depict-{v}_vit-l16_8xb1-160k_ade20k-640x640.py',
            f'depict-{v}_vit-l16_8xb1-80k_cityscapes-768x768.py',
            f'depict-{v}_vit-l16_8xb2-80k_pascal-context-480x480.py',
            f'depict-{v}_vit-l16_8xb2-80k_pascal-context-59-480x480.py',
            f'depict-{v}_vit-toy_1xb8-2k_toy-64x64.py']
        assert set(expected) <= names


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_is_consistent_and_builds_tiny(path):
    cfg = parsed_config(path)
    name = osp.basename(path)
    text = open(path).read()
    # Says which published number it targets and under which protocol.
    assert 'Targets' in text or 'Published number' in text or 'no published number' in text
    if 'toy' not in name:
        assert 'Protocol:' in text and 'slide window' in text
    head = cfg.model.decode_head
    assert head.type == ('DepictSAHead' if name.startswith('depict-sa') else 'DepictCAHead')
    assert head.num_classes == CLASSES[dataset_of(path)]
    width = next(w for key, w in WIDTHS.items() if key in name)
    assert head.in_channels == cfg.model.backbone.embed_dims == width
    # Paper configs: the official code's windows (test_official_conventions.py):
    # every (window - 32) pixels, logits at the patch-padded size; the toy
    # configs: mmseg's slide at the toy window 64 / 48.
    crop = cfg.crop_size
    assert cfg.model.data_preprocessor.size == tuple(cfg.model.backbone.img_size) == crop
    if 'toy' in name:
        expected = dict(mode='slide', crop_size=(64, 64), stride=(48, 48))
    else:
        expected = dict(mode='slide', crop_size=crop, stride=(crop[0] - 32, crop[1] - 32),
                        pad_to_patch=16)
        # ... and its encoder conventions, stated in the leaf: LN eps 1e-5, bilinear
        # resizing of the position embeddings.
        assert cfg.model.backbone.norm_cfg == dict(type='LN', eps=1e-5, requires_grad=True)
        assert cfg.model.backbone.interpolate_mode == 'bilinear'
        # The papers' protocol upsamples small views to that same window.
        (upscale, ) = [t for t in cfg.val_dataloader.dataset.pipeline
                       if t.type == 'UpscaleToWindow']
        assert tuple(upscale.window_size) == crop
    assert cfg.model.test_cfg == expected
    assert cfg.optim_wrapper.paramwise_cfg.custom_keys['cls_emb'].decay_mult == 0.0
    if 'toy' not in name:
        lr = 0.01 if 'cityscapes' in name else 0.001
        assert cfg.optim_wrapper.optimizer.type == 'SGD'
        assert cfg.optim_wrapper.optimizer.lr == lr
        assert cfg.optim_wrapper.optimizer.weight_decay == 0.0
        assert cfg.model.backbone.drop_path_rate == 0.1
        assert cfg.model.data_preprocessor.mean == [127.5] * 3
        batch = 2 if 'pascal' in name else 1
        assert cfg.train_dataloader.batch_size == batch
    # Tiny override of the backbone (the full-size builds are in the slow test).
    cfg.model.pretrained = None
    cfg.model.backbone.update(embed_dims=32, num_layers=2, num_heads=2, mlp_ratio=2,
                              img_size=(64, 64), out_indices=1)
    cfg.model.decode_head.in_channels = 32
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.eval()
    with torch.no_grad():
        feats = model.extract_feat(torch.randn(1, 3, 48, 80))
        logits = model.decode_head(feats)
    patch = cfg.model.backbone.patch_size
    assert logits.shape == (1, head.num_classes, 48 // patch, 80 // patch)  # non-square grid


def test_class_embeddings_get_no_weight_decay_from_config():
    """Toy config (AdamW wd 0.01): E's param group has weight_decay 0, the rest 0.01."""
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'depict',
                                   'depict-sa_vit-toy_1xb8-2k_toy-64x64.py'))
    assert cfg.optim_wrapper.optimizer.weight_decay > 0
    model = MODELS.build(cfg.model)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    cls_emb = model.decode_head.cls_emb
    groups = wrapper.optimizer.param_groups
    group = next(g for g in groups if any(p is cls_emb for p in g['params']))
    assert group['weight_decay'] == 0.0
    others = [g for g in groups if not any(p is cls_emb for p in g['params'])]
    assert others and all(g['weight_decay'] == cfg.optim_wrapper.optimizer.weight_decay
                          for g in others)
    # The config's key and the head's timm-style no_weight_decay() name the same thing.
    assert set(cfg.optim_wrapper.paramwise_cfg.custom_keys) == model.decode_head.no_weight_decay()


def test_paper_config_with_user_weight_decay():
    """A user raising wd on a paper config (SGD, wd 0) still keeps E out of it."""
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'depict',
                                   'depict-ca_vit-t16_8xb1-160k_ade20k-512x512.py'))
    cfg.optim_wrapper.optimizer.weight_decay = 0.05
    cfg.model.pretrained = None
    cfg.model.backbone.update(embed_dims=32, num_layers=1, num_heads=2, img_size=(32, 32))
    cfg.model.decode_head.in_channels = 32
    model = MODELS.build(cfg.model)
    groups = build_optim_wrapper(model, cfg.optim_wrapper).optimizer.param_groups
    decay = {id(p): g['weight_decay'] for g in groups for p in g['params']}
    assert decay[id(model.decode_head.cls_emb)] == 0.0
    assert decay[id(model.decode_head.cross_layers[0].attn.proj)] == 0.05


@pytest.mark.slow
@pytest.mark.parametrize('path', [p for p in CONFIGS if 'vit-l16' in p], ids=osp.basename)
def test_full_size_vit_l_build(path):
    cfg = Config.fromfile(path)
    cfg.model.pretrained = None
    model = MODELS.build(cfg.model)
    head_params = sum(p.numel() for p in model.decode_head.parameters())
    if 'depict-sa' in path and 'ade20k' in path:
        assert abs(head_params - 1.08e6) / 1.08e6 < 0.02
    assert head_params < 2e6
