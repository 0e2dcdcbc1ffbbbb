"""Two-pathway network on pyramid ViTs (mmseg's Swin and MiT), tiny sizes:
shapes on odd and non-square inputs, a gradient for every parameter, the plain
backbone with the pathway off, and representation separation's head reading
the fused multi-level outputs."""
import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.models.backbones import MixVisionTransformer, SwinTransformer
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from depict.models.backbones import TwoPathwayMixVisionTransformer, TwoPathwaySwinTransformer

SWIN = dict(embed_dims=16, depths=(1, 1, 1, 1), num_heads=(1, 2, 2, 4), window_size=3,
            out_indices=(0, 1, 2, 3))
MIT = dict(embed_dims=8, num_layers=(1, 1, 1, 1), num_heads=(1, 2, 4, 8),
           sr_ratios=(4, 2, 1, 1), out_indices=(0, 1, 2, 3))
CASES = [(TwoPathwaySwinTransformer, SwinTransformer, SWIN, [16, 32, 64, 128]),
         (TwoPathwayMixVisionTransformer, MixVisionTransformer, MIT, [8, 16, 32, 64])]


@pytest.mark.parametrize('cls,plain,cfg,widths', CASES)
@pytest.mark.parametrize('shape', [(45, 71), (64, 32)])  # odd / non-square
def test_shapes_match_the_plain_backbone(cls, plain, cfg, widths, shape):
    torch.manual_seed(0)
    model = cls(local_channels=8, **cfg)
    model.init_weights()
    model.eval()
    ref = plain(**cfg)
    missing, unexpected = ref.load_state_dict(model.state_dict(), strict=False)
    assert not missing and all(k.startswith('local_pathway.') for k in unexpected)
    ref.eval()
    x = torch.randn(2, 3, *shape)
    with torch.no_grad():
        outs, refs = model(x), ref(x)
    assert [o.shape for o in outs] == [r.shape for r in refs]
    assert [o.shape[1] for o in outs] == widths
    for out, plain_out in zip(outs, refs):  # every stage receives the pathway
        assert not torch.allclose(out, plain_out)


@pytest.mark.parametrize('cls,plain,cfg,widths', CASES)
def test_every_parameter_gets_a_gradient(cls, plain, cfg, widths):
    model = cls(local_channels=8, **cfg)
    model.init_weights()
    model.train()
    sum(o.square().mean() for o in model(torch.randn(2, 3, 45, 71))).backward()
    unused = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not unused, unused


@pytest.mark.parametrize('cls,plain,cfg,widths', CASES)
def test_pathway_off_is_the_plain_backbone(cls, plain, cfg, widths):
    torch.manual_seed(0)
    ref = plain(**cfg)
    ref.init_weights()
    ref.eval()
    off = cls(with_local_pathway=False, **cfg)
    assert set(off.state_dict()) == set(ref.state_dict())
    off.load_state_dict(ref.state_dict())
    off.eval()
    x = torch.randn(1, 3, 45, 71)
    with torch.no_grad():
        for a, b in zip(off(x), ref(x)):
            torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match='fuse_indices'):
        cls(fuse_indices=(5, ), **cfg)


@pytest.mark.parametrize('backbone', ['TwoPathwaySwinTransformer',
                                      'TwoPathwayMixVisionTransformer'])
def test_repsep_head_reads_the_fused_levels(backbone):
    """Multi-level input through mmseg's ``resize_concat``: the 1/8, 1/16, 1/32
    maps resized to 1/8 and concatenated (no head change needed)."""
    init_default_scope('mmseg')
    cfg, widths = (SWIN, [32, 64, 128]) if 'Swin' in backbone else (MIT, [16, 32, 64])
    model = MODELS.build(dict(
        type='EncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[0, 0, 0], std=[1, 1, 1]),
        backbone=dict(type=backbone, local_channels=8, **cfg),
        decode_head=dict(
            type='RepSepHead', in_channels=widths, in_index=(1, 2, 3),
            input_transform='resize_concat', channels=32, embed_dims=32, num_layers=1,
            num_heads=2, num_classes=5, dropout_ratio=0.0, with_sasm=True, with_dca=True,
            region_proj_channels=16,
            loss_dca_attn=dict(type='CrossEntropyLoss', loss_weight=0.4,
                               loss_name='loss_dca_attn'),
            loss_dca_region=dict(type='RegionContrastiveLoss', loss_weight=0.4,
                                 loss_name='loss_dca_region'),
            loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
        train_cfg=dict(), test_cfg=dict(mode='whole')))
    model.init_weights()
    model.train()
    label = torch.randint(0, 5, (1, 4, 4)).repeat_interleave(16, 1).repeat_interleave(16, 2)
    samples = []
    for _ in range(2):
        sample = SegDataSample(gt_sem_seg=PixelData(data=label.clone()))
        sample.set_metainfo(dict(img_shape=(64, 64), ori_shape=(64, 64), pad_shape=(64, 64)))
        samples.append(sample)
    losses = model.loss(torch.randn(2, 3, 64, 64), samples)
    assert {'decode.loss_ce', 'decode.loss_dca_attn', 'decode.loss_dca_region'} <= set(losses)
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    for stage in (1, 2, 3):
        grad = model.backbone.local_pathway.fuse_projs[str(stage)].weight.grad
        assert grad is not None and grad.abs().sum() > 0
    model.test_cfg = ConfigDict(mode='whole')
    model.eval()
    with torch.no_grad():
        odd = SegDataSample()
        odd.set_metainfo(dict(img_shape=(45, 71), ori_shape=(45, 71), pad_shape=(45, 71)))
        (pred, ) = model.predict(torch.randn(1, 3, 45, 71), [odd])
    assert pred.seg_logits.data.shape == (5, 45, 71)
