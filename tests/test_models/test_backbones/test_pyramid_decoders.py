"""Every decoder end to end on the two-pathway pyramid ViTs (Swin, MiT), tiny sizes.

Each toy config's segmentor gets a tiny two-pathway Swin / MiT (the sizes of
test_two_pathway_pyramid.py). Single-level heads (Segmenter, DEPICT-SA/CA)
read the last stage; ATM reads stages 1-3 (1/8, 1/16, 1/32) through one
lateral projection per width (``in_channels`` list); the Shrunk head reads
stages 1 and 3 with its query grid at 1/8; representation separation reads
stages 1-3 concatenated at 1/8 (``resize_concat``). ``loss`` on real
:class:`SegDataSample` labels must be finite and give every head parameter
and the local pathway (at the stages read) a gradient; slide ``predict`` on an odd, non-square
image must return its size.
"""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmseg.registry import MODELS

# The same directory (pytest's rootdir-relative import): shared helpers.
from conftest import wire_pyramid_head
from test_two_pathway_beit import REPO, TOY, samples
from test_two_pathway_pyramid import MIT, SWIN

#: type, tiny config, stage widths.
PYRAMIDS = {
    'two-pathway-swin': ('TwoPathwaySwinTransformer', SWIN, [16, 32, 64, 128]),
    'two-pathway-mit': ('TwoPathwayMixVisionTransformer', MIT, [8, 16, 32, 64]),
}


@pytest.fixture(autouse=True)
def _mmseg_scope():
    with DefaultScope.overwrite_default_scope('mmseg'):
        yield


def build(decoder: str, kind: str):
    cfg = Config.fromfile(osp.join(REPO, TOY[decoder]))
    backbone, tiny, widths = PYRAMIDS[kind]
    cfg.model.backbone = dict(type=backbone, local_channels=8, **tiny)
    wire_pyramid_head(cfg.model.decode_head, decoder, widths)
    return MODELS.build(cfg.model)


@pytest.mark.parametrize('kind', list(PYRAMIDS))
@pytest.mark.parametrize('decoder', list(TOY))
def test_decoder_trains_and_predicts_on_pyramid(decoder, kind):
    torch.manual_seed(0)
    model = build(decoder, kind)
    if decoder == 'atm':
        # One lateral per level width, deepest first (no common width needed).
        widths = PYRAMIDS[kind][2]
        assert [lat.proj.in_features for lat in model.decode_head.laterals] == widths[:0:-1]
    model.init_weights()
    model.train()
    losses = model.loss(torch.randn(2, 3, 64, 64), samples(2, (64, 64)))
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    unused = [n for n, p in model.decode_head.named_parameters()
              if p.requires_grad and (p.grad is None or not p.grad.abs().sum() > 0)]
    assert not unused, unused
    # The local pathway trains through every stage the head reads (the fused
    # outputs of the other stages are unused).
    read = model.decode_head.in_index
    for stage in [read % 4] if isinstance(read, int) else read:
        grad = model.backbone.local_pathway.fuse_projs[str(stage)].weight.grad
        assert grad is not None and grad.abs().sum() > 0, stage
    model.eval()
    with torch.no_grad():
        # Slide windows (64 crop, stride 48) over an odd, non-square image.
        (pred, ) = model.predict(torch.randn(1, 3, 45, 93), samples(1, (45, 93)))
    assert pred.pred_sem_seg.data.shape == (1, 45, 93)
    assert pred.seg_logits.data.shape == (8, 45, 93)
