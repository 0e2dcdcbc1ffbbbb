"""The three multi-scale test definitions in the dataset base configs produce
the view sizes their definitions say (docs/protocols.md):

* mmseg 1.x (`protocols.tta_mmseg`): ratios of the ORIGINAL image;
* mmseg 0.x / SegViT (`protocols.tta_mmseg0x`): ratios of the single-scale test
  size (a (long-side cap, short side) pair);
* Segmenter / DEPICT (`protocols.tta_paper`, the default `tta_pipeline`): as 0.x,
  then views smaller than the sliding window upsampled to cover it.

Each check uses a generated image and label map run through the config's own
pipeline; the expected sizes are computed from the definitions (and a few are
spelled out by hand).
"""
import os.path as osp

import numpy as np
import pytest
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.registry import init_default_scope
from PIL import Image

from conftest import REPO

BASES = osp.join(REPO, 'configs', '_base_', 'datasets')
RATIOS = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]


def _round(x: float) -> int:
    return int(x + 0.5)  # mmcv rounds sizes half up


def _fit(height: int, width: int, long_cap: float, short: float) -> tuple[int, int]:
    """keep_ratio resize into (long_cap, short): the largest scale that fits."""
    scale = min(long_cap / max(height, width), short / min(height, width))
    return _round(height * scale), _round(width * scale)


def expected_mmseg(height, width, ratio, **_):
    return _round(height * ratio), _round(width * ratio)


def expected_mmseg0x(height, width, ratio, *, mmseg_scale, **_):
    return _fit(height, width, int(mmseg_scale[0] * ratio), int(mmseg_scale[1] * ratio))


def expected_paper(height, width, ratio, *, test_scale, window, **_):
    view_h, view_w = _fit(height, width, int(test_scale[0] * ratio),
                          int(test_scale[1] * ratio))
    short = min(view_h, view_w)
    if short >= window:  # square windows in every base config
        return view_h, view_w
    if view_h <= view_w:
        return window, int(view_w * window / view_h)
    return int(view_h * window / view_w), window


DEFINITIONS = dict(tta_mmseg=expected_mmseg, tta_mmseg0x=expected_mmseg0x,
                   tta_paper=expected_paper)

# (base config, papers' test scale (w, h), mmseg's test scale, window, image (h, w))
CASES = [
    ('ade20k.py', (2048, 512), (2048, 512), 512, (300, 400)),
    ('ade20k_640x640.py', (2560, 640), (2560, 640), 640, (300, 400)),
    ('ade20k.py', (2048, 512), (2048, 512), 512, (700, 260)),        # portrait
    ('cityscapes_768x768.py', (2048, 1024), (2048, 1024), 768, (1024, 2048)),
    # PASCAL Context: papers short side 520, mmseg long side 520.
    ('pascal_context.py', (4160, 520), (520, 520), 480, (375, 500)),
    ('pascal_context_59.py', (4160, 520), (520, 520), 480, (500, 333)),
]


@pytest.fixture(scope='module', autouse=True)
def _scope():
    init_default_scope('mmseg')


