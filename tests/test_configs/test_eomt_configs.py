"""EoMT configs: the official recipe and targets, and a forward pass offline at tiny sizes.

The ViT-L leaves are built with their own settings but a 6-block, 64-wide encoder and
no weights (no download), then run forward on a non-square input; the toy leaf is built
as it is.
"""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from conftest import REPO

EOMT = osp.join(REPO, 'configs', 'eomt')
LEAVES = {
    'eomt_dinov2-l16_4xb4-39k_ade20k-512x512.py': dict(
        target='58.4', classes=150, iters=39153, lr=1e-4, decay=0.8, warmup=(500, 1000),
        starts=[6520, 13040, 19560, 26080], ends=[13040, 19560, 26080, 32600]),
    'eomt_dinov3-l16_4xb4-20k_ade20k-512x512.py': dict(
        target='59.5', classes=150, iters=20208, lr=2e-4, decay=1.0, warmup=(2000, 3000),
        starts=[0, 6520, 9780, 13040], ends=[3000, 9780, 13040, 16300]),
    'eomt_dinov2-l16_4xb4-20k_cityscapes-1024x1024.py': dict(
        target='84.2', classes=19, iters=19795, lr=1e-4, decay=0.8, warmup=(500, 1000),
        starts=[3317, 6634, 9951, 13268], ends=[6634, 9951, 13268, 16585]),
}


@pytest.mark.parametrize('name', list(LEAVES))
def test_official_recipe_and_target(name):
    expected = LEAVES[name]
    path = osp.join(EOMT, name)
    assert f'{expected["target"]} mIoU' in open(path).read()
    cfg = Config.fromfile(path)
    assert cfg.model.type == 'EoMTEncoderDecoder'
    assert cfg.model.backbone.type == 'EoMTTimmViT'
    assert (cfg.model.backbone.num_queries, cfg.model.backbone.num_blocks) == (100, 4)
    assert cfg.model.backbone.drop_path_rate == 0.0
    head = cfg.model.decode_head
    assert head.num_classes == expected['classes'] and head.patch_size == 16
    loss = head.loss_decode
    assert (loss.class_weight, loss.mask_weight, loss.dice_weight, loss.no_object_weight,
            loss.num_points, loss.oversample_ratio, loss.importance_sample_ratio) == (
        2.0, 5.0, 5.0, 0.1, 12544, 3.0, 0.75)
    optim = cfg.optim_wrapper
    assert optim.optimizer.lr == expected['lr'] and optim.optimizer.weight_decay == 0.05
    assert optim.paramwise_cfg.decay_rate == expected['decay']
    assert optim.clip_grad.max_norm == 0.01
    scheduler, = cfg.param_scheduler
    assert scheduler.type == 'TwoStageWarmupPolyLR'
    assert scheduler.total_iters == cfg.train_cfg.max_iters == expected['iters']
    assert tuple(scheduler.warmup_iters) == expected['warmup']
    hook = [h for h in cfg.custom_hooks if h.type == 'EoMTMaskAnnealingHook']
    assert hook and hook[0].start_iters == expected['starts']
    assert hook[0].end_iters == expected['ends']
    assert {h.type for h in cfg.custom_hooks} >= {'SegDataCheckHook'}
    assert cfg.train_dataloader.batch_size * 4 == 16  # 4 GPUs x 4, the official 16


@pytest.mark.parametrize('name', list(LEAVES) + ['eomt_vit-toy_1xb8-2k_toy-64x64.py'])
def test_builds_and_runs_forward_offline(name):
    cfg = Config.fromfile(osp.join(EOMT, name))
    init_default_scope('mmseg')
    backbone = cfg.model.backbone
    if backbone.type == 'EoMTTimmViT':  # ViT-L -> 6 blocks of width 64, no weights
        backbone.update(pretrained=False, img_size=(64, 96), model_kwargs=dict(
            backbone.get('model_kwargs') or {}, embed_dim=64, depth=6, num_heads=2))
        cfg.model.decode_head.in_channels = 64
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    build_optim_wrapper(model, cfg.optim_wrapper)
    model.eval()
    with torch.no_grad():
        scores = model.encode_decode(torch.randn(1, 3, 64, 96), [dict(img_shape=(64, 96))])
    assert scores.shape == (1, cfg.model.decode_head.num_classes, 64, 96)
    assert torch.isfinite(scores).all()
