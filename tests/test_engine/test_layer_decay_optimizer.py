"""Layer-wise lr decay for mmseg's VisionTransformer (and the two-pathway wrapper)."""
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmseg.registry import MODELS
from torch import nn

from depict.engine.optimizers import vit_layer_id

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOY = osp.join(REPO, 'configs', 'repsep', 'repsep_vit-toy_1xb8-2k_toy-64x64.py')


@pytest.fixture(autouse=True)
def _mmseg_scope():
    with DefaultScope.overwrite_default_scope('mmseg'):
        yield


def toy_model():
    cfg = Config.fromfile(TOY)
    return MODELS.build(cfg.model)


def lld_wrapper(model, **paramwise):
    return build_optim_wrapper(model, dict(
        type='OptimWrapper', constructor='ViTLayerDecayOptimWrapperConstructor',
        optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
        paramwise_cfg=dict(decay_rate=0.5, **paramwise)))


def test_vit_layer_ids():
    assert vit_layer_id('backbone.pos_embed', 4) == 0
    assert vit_layer_id('backbone.patch_embed.projection.weight', 4) == 0
    assert vit_layer_id('backbone.layers.0.ln1.weight', 4) == 1
    assert vit_layer_id('backbone.layers.3.attn.attn.in_proj_weight', 4) == 4
    assert vit_layer_id('backbone.ln1.weight', 4) == 5
    assert vit_layer_id('backbone.local_pathway.blocks.0.fc1.weight', 4) == 5
    assert vit_layer_id('decode_head.cls_emb', 4) == 5


def test_groups_lr_and_weight_decay():
    model = toy_model()
    optimizer = lld_wrapper(model).optimizer
    by_name = {}
    for group in optimizer.param_groups:
        for name in group['param_names']:
            by_name[name] = group
    assert set(by_name) == {n for n, p in model.named_parameters() if p.requires_grad}
    # lr = 1e-3 * 0.5 ** (4 + 1 - id)
    assert by_name['backbone.pos_embed']['lr'] == pytest.approx(1e-3 * 0.5**5)
    assert by_name['backbone.layers.1.ffn.layers.1.weight']['lr'] == pytest.approx(1e-3 * 0.5**3)
    for top in ('backbone.local_pathway.blocks.0.fc1.weight', 'backbone.ln1.weight',
                'decode_head.dca_layers.0.attn.q_proj.weight', 'decode_head.region_proj.0.weight'):
        assert by_name[top]['lr'] == pytest.approx(1e-3), top
    for no_decay in ('backbone.pos_embed', 'backbone.cls_token', 'decode_head.cls_emb',
                     'backbone.layers.0.ln1.weight', 'backbone.layers.0.ffn.layers.1.bias',
                     'decode_head.sasm.scale'):
        assert by_name[no_decay]['weight_decay'] == 0.0, no_decay
    assert by_name['backbone.layers.0.ffn.layers.1.weight']['weight_decay'] == 0.05


def test_num_layers_is_inferred_or_required():
    class NoViT(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(2, 2)

    with pytest.raises(ValueError, match='num_layers'):
        lld_wrapper(NoViT())
    groups = lld_wrapper(NoViT(), num_layers=2).optimizer.param_groups
    assert all(g['lr'] == pytest.approx(1e-3) for g in groups)
    with pytest.raises(KeyError, match='decay_rate'):
        build_optim_wrapper(NoViT(), dict(
            type='OptimWrapper', constructor='ViTLayerDecayOptimWrapperConstructor',
            optimizer=dict(type='AdamW', lr=1e-3), paramwise_cfg=dict(num_layers=2)))


def test_mmseg_constructor_rejects_vision_transformer():
    """Why we ship our own: mmseg 1.2.2's constructor only accepts BEiT/MAE/ConvNeXt."""
    with pytest.raises(NotImplementedError):
        build_optim_wrapper(toy_model(), dict(
            type='OptimWrapper', constructor='LearningRateDecayOptimizerConstructor',
            optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
            paramwise_cfg=dict(num_layers=4, decay_rate=0.9)))


def test_schedulers_keep_the_per_layer_ratios():
    from mmengine.optim.scheduler import LinearLR, PolyLR
    wrapper = lld_wrapper(toy_model())
    initial = [g['lr'] for g in wrapper.optimizer.param_groups]
    assert len({round(v, 12) for v in initial}) == 6  # ids 0..5 of a 4-layer ViT
    warmup = LinearLR(wrapper, start_factor=0.1, by_epoch=False, begin=0, end=10)
    poly = PolyLR(wrapper, eta_min=0.0, power=1.0, by_epoch=False, begin=10, end=20)
    for lr, start in zip((g['lr'] for g in wrapper.optimizer.param_groups), initial):
        assert lr == pytest.approx(0.1 * start)
    for _ in range(15):  # as the runner does: every scheduler steps every iteration
        warmup.step()
        poly.step()
    ratios = [g['lr'] / start for g, start in zip(wrapper.optimizer.param_groups, initial)]
    assert max(ratios) == pytest.approx(min(ratios)) and 0 < ratios[0] < 1