def _write_sample(tmp_path, height: int, width: int) -> dict:
    img, seg = str(tmp_path / 'view.jpg'), str(tmp_path / 'view.png')
    ramp = np.linspace(0, 255, width)[None, :].repeat(height, 0)
    Image.fromarray(np.stack([ramp, 255 - ramp, ramp], -1).astype(np.uint8)).save(img)
    Image.fromarray((ramp // 16 + 1).astype(np.uint8)).save(seg)
    return dict(img_path=img, seg_map_path=seg, seg_fields=[])


def _run(cfg: Config, key: str, sample: dict):
    reduce_zero_label = cfg.test_dataloader.dataset.type in ('ADE20KDataset',
                                                              'PascalContextDataset59')
    # The protocols a dataset part offers (docs/configs.md), else a top-level pipeline.
    pipeline = cfg.protocols[key] if key in cfg.protocols else cfg[key]
    return Compose(pipeline)(dict(sample, reduce_zero_label=reduce_zero_label))


@pytest.mark.parametrize('base, test_scale, mmseg_scale, window, size', CASES)
def test_view_sizes_follow_each_definition(tmp_path, base, test_scale, mmseg_scale, window,
                                           size):
    cfg = Config.fromfile(osp.join(BASES, base))
    resize, upscale = cfg.protocols.test_paper[1:3]
    assert tuple(resize.scale) == test_scale and tuple(upscale.window_size) == (window, window)
    assert tuple(cfg.protocols.slide_test_cfg.crop_size) == (window, window)
    assert tuple(cfg.protocols.crop_size) == (window, window)
    sample = _write_sample(tmp_path, *size)
    for key, definition in DEFINITIONS.items():
        out = _run(cfg, key, sample)
        shapes = [tuple(s.img_shape) for s in out['data_samples']]
        flips = [s.flip for s in out['data_samples']]
        # TestTimeAug: every ratio with and without a horizontal flip.
        assert len(shapes) == 2 * len(RATIOS) and flips == [False, True] * len(RATIOS)
        expected = [definition(*size, r, test_scale=test_scale, mmseg_scale=mmseg_scale,
                               window=window) for r in RATIOS for _ in (0, 1)]
        assert shapes == expected, key
        for data_sample in out['data_samples']:
            # Metrics compare at the original size: annotations are not resized.
            assert tuple(data_sample.gt_sem_seg.shape) == size
            assert tuple(data_sample.ori_shape) == size
    # The default multi-scale protocol is the papers'.
    assert cfg.tta_pipeline == cfg.protocols.tta_paper
    assert cfg.val_dataloader.dataset.pipeline == cfg.protocols.test_paper


def test_spelled_out_sizes(tmp_path):
    """A 300x400 ADE20K image at 512: the three definitions disagree at 0.5x."""
    cfg = Config.fromfile(osp.join(BASES, 'ade20k.py'))
    sample = _write_sample(tmp_path, 300, 400)
    half = {key: tuple(_run(cfg, key, sample)['data_samples'][0].img_shape)
            for key in DEFINITIONS}
    assert half == dict(tta_mmseg=(150, 200),  # half the original
                        tta_mmseg0x=(256, 341),  # half the 512 test size
                        tta_paper=(512, 682))  # ... upsampled to the window
    # Ratio 1.0 of the test-size definitions is the single-scale view.
    single = tuple(_run(cfg, 'test_paper', sample)['data_samples'].img_shape)
    assert single == (512, 683)
    assert tuple(_run(cfg, 'tta_paper', sample)['data_samples'][4].img_shape) == single
    # ... but not mmseg 1.x's, which is the original image.
    assert tuple(_run(cfg, 'tta_mmseg', sample)['data_samples'][4].img_shape) == (300, 400)


def test_pascal_context_scales(tmp_path):
    """Papers: short side 520; mmseg: long side 520 (docs/protocols.md)."""
    cfg = Config.fromfile(osp.join(BASES, 'pascal_context.py'))
    sample = _write_sample(tmp_path, 375, 500)
    assert tuple(_run(cfg, 'test_paper', sample)['data_samples'].img_shape) == (520, 693)
    assert tuple(_run(cfg, 'test_mmseg', sample)['data_samples'].img_shape) == (390, 520)
    trains = dict(paper=cfg.train_dataloader.dataset.pipeline, mmseg=cfg.protocols.train_mmseg)
    for key, short_side in (('paper', 520), ('mmseg', 390)):
        resize = [t for t in trains[key] if t.type == 'RandomResize'][0]
        height, width = _fit(375, 500, max(resize.scale), min(resize.scale))
        assert min(height, width) == short_side, key


def test_configs_select_a_protocol_by_variable(tmp_path):
    """A child config picks a protocol with {{_base_.protocols.<name>}}."""
    child = tmp_path / 'child.py'
    child.write_text(
        f"_base_ = ['{osp.join(BASES, 'ade20k_640x640.py')}']\n"
        "tta_pipeline = {{_base_.protocols.tta_mmseg0x}}\n"
        "test_dataloader = dict(dataset=dict(pipeline={{_base_.protocols.test_mmseg}}))\n")
    cfg = Config.fromfile(str(child))
    assert cfg.tta_pipeline == cfg.protocols.tta_mmseg0x
    assert cfg.test_dataloader.dataset.pipeline == cfg.protocols.test_mmseg
    # val keeps the default (papers') single-scale pipeline.
    assert cfg.val_dataloader.dataset.pipeline == cfg.protocols.test_paper
