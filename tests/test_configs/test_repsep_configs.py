"""Representation-separation configs: build, ablations differ in one line, toy run."""
import difflib
import glob
import os.path as osp
import re

import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmseg.registry import DATASETS, MODELS

from conftest import (PYTHON, REPO, TOY_CONFIG, fast_cfg_options, logged_mious, parsed_config,
                      run_tool)

CONFIG_DIR = osp.join(REPO, 'configs', 'repsep')
TOY = osp.join(CONFIG_DIR, 'repsep_vit-toy_1xb8-2k_toy-64x64.py')
ABLATIONS = sorted(glob.glob(osp.join(CONFIG_DIR, 'repsep-ablation-*_vit-toy_*.py')))
FULL = {
    'repsep_vit-l16_8xb2-160k_ade20k-640x640.py': ('ADE20KDataset', 150, 640, 24),
    'repsep_vit-b16_8xb2-160k_ade20k-512x512.py': ('ADE20KDataset', 150, 512, 12),
    'repsep_vit-l16_8xb2-80k_cityscapes-768x768.py': ('CityscapesDataset', 19, 768, 24),
    'repsep_vit-l16_8xb2-80k_pascal-context-59-480x480.py': ('PascalContextDataset59', 59, 480, 24),
    'repsep_vit-l16_8xb2-80k_pascal-context-480x480.py': ('PascalContextDataset', 60, 480, 24),
}


@pytest.fixture(autouse=True)
def _mmseg_scope():
    with DefaultScope.overwrite_default_scope('mmseg'):
        yield


def build(path: str, seed: int = 0):
    torch.manual_seed(seed)
    model = MODELS.build(parsed_config(path).model)
    model.init_weights()
    return model


def code_lines(path: str) -> list[str]:
    """The config's non-comment lines."""
    with open(path) as f:
        return [line.rstrip() for line in f if line.strip() and not line.lstrip().startswith('#')]


def test_four_cumulative_ablations_differ_in_one_line_each():
    names = [osp.basename(p) for p in ABLATIONS]
    assert [n.split('_')[0] for n in names] == [
        'repsep-ablation-0-baseline', 'repsep-ablation-1-two-pathway', 'repsep-ablation-2-sasm',
        'repsep-ablation-3-dca']
    for before, after in zip(ABLATIONS, ABLATIONS[1:]):
        a, b = code_lines(before), code_lines(after)
        edits = [(tag, a[i1:i2], b[j1:j2]) for tag, i1, i2, j1, j2 in
                 difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
                 if tag != 'equal']
        # One line changed (a switch), or added (ablation 1: the two-pathway type).
        assert len(edits) == 1, (before, after, edits)
        tag, old, new = edits[0]
        assert (tag, len(old), len(new)) in (('replace', 1, 1), ('insert', 0, 1)), edits
    # The last ablation is the full toy config.
    assert parsed_config(ABLATIONS[-1]).model == parsed_config(TOY).model


def test_toy_configs_share_segmenters_bases_except_the_model():
    def bases(path):
        match = re.search(r'_base_ = \[(.*?)\]', open(path).read(), re.S)
        return [b.strip().strip("'") for b in match.group(1).split(',') if b.strip()]

    reference = bases(TOY_CONFIG)
    assert reference[:2] == ['../_base_/backbones/vit-toy.py',
                             '../_base_/decoders/segmenter-mask.py']
    for path in ABLATIONS + [TOY]:
        ours = bases(path)
        # The same toy ViT part (the two-pathway type is a leaf line, from
        # ablation 1 on), dataset, schedule and runtime; the decoder part is
        # repsep's (the baseline turns SASM and DCA off: Segmenter's head).
        assert ours[:1] + ours[2:] == reference[:1] + reference[2:], path
        assert ours[1] == '../_base_/decoders/repsep.py', path
        cfg, seg = parsed_config(path), parsed_config(TOY_CONFIG)
        for key in ('train_dataloader', 'val_dataloader', 'optim_wrapper', 'param_scheduler',
                    'train_cfg', 'randomness'):
            assert cfg[key] == seg[key], (path, key)


def test_baseline_is_segmenter_parameter_for_parameter():
    ours = build(ABLATIONS[0]).state_dict()
    segmenter = build(TOY_CONFIG).state_dict()
    assert ours.keys() == segmenter.keys()
    assert all(torch.equal(ours[k], segmenter[k]) for k in ours)


def test_toy_switches_take_effect():
    models = [build(p) for p in ABLATIONS]
    assert type(models[0].backbone).__name__ == 'FusedVisionTransformer'
    assert all(type(m.backbone).__name__ == 'TwoPathwayVisionTransformer' for m in models[1:])
    assert [m.decode_head.with_sasm for m in models] == [False, False, True, True]
    assert [m.decode_head.with_dca for m in models] == [False, False, False, True]
    x = torch.randn(2, 3, 64, 48)
    for model in models:
        model.eval()
        assert model._forward(x).shape == (2, 8, 8, 6)


