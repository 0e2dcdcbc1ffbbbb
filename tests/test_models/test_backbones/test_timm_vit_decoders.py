"""Every decoder of the project end to end on tiny timm ViTs (random weights).

Each toy config's segmentor is rebuilt with its backbone swapped for a
:class:`TimmViT` of the toy width (64) and depth (4), reading the same blocks;
``loss`` runs on real :class:`SegDataSample` labels and must give finite
losses with a gradient into the first transformer block, and ``predict`` must
return a label map of the input size (a non-square, non-multiple window).
"""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
TOY = {
    'segmenter': 'configs/segmenter/segmenter-mask_vit-toy_1xb8-2k_toy-64x64.py',
    'depict-sa': 'configs/depict/depict-sa_vit-toy_1xb8-2k_toy-64x64.py',
    'depict-ca': 'configs/depict/depict-ca_vit-toy_1xb8-2k_toy-64x64.py',
    'atm': 'configs/segvit/segvit_vit-toy_1xb8-2k_toy-64x64.py',
    'atm-shrunk-head': 'configs/segvit/segvit-shrunk_vit-toy_1xb8-2k_toy-64x64.py',
    'repsep': 'configs/repsep/repsep_vit-toy_1xb8-2k_toy-64x64.py',
}
#: timm architectures (tiny) and their patch size.
TIMM = {
    'augreg': ('vit_base_patch16_224', 8),
    'dinov2-reg4': ('vit_small_patch14_reg4_dinov2', 7),
    'eva02': ('eva02_tiny_patch14_224', 7),
}


@pytest.fixture(autouse=True)
def _mmseg_scope():
    with DefaultScope.overwrite_default_scope('mmseg'):
        yield


def timm_backbone(name: str, patch: int, out_indices=(1, 2, 3), final_norm=True) -> dict:
    return dict(type='TimmViT', model_name=name, img_size=(64, 64), out_indices=out_indices,
                final_norm=final_norm, drop_path_rate=0.1,
                model_kwargs=dict(embed_dim=64, depth=4, num_heads=2, patch_size=patch))


def build(decoder: str, arch: str):
    cfg = Config.fromfile(osp.join(REPO, TOY[decoder]))
    name, patch = TIMM[arch]
    # The blocks the toy config reads (Shrunk's head: early 1, late 3; the QD of
    # the Shrunk ViT is a backbone feature, not available on timm models).
    out_indices = tuple(cfg.model.backbone.out_indices)
    cfg.model.backbone = timm_backbone(name, patch, out_indices)
    if decoder == 'atm-shrunk-head':
        cfg.model.decode_head.query_grid = (64 // patch, 64 // patch)
    return MODELS.build(cfg.model)


def samples(batch: int, shape: tuple[int, int], classes: int = 8):
    out = []
    generator = torch.Generator().manual_seed(0)
    for _ in range(batch):
        # Scene-like labels: 4x4 blocks of random classes, some ignored pixels.
        blocks = torch.randint(0, classes, (1, 4, 4), generator=generator)
        label = torch.nn.functional.interpolate(blocks[None].float(), size=shape,
                                                mode='nearest')[0].long()
        label[:, :2] = 255
        sample = SegDataSample(gt_sem_seg=PixelData(data=label))
        sample.set_metainfo(dict(img_shape=shape, ori_shape=shape, pad_shape=shape))
        out.append(sample)
    return out


@pytest.mark.parametrize('arch', list(TIMM))
@pytest.mark.parametrize('decoder', list(TOY))
def test_decoder_trains_and_predicts_on_timm_vit(decoder, arch):
    torch.manual_seed(0)
    model = build(decoder, arch)
    model.init_weights()
    model.train()
    shape = (64, 64)
    losses = model.loss(torch.randn(2, 3, *shape), samples(2, shape))
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    first = model.backbone.model.blocks[0].attn.proj.weight.grad
    assert first is not None and first.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        # A non-square window that is not a multiple of the patch (padded).
        (pred, ) = model.predict(torch.randn(1, 3, 50, 77), samples(1, (50, 77)))
    assert pred.pred_sem_seg.data.shape == (1, 50, 77)
    assert pred.seg_logits.data.shape == (8, 50, 77)


def test_layer_decay_groups_timm_blocks():
    """ViTLayerDecayOptimWrapperConstructor reads TimmViT's names: embeddings and
    register tokens at depth 0, block i at i+1, the final norm and the head on top."""
    model = build('depict-sa', 'dinov2-reg4')
    wrapper = build_optim_wrapper(model, dict(
        type='OptimWrapper', constructor='ViTLayerDecayOptimWrapperConstructor',
        optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
        paramwise_cfg=dict(decay_rate=0.5)))
    by_name = {name: group for group in wrapper.optimizer.param_groups
               for name in group['param_names']}
    assert set(by_name) == {n for n, p in model.named_parameters() if p.requires_grad}
    lr = {name: group['lr'] for name, group in by_name.items()}
    assert lr['backbone.model.pos_embed'] == pytest.approx(1e-3 * 0.5**5)
    assert lr['backbone.model.reg_token'] == pytest.approx(1e-3 * 0.5**5)
    assert lr['backbone.model.patch_embed.proj.weight'] == pytest.approx(1e-3 * 0.5**5)
    assert lr['backbone.model.blocks.0.attn.qkv.weight'] == pytest.approx(1e-3 * 0.5**4)
    assert lr['backbone.model.blocks.3.mlp.fc2.weight'] == pytest.approx(1e-3 * 0.5**1)
    assert lr['backbone.norm.weight'] == pytest.approx(1e-3)
    for no_decay in ('backbone.model.pos_embed', 'backbone.model.cls_token',
                     'backbone.model.reg_token', 'backbone.model.blocks.0.ls1.gamma'):
        assert by_name[no_decay]['weight_decay'] == 0.0, no_decay
    assert by_name['backbone.model.blocks.0.attn.qkv.weight']['weight_decay'] == 0.05
