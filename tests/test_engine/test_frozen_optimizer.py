"""Frozen parameters stay out of the optimizer (TrainableOptimWrapperConstructor
and ViTLayerDecayOptimWrapperConstructor), get no gradient and do not move."""
import logging

import pytest
import torch
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from torch import nn

from depict.models.backbones import TimmViT


@pytest.fixture(autouse=True)
def _mmseg_scope():
    with DefaultScope.overwrite_default_scope('mmseg'):
        yield


class Segmentor(nn.Module):
    """A frozen-stage TimmViT and a head, under mmseg's segmentor names."""

    def __init__(self, frozen_stages: int):
        super().__init__()
        self.backbone = TimmViT(model_name='vit_small_patch14_reg4_dinov2', img_size=56,
                                out_indices=(3, ), frozen_stages=frozen_stages,
                                drop_path_rate=0.1,
                                model_kwargs=dict(embed_dim=32, depth=4, num_heads=2))
        self.decode_head = nn.Sequential(nn.Conv2d(32, 16, 1), nn.BatchNorm2d(16),
                                         nn.Conv2d(16, 3, 1))

    def loss(self, x):
        return self.decode_head(self.backbone(x)[0]).square().mean()


WRAPPERS = {
    'trainable': dict(constructor='TrainableOptimWrapperConstructor'),
    'trainable-paramwise': dict(constructor='TrainableOptimWrapperConstructor',
                                paramwise_cfg=dict(norm_decay_mult=0.0,
                                                   custom_keys={'pos_embed': dict(
                                                       decay_mult=0.0)})),
    'layer-decay': dict(constructor='ViTLayerDecayOptimWrapperConstructor',
                        paramwise_cfg=dict(decay_rate=0.9)),
}


def optimizer_params(wrapper):
    return [p for group in wrapper.optimizer.param_groups for p in group['params']]


@pytest.mark.parametrize('wrapper', list(WRAPPERS))
@pytest.mark.parametrize('frozen_stages', [0, 2, 4])
def test_optimizer_holds_no_frozen_parameter_and_they_do_not_move(wrapper, frozen_stages):
    torch.manual_seed(0)
    model = Segmentor(frozen_stages).train()
    optim = build_optim_wrapper(model, dict(
        type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-2, weight_decay=0.05),
        **WRAPPERS[wrapper]))
    held = {id(p) for p in optimizer_params(optim)}
    assert len(held) == len(optimizer_params(optim))  # each parameter once
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert frozen and trainable
    by_id = {id(p): n for n, p in model.named_parameters()}
    assert {by_id[i] for i in held} == trainable
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optim.update_params(model.loss(torch.randn(2, 3, 28, 42)))
    for name, param in model.named_parameters():
        if name in frozen:
            assert param.grad is None, name
            torch.testing.assert_close(param, before[name], rtol=0, atol=0)
        else:
            assert not torch.equal(param, before[name]), name
    # The optimizer state (AdamW moments) exists for trainable parameters only.
    assert {by_id[id(p)] for p in optim.optimizer.state} == trainable


def test_nothing_frozen_is_mmengine_default():
    """Without frozen parameters the constructor builds mmengine's optimizer."""
    torch.manual_seed(0)
    model = Segmentor(-1)
    cfg = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1, momentum=0.9))
    ours = build_optim_wrapper(model, dict(cfg, constructor='TrainableOptimWrapperConstructor'))
    default = build_optim_wrapper(model, cfg)
    assert len(ours.optimizer.param_groups) == len(default.optimizer.param_groups) == 1
    assert [id(p) for p in optimizer_params(ours)] == [id(p) for p in optimizer_params(default)]
    assert {k: v for k, v in ours.optimizer.defaults.items()} == default.optimizer.defaults


class _Records(logging.Handler):

    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.mark.parametrize('wrapper', list(WRAPPERS))
def test_one_summary_line_instead_of_a_warning_per_frozen_tensor(wrapper):
    model = Segmentor(4)
    logger = MMLogger.get_current_instance()
    records = _Records()
    logger.addHandler(records)
    try:
        build_optim_wrapper(model, dict(type='OptimWrapper',
                                        optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
                                        **WRAPPERS[wrapper]))
    finally:
        logger.removeHandler(records)
    frozen = sum(not p.requires_grad for p in model.parameters())
    assert not any('is skipped since its requires_grad=False' in m for m in records.messages)
    summary = [m for m in records.messages if 'left out of the optimizer' in m]
    assert len(summary) == 1 and summary[0].startswith(f'{frozen} frozen parameter tensors')
