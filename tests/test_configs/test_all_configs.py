"""Every config under configs/ loads and builds: model, pipelines, optimizer.

Weights are allocated on the ``meta`` device: every module and argument is
constructed and checked, without allocating and initialising ViT-L weights,
so the whole zoo builds in seconds.
"""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmseg.registry import DATASETS, MODELS, TRANSFORMS
from torch.overrides import TorchFunctionMode

from conftest import REPO

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


def test_configs_exist():
    assert len(CONFIGS) >= 5


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, osp.join(REPO, 'configs')))
def test_config_builds(path):
    cfg = Config.fromfile(path)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    assert cfg.custom_imports['imports'] == ['depict']
    cfg.model.pretrained = None
    cfg.load_from = None
    # Configs that point a backbone at a checkpoint through init_cfg.
    backbone = cfg.model.get('backbone', {})
    if isinstance(backbone.get('init_cfg'), dict) and backbone['init_cfg'].get('type') == 'Pretrained':
        backbone['init_cfg'] = None
    if backbone.get('type') == 'TimmViT':  # timm loads weights at construction: no download
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