@pytest.mark.parametrize('name', sorted(FULL))
def test_full_size_configs_are_consistent(name):
    dataset, num_classes, crop, depth = FULL[name]
    cfg = parsed_config(osp.join(CONFIG_DIR, name))
    assert cfg.train_dataloader.dataset.type == dataset
    assert len(DATASETS.get(dataset).METAINFO['classes']) == num_classes
    head, backbone = cfg.model.decode_head, cfg.model.backbone
    assert head.num_classes == num_classes and head.with_sasm and head.with_dca
    assert backbone.type == 'TwoPathwayVisionTransformer' and backbone.num_layers == depth
    # The head works at the backbone width (Segmenter's rule; derived, checked
    # on the shrunk build below).
    assert head.in_channels == head.get('embed_dims', head.in_channels) == backbone.embed_dims
    assert cfg.model.data_preprocessor.size == (crop, crop) == tuple(backbone.img_size)
    assert cfg.model.test_cfg.mode == 'slide' and cfg.model.test_cfg.crop_size == (crop, crop)
    size = 'large' if depth == 24 else 'base'
    assert cfg.model.pretrained == f'data/pretrain/vit_{size}_patch16_384.augreg_in21k_ft_in1k.pth'
    assert cfg.train_dataloader.batch_size == 2
    assert cfg.optim_wrapper.constructor == 'ViTLayerDecayOptimWrapperConstructor'
    # Shrunk build: the config's plumbing (registry types, arguments) works.
    cfg.model.pretrained = None
    cfg.model.backbone.update(embed_dims=128, num_layers=4, num_heads=2, img_size=(64, 64))
    cfg.model.decode_head.update(in_channels=128)
    model = MODELS.build(cfg.model)
    assert len(model.backbone.local_pathway.blocks) == 4
    # Widths derived from in_channels: embed_dims = channels = 128, 128 // 64 heads.
    decoder = model.decode_head
    assert decoder.cls_emb.shape == (1, num_classes, 128) and decoder.channels == 128
    assert decoder.layers[0].attn.attn.num_heads == 2
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    assert len(wrapper.optimizer.param_groups) == 12


@pytest.mark.slow
@pytest.mark.parametrize('name', sorted(FULL))
def test_full_size_configs_build_and_run(name):
    cfg = parsed_config(osp.join(CONFIG_DIR, name))
    cfg.model.pretrained = None
    model = MODELS.build(cfg.model)
    model.eval()
    with torch.no_grad():
        out = model._forward(torch.randn(1, 3, 48, 80))  # non-square, smaller than the crop
    assert out.shape == (1, FULL[name][1], 3, 5)


def test_toy_train_step_and_val_step_in_process():
    """One optimiser step of the full toy model through the data preprocessor,
    then inference on a non-square image: what the runner does, in-process."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    cfg = parsed_config(TOY)
    model = build(TOY)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)

    def sample(height, width):
        data = SegDataSample(gt_sem_seg=PixelData(data=torch.randint(0, 8, (1, height, width))))
        data.set_metainfo(dict(img_shape=(height, width), ori_shape=(height, width)))
        return data

    batch = dict(inputs=[torch.randint(0, 256, (3, 64, 64), dtype=torch.uint8) for _ in range(2)],
                 data_samples=[sample(64, 64) for _ in range(2)])
    model.train()
    before = [p.detach().clone() for p in model.parameters()]
    log = model.train_step(batch, wrapper)
    assert {'decode.loss_ce', 'decode.loss_dca_attn', 'decode.loss_dca_region'} <= set(log)
    unchanged = [n for (n, p), b in zip(model.named_parameters(), before) if torch.equal(p, b)]
    assert unchanged == []
    model.eval()
    val = dict(inputs=[torch.randint(0, 256, (3, 72, 112), dtype=torch.uint8)],
               data_samples=[sample(72, 112)])
    result = model.val_step(val)[0]
    assert result.pred_sem_seg.data.shape == (1, 72, 112)


def test_full_toy_model_every_parameter_gets_a_gradient():
    """Two-pathway backbone + SASM + DCA (all switches on), training mode."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    model = build(TOY)
    model.train()
    samples = []
    for _ in range(2):
        data = SegDataSample(gt_sem_seg=PixelData(data=torch.randint(0, 8, (1, 64, 64))))
        data.set_metainfo(dict(img_shape=(64, 64), ori_shape=(64, 64), pad_shape=(64, 64)))
        samples.append(data)
    losses = model.loss(torch.randn(2, 3, 64, 64), samples)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


@pytest.mark.slow
def test_toy_config_trains_and_validates(tiny_toy_root, tmp_path):
    proc = run_tool([PYTHON, 'tools/train.py', TOY, '--work-dir', str(tmp_path), '--cfg-options',
                     *fast_cfg_options(tiny_toy_root, iters=2)])
    log = proc.stdout + proc.stderr
    assert 'decode.loss_dca_attn' in log and 'decode.loss_dca_region' in log
    assert len(logged_mious(log)) == 1  # the validation at the last (second) iteration
