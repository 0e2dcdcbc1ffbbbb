"""Masked-pretrained ViTs (mmseg's BEiT / MAE) under every decoder, and the
two-pathway BEiT / MAE of the representation-separation reconstruction."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmseg.models.backbones import BEiT, MAE
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from depict.models.backbones import TwoPathwayBEiT, TwoPathwayMAE

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
TINY = dict(img_size=(64, 64), patch_size=8, embed_dims=64, num_layers=4, num_heads=2,
            norm_cfg=dict(type='LN', eps=1e-6))
TOY = {
    'segmenter': 'configs/segmenter/segmenter-mask_vit-toy_1xb8-2k_toy-64x64.py',
    'depict-sa': 'configs/depict/depict-sa_vit-toy_1xb8-2k_toy-64x64.py',
    'depict-ca': 'configs/depict/depict-ca_vit-toy_1xb8-2k_toy-64x64.py',
    'atm': 'configs/segvit/segvit_vit-toy_1xb8-2k_toy-64x64.py',
    'atm-shrunk-head': 'configs/segvit/segvit-shrunk_vit-toy_1xb8-2k_toy-64x64.py',
    'repsep': 'configs/repsep/repsep_vit-toy_1xb8-2k_toy-64x64.py',
}


def samples(batch: int, shape: tuple[int, int], classes: int = 8):
    """Data samples with 4x4 blocks of random classes and an ignored top band."""
    out = []
    generator = torch.Generator().manual_seed(0)
    for _ in range(batch):
        blocks = torch.randint(0, classes, (1, 1, 4, 4), generator=generator).float()
        label = torch.nn.functional.interpolate(blocks, size=shape, mode='nearest')[0].long()
        label[:, :2] = 255
        sample = SegDataSample(gt_sem_seg=PixelData(data=label))
        sample.set_metainfo(dict(img_shape=shape, ori_shape=shape, pad_shape=shape))
        out.append(sample)
    return out


@pytest.fixture(autouse=True)
def _mmseg_scope():
    with DefaultScope.overwrite_default_scope('mmseg'):
        yield


def masked_backbone(kind: str, out_indices, decoder: str) -> dict:
    # DEPICT / Segmenter / repsep read the normalised last layer; ATM reads raw layers.
    final_norm = not decoder.startswith('atm')
    cfg = dict(TINY, out_indices=out_indices, final_norm=final_norm, drop_path_rate=0.1)
    if kind == 'beit':
        return dict(cfg, type='BEiT', init_values=0.1)
    if kind == 'mae':
        return dict(cfg, type='MAE', init_values=1.0)
    if kind == 'two-pathway-mae':
        return dict(cfg, type='TwoPathwayMAE', init_values=1.0, local_channels=16)
    return dict(cfg, type='TwoPathwayBEiT', init_values=0.1, local_channels=16)


def assert_gradients_match_finite_differences(model, x, params):
    """For a fixed random read-out r of the decode head's train-mode outputs
    (tensor mode, float64), autograd's derivative of r along a random direction
    of the parameters equals the central finite difference: the gradient that
    reaches the backbone is the true one (no detached path, no wrong backward)."""
    model.double()
    x = x.double()
    generator = torch.Generator().manual_seed(2)

    def outputs():
        torch.manual_seed(1)  # the same drop-path / dropout masks on every call
        outs = model._forward(x)
        return [t for part in outs for t in part] if isinstance(outs, tuple) else [outs]

    weights = [torch.randn(t.shape, generator=generator, dtype=x.dtype) for t in outputs()]

    def readout():
        return sum((t * w).sum() for t, w in zip(outputs(), weights))

    def step(scale):
        with torch.no_grad():
            for param, direction in zip(params, directions):
                param.add_(scale * direction)

    model.zero_grad()
    readout().backward()
    directions = [torch.randn(p.shape, generator=generator, dtype=x.dtype) for p in params]
    analytic = sum((p.grad * d).sum() for p, d in zip(params, directions))
    eps = 1e-5
    with torch.no_grad():
        step(eps)
        plus = readout()
        step(-2 * eps)
        minus = readout()
        step(eps)
    torch.testing.assert_close(analytic, (plus - minus) / (2 * eps), rtol=1e-5, atol=0)


@pytest.mark.parametrize('kind', ['beit', 'mae', 'two-pathway-beit', 'two-pathway-mae'])
@pytest.mark.parametrize('decoder', list(TOY))
def test_decoder_trains_and_predicts_on_masked_vits(decoder, kind):
    """Every decoder on every masked-pretrained ViT: slide prediction at the
    crop size, a finite training loss whose gradient reaches the first block
    (and the local pathway), and that gradient equal to finite differences."""
    torch.manual_seed(0)
    cfg = Config.fromfile(osp.join(REPO, TOY[decoder]))
    cfg.model.backbone = masked_backbone(kind, tuple(cfg.model.backbone.out_indices), decoder)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.eval()
    with torch.no_grad():
        # BEiT's relative bias / MAE's positions exist for img_size only: slide
        # inference with the 64x64 crop feeds exactly that size.
        (pred, ) = model.predict(torch.randn(1, 3, 80, 100), samples(1, (80, 100)))
    assert pred.pred_sem_seg.data.shape == (1, 80, 100)
    model.train()
    losses = model.loss(torch.randn(2, 3, 64, 64), samples(2, (64, 64)))
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    params = [model.backbone.layers[0].attn.qkv.weight]
    if kind.startswith('two-pathway'):
        params.append(model.backbone.local_pathway.blocks['0'].fc1.weight)
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in params)
    assert_gradients_match_finite_differences(model, torch.randn(1, 3, 64, 64), params)


@pytest.mark.parametrize('cls,plain,extra', [(TwoPathwayBEiT, BEiT, dict(init_values=0.1)),
                                             (TwoPathwayMAE, MAE, dict(init_values=1.0))])
def test_pathway_off_is_the_plain_backbone_and_checkpoints_load(cls, plain, extra):
    cfg = dict(TINY, out_indices=(1, 3), final_norm=True, **extra)
    torch.manual_seed(0)
    ref = plain(**cfg)
    ref.init_weights()
    ref.eval()
    x = torch.randn(2, 3, 64, 64)
    off = cls(with_local_pathway=False, **cfg)
    assert set(off.state_dict()) == set(ref.state_dict())
    off.load_state_dict(ref.state_dict())
    off.eval()
    on = cls(local_channels=16, **cfg)
    missing, unexpected = on.load_state_dict(ref.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith('local_pathway.') for k in missing)
    on.eval()
    with torch.no_grad():
        expected = ref(x)
        for a, b in zip(off(x), expected):
            torch.testing.assert_close(a, b)
        fused = on(x)
    # Output 1 (layer 1) is not fused: unchanged; the deepest gets the pathway.
    assert [o.shape for o in fused] == [o.shape for o in expected]
    torch.testing.assert_close(fused[0], expected[0])
    assert not torch.allclose(fused[1], expected[1])


def test_pathway_gradients_and_checks():
    model = TwoPathwayBEiT(**TINY, out_indices=(3, ), final_norm=True, local_channels=16)
    model.init_weights()
    model.train()
    sum(o.square().mean() for o in model(torch.randn(2, 3, 64, 64))).backward()
    unused = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    # mmseg's BEiT keeps a CLS token that every layer reads: all parameters train.
    assert not unused, unused
    with pytest.raises(ValueError, match='lsb_indices'):
        TwoPathwayBEiT(**TINY, out_indices=(3, ), lsb_indices=(4, ))
    with pytest.raises(ValueError, match='never reach'):
        TwoPathwayBEiT(**TINY, out_indices=(1, 3), fuse_indices=(1, ), lsb_indices=(0, 3))


def test_layer_decay_with_beit():
    """Our constructor is the documented path for BEiT/MAE (mmseg's decays pos_embed
    and cls_token): ids from backbone.layers, no decay on relative position biases."""
    cfg = Config.fromfile(osp.join(REPO, TOY['depict-sa']))
    cfg.model.backbone = masked_backbone('beit', (3, ), 'depict-sa')
    model = MODELS.build(cfg.model)
    wrapper = build_optim_wrapper(model, dict(
        type='OptimWrapper', constructor='ViTLayerDecayOptimWrapperConstructor',
        optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
        paramwise_cfg=dict(decay_rate=0.5)))
    by_name = {name: group for group in wrapper.optimizer.param_groups
               for name in group['param_names']}
    assert by_name['backbone.cls_token']['lr'] == pytest.approx(1e-3 * 0.5**5)
    assert by_name['backbone.layers.0.attn.qkv.weight']['lr'] == pytest.approx(1e-3 * 0.5**4)
    assert by_name['backbone.ln1.weight']['lr'] == pytest.approx(1e-3)
    for name in ('backbone.cls_token', 'backbone.layers.0.attn.relative_position_bias_table',
                 'backbone.layers.0.gamma_1', 'backbone.layers.0.attn.q_bias'):
        assert by_name[name]['weight_decay'] == 0.0, name
