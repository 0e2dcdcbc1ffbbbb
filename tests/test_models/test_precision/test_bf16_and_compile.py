"""Every decode head under bf16 autocast on CPU, and under torch.compile.

Built from the toy configs (the toy ViT and the head as configured for the toy
dataset), so every head of the project is covered, including the Shrunk
backbone and the two-pathway ViT.
"""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from conftest import REPO

TOY_CONFIGS = sorted(
    p for p in glob.glob(osp.join(REPO, 'configs', '*', '*_toy-64x64.py'))
    if 'ablation' not in osp.basename(p))
SHAPE = (48, 80)  # non-square, not the training crop


def _model(path):
    init_default_scope('mmseg')
    cfg = Config.fromfile(path)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model, cfg


def _batch(num_classes):
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(2, 3, *SHAPE, generator=generator)
    samples = []
    for _ in range(2):
        sample = SegDataSample(metainfo=dict(img_shape=SHAPE, ori_shape=SHAPE, pad_shape=SHAPE))
        # Scene-like labels: a 4x4 grid of regions.
        grid = torch.randint(0, num_classes, (1, 1, 4, 4), generator=generator).float()
        labels = torch.nn.functional.interpolate(grid, size=SHAPE, mode='nearest').long()[0]
        sample.gt_sem_seg = PixelData(data=labels)
        samples.append(sample)
    return inputs, samples


def _total_loss(model, inputs, samples):
    losses = model.loss(inputs, samples)
    return sum(v for k, v in losses.items() if 'loss' in k)


def test_toy_configs_found():
    names = {osp.basename(p).split('_')[0] for p in TOY_CONFIGS}
    assert {'segmenter-mask', 'depict-sa', 'depict-ca', 'segvit', 'segvit-shrunk',
            'repsep'} <= names


@pytest.mark.parametrize('path', TOY_CONFIGS, ids=lambda p: osp.basename(p).split('_')[0])
def test_bf16_autocast_forward_backward(path):
    model, cfg = _model(path)
    model.train()
    inputs, samples = _batch(model.decode_head.num_classes)
    reference = _total_loss(model, inputs, samples)
    model.zero_grad()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        loss = _total_loss(model, inputs, samples)
    loss.backward()
    assert torch.isfinite(loss)
    # bf16 has an 8-bit mantissa: a few per cent, not more.
    assert loss.item() == pytest.approx(reference.item(), rel=0.05)
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    # Inference under autocast gives the same prediction almost everywhere.
    model.eval()
    with torch.no_grad():
        fp32 = model.predict(inputs, samples)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            bf16 = model.predict(inputs, samples)
    agree = torch.stack([(a.pred_sem_seg.data == b.pred_sem_seg.data).float().mean()
                         for a, b in zip(fp32, bf16)])
    assert agree.min() > 0.9


@pytest.mark.slow
@pytest.mark.parametrize('path', TOY_CONFIGS, ids=lambda p: osp.basename(p).split('_')[0])
def test_torch_compile_matches_eager(path):
    """``torch.compile`` of the decode head (inductor, CPU): same output as eager."""
    model, cfg = _model(path)
    model.eval()
    inputs, _ = _batch(model.decode_head.num_classes)
    with torch.no_grad():
        feats = model.extract_feat(inputs)
        eager = model.decode_head(feats)
        compiled = torch.compile(model.decode_head)(feats)
    flat = lambda o: [o] if isinstance(o, torch.Tensor) else [t for x in o for t in flat(x)]  # noqa: E731
    for a, b in zip(flat(eager), flat(compiled)):
        torch.testing.assert_close(b, a, atol=1e-4, rtol=1e-4)
