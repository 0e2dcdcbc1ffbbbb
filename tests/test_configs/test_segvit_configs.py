"""SegViT configs: recipe values, heads build, toy configs train, test and TTA."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from conftest import PYTHON, REPO, fast_cfg_options, logged_mious, parsed_config, run_tool

CONFIG_DIR = osp.join(REPO, 'configs', 'segvit')
FULL = {  # config -> (num_classes, crop, weight decay, iterations, batch per GPU)
    'segvit_vit-l16_8xb2-160k_ade20k-640x640.py': (150, 640, 0.01, 160000, 2),
    'segvit-shrunk_vit-l16_8xb2-160k_ade20k-640x640.py': (150, 640, 0.01, 160000, 2),
    'segvit_vit-b16_8xb2-160k_ade20k-512x512.py': (150, 512, 0.01, 160000, 2),
    'segvit_vit-l16_4xb4-80k_pascal-context-480x480.py': (60, 480, 0.03, 80000, 4),
    'segvit_vit-l16_4xb4-80k_pascal-context-59-480x480.py': (59, 480, 0.03, 80000, 4),
    'segvit_vit-l16_8xb1-80k_cityscapes-768x768.py': (19, 768, 0.01, 80000, 1),
}
TOYS = ['segvit_vit-toy_1xb8-2k_toy-64x64.py', 'segvit-shrunk_vit-toy_1xb8-2k_toy-64x64.py']
SEGMENTER_TOY = osp.join(REPO, 'configs', 'segmenter',
                         'segmenter-mask_vit-toy_1xb8-2k_toy-64x64.py')


def test_every_segvit_config_is_covered():
    assert {osp.basename(p) for p in glob.glob(osp.join(CONFIG_DIR, '*.py'))} == \
        set(FULL) | set(TOYS)


@pytest.mark.parametrize('name', sorted(FULL))
def test_full_size_recipe_and_head_build(name):
    num_classes, crop, wd, iters, batch = FULL[name]
    cfg = parsed_config(osp.join(CONFIG_DIR, name))
    optim = cfg.optim_wrapper
    assert optim.optimizer.type == 'AdamW' and optim.optimizer.lr == 2e-5
    assert optim.optimizer.weight_decay == wd
    assert optim.paramwise_cfg.custom_keys == {'decode_head': dict(lr_mult=10.0)}
    assert optim.paramwise_cfg.norm_decay_mult == 0.0
    assert optim.clip_grad == dict(max_norm=35, norm_type=2)
    warmup, poly = cfg.param_scheduler
    assert (warmup.type, warmup.end, poly.type, poly.power, poly.eta_min, poly.end) == \
        ('LinearLR', 1500, 'PolyLR', 1.0, 0.0, iters)
    assert cfg.train_cfg.max_iters == iters and cfg.train_dataloader.batch_size == batch
    assert cfg.model.data_preprocessor.mean == cfg.model.data_preprocessor.std == [127.5] * 3
    assert tuple(cfg.model.data_preprocessor.size) == (crop, crop)
    assert tuple(cfg.model.test_cfg.crop_size) == (crop, crop)
    backbone = cfg.model.backbone
    assert not backbone.with_cls_token and not backbone.final_norm
    assert tuple(backbone.img_size) == (crop, crop)
    head = cfg.model.decode_head
    assert head.num_classes == num_classes
    init_default_scope('mmseg')
    built = MODELS.build(head)  # the full model is built by the slow test below
    assert built.num_classes == num_classes
    # The official widths (half the backbone's), derived by the head from in_channels.
    if 'vit-b16' in name:
        assert backbone.out_indices == (5, 7, 11) and built.channels == 384
    elif 'shrunk' in name:
        assert backbone.out_indices == (7, 23) and backbone.shrink_index == 8
        assert built.channels == 512
        assert tuple(built.upsampler.grid.shape[-2:]) == (crop // 16, crop // 16)
    else:
        assert backbone.out_indices == (7, 15, 23) and built.channels == 512
        assert backbone.drop_path_rate == 0.3


@pytest.mark.slow
@pytest.mark.parametrize('name', sorted(FULL))
def test_full_size_models_build(name):
    cfg = parsed_config(osp.join(CONFIG_DIR, name))
    cfg.model.pretrained = None
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert frozen == ['backbone.cls_token']  # the no-CLS ViT's unused token only


@pytest.mark.parametrize('name', TOYS)
def test_toy_config_differs_from_segmenter_only_in_model_part(name):
    ours, theirs = parsed_config(osp.join(CONFIG_DIR, name)), parsed_config(SEGMENTER_TOY)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader', 'optim_wrapper',
                'param_scheduler', 'train_cfg', 'randomness', 'tta_pipeline', 'tta_model'):
        assert ours[key] == theirs[key], key
    assert ours.model.data_preprocessor == theirs.model.data_preprocessor
    assert ours.model.test_cfg == theirs.model.test_cfg
    # The backbone is the shared toy ViT (CLS token, final LN, all trainable).
    mine, shared = ours.model.backbone, theirs.model.backbone
    for key in ('img_size', 'patch_size', 'embed_dims', 'num_layers', 'num_heads',
                'with_cls_token', 'final_norm', 'drop_path_rate'):
        assert mine[key] == shared[key], key
    assert mine.get('frozen_exclude', ['all']) == ['all']
    init_default_scope('mmseg')
    model = MODELS.build(ours.model)
    assert all(p.requires_grad for p in model.parameters())


def train_then_test(name, data_root, work, tta_only):
    config = osp.join(CONFIG_DIR, name)
    # Training runs validation (ss, slide windows) at its last iteration.
    train = run_tool([PYTHON, 'tools/train.py', config, '--work-dir', osp.join(work, 'train'),
                      '--cfg-options', *fast_cfg_options(data_root, iters=2)], fork=True)
    assert len(logged_mious(train.stdout + train.stderr)) == 1  # one validation, at iteration 2
    checkpoint = osp.join(work, 'train', 'iter_2.pth')
    assert osp.isfile(checkpoint)
    for extra in ([['--tta']] if tta_only else [[], ['--tta']]):
        out = run_tool([PYTHON, 'tools/test.py', config, checkpoint, '--work-dir',
                        osp.join(work, f'test{len(extra)}'), *extra, '--cfg-options',
                        *fast_cfg_options(data_root)], fork=True)
        assert len(logged_mious(out.stdout + out.stderr)) == 1


def test_atm_toy_trains_and_tests_with_tta(tiny_toy_root, tmp_path):
    """tools/train.py (2 steps + ss validation), then tools/test.py --tta."""
    train_then_test(TOYS[0], tiny_toy_root, str(tmp_path), tta_only=True)


@pytest.mark.slow
@pytest.mark.parametrize('name', TOYS)
def test_toy_trains_tests_and_tta(name, tiny_toy_root, tmp_path):
    train_then_test(name, tiny_toy_root, str(tmp_path), tta_only=False)
