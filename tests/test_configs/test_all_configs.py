"""Every config under configs/ loads and builds: model, pipelines, optimizer.

Weights are allocated on the ``meta`` device: every module and argument is
constructed and checked, without allocating and initialising ViT-L weights,
so the whole zoo builds in seconds.
"""
import glob
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS, MODELS, TRANSFORMS
from torch.overrides import TorchFunctionMode

from conftest import REPO, parsed_config

CONFIGS = sorted(p for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
                 if '_base_' not in p)


class MetaWeights(TorchFunctionMode):
    """Sends ``torch.empty`` (how nn.Linear/Conv/Norm allocate their weights) to
    the meta device. Unlike ``with torch.device('meta')`` it leaves small helper
    tensors on the CPU (mmseg's ViT calls ``.item()`` on a linspace)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func is torch.empty:
            kwargs['device'] = 'meta'
        return func(*args, **kwargs)


def _pipelines(cfg: Config):
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = cfg.get(loader, {}).get('dataset', {})
        while 'dataset' in dataset:  # dataset wrappers
            dataset = dataset['dataset']
        yield from dataset.get('pipeline', [])
    yield from cfg.get('tta_pipeline', [])


# The paper and toy configs the docs and tests refer to, by name (43).
EXPECTED = [
    'depict/depict-ca_vit-b16_8xb1-160k_ade20k-512x512.py',
    'depict/depict-ca_vit-l16_8xb1-160k_ade20k-640x640.py',
    'depict/depict-ca_vit-l16_8xb1-80k_cityscapes-768x768.py',
    'depict/depict-ca_vit-l16_8xb2-80k_pascal-context-480x480.py',
    'depict/depict-ca_vit-l16_8xb2-80k_pascal-context-59-480x480.py',
    'depict/depict-ca_vit-s16_8xb1-160k_ade20k-512x512.py',
    'depict/depict-ca_vit-t16_8xb1-160k_ade20k-512x512.py',
    'depict/depict-ca_vit-toy_1xb8-2k_toy-64x64.py',
    'depict/depict-sa_vit-b16_8xb1-160k_ade20k-512x512.py',
    'depict/depict-sa_vit-l16_8xb1-160k_ade20k-640x640.py',
    'depict/depict-sa_vit-l16_8xb1-80k_cityscapes-768x768.py',
    'depict/depict-sa_vit-l16_8xb2-80k_pascal-context-480x480.py',
    'depict/depict-sa_vit-l16_8xb2-80k_pascal-context-59-480x480.py',
    'depict/depict-sa_vit-s16_8xb1-160k_ade20k-512x512.py',
    'depict/depict-sa_vit-t16_8xb1-160k_ade20k-512x512.py',
    'depict/depict-sa_vit-toy_1xb8-2k_toy-64x64.py',
    'eomt/eomt_dinov2-l16_4xb4-20k_cityscapes-1024x1024.py',
    'eomt/eomt_dinov2-l16_4xb4-39k_ade20k-512x512.py',
    'eomt/eomt_dinov3-l16_4xb4-20k_ade20k-512x512.py',
    'eomt/eomt_vit-toy_1xb8-2k_toy-64x64.py',
    'repsep/repsep-ablation-0-baseline_vit-toy_1xb8-2k_toy-64x64.py',
    'repsep/repsep-ablation-1-two-pathway_vit-toy_1xb8-2k_toy-64x64.py',
    'repsep/repsep-ablation-2-sasm_vit-toy_1xb8-2k_toy-64x64.py',
    'repsep/repsep-ablation-3-dca_vit-toy_1xb8-2k_toy-64x64.py',
    'repsep/repsep_vit-b16_8xb2-160k_ade20k-512x512.py',
    'repsep/repsep_vit-l16_8xb2-160k_ade20k-640x640.py',
    'repsep/repsep_vit-l16_8xb2-80k_cityscapes-768x768.py',
    'repsep/repsep_vit-l16_8xb2-80k_pascal-context-480x480.py',
    'repsep/repsep_vit-l16_8xb2-80k_pascal-context-59-480x480.py',
    'repsep/repsep_vit-toy_1xb8-2k_toy-64x64.py',
    'segmenter/segmenter-mask_vit-b16_8xb1-160k_ade20k-512x512.py',
    'segmenter/segmenter-mask_vit-l16_8xb1-160k_ade20k-640x640.py',
    'segmenter/segmenter-mask_vit-s16_8xb1-160k_ade20k-512x512.py',
    'segmenter/segmenter-mask_vit-t16_8xb1-160k_ade20k-512x512.py',
    'segmenter/segmenter-mask_vit-toy_1xb8-2k_toy-64x64.py',
    'segvit/segvit-shrunk_vit-l16_8xb2-160k_ade20k-640x640.py',
    'segvit/segvit-shrunk_vit-toy_1xb8-2k_toy-64x64.py',
    'segvit/segvit_vit-b16_8xb2-160k_ade20k-512x512.py',
    'segvit/segvit_vit-l16_4xb4-80k_pascal-context-480x480.py',
    'segvit/segvit_vit-l16_4xb4-80k_pascal-context-59-480x480.py',
    'segvit/segvit_vit-l16_8xb1-80k_cityscapes-768x768.py',
    'segvit/segvit_vit-l16_8xb2-160k_ade20k-640x640.py',
    'segvit/segvit_vit-toy_1xb8-2k_toy-64x64.py',
]


def test_configs_exist():
    # The paper configs; configs/backbones/ and configs/coco_stuff/ (ours, not
    # the papers') are listed by test_backbone_configs.py and resolved / built here too.
    names = [osp.relpath(p, osp.join(REPO, 'configs')) for p in CONFIGS]
    assert [n for n in names if n.split(os.sep)[0] not in ('backbones', 'coco_stuff')] == EXPECTED
    assert len(names) == len(EXPECTED) + 22
    assert len(EXPECTED) == 43


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, osp.join(REPO, 'configs')))
def test_config_builds(path):
    cfg = parsed_config(path)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    assert cfg.custom_imports['imports'] == ['depict']
    cfg.model.pretrained = None
    cfg.load_from = None
    # Configs that point a backbone at a checkpoint through init_cfg.
    backbone = cfg.model.get('backbone', {})
    if isinstance(backbone.get('init_cfg'), dict) and backbone['init_cfg'].get('type') == 'Pretrained':
        backbone['init_cfg'] = None
    # timm loads weights at construction: no download.
    if backbone.get('type') in ('TimmViT', 'EoMTTimmViT'):
        backbone.update(pretrained=False, checkpoint_file=None)
    with MetaWeights():
        model = MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) > 0
    build_optim_wrapper(model, cfg.optim_wrapper)
    for transform in _pipelines(cfg):
        TRANSFORMS.build(transform)
    # The decode head and the dataset agree on the number of classes.
    head = model.decode_head
    dataset_type = cfg.train_dataloader.dataset.get('type')
    classes = DATASETS.get(dataset_type).METAINFO['classes']
    assert head.num_classes == len(classes), (head.num_classes, dataset_type)
