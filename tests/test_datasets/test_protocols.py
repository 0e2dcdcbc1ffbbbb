"""The evaluation protocols of docs/protocols.md produce the view sizes their
definitions say. A dataset part states its default (the papers') pipelines as
plain lists; the others are a leaf's literal ``test_pipeline`` /
``tta_pipeline``, the multi-scale ones one ``MultiScaleTTA`` each:

* mmseg 1.x (tta_mmseg): ``ratios_of='original'``, ratios of the ORIGINAL image;
* mmseg 0.x / SegViT (tta_mmseg0x): ``ratios_of='test_size'`` with ``scale``,
  ratios of the single-scale test size (a (long-side cap, short side) pair);
* Segmenter / DEPICT (tta_paper, the dataset parts' default `tta_pipeline`):
  as 0.x with ``window``, views smaller than the sliding window upsampled to
  cover it.

Each check uses a generated image and label map run through the pipeline; the
expected sizes are computed from the definitions (and a few are spelled out by
hand).
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


def protocols(test_scale: tuple, mmseg_scale: tuple, window: int) -> dict:
    """Every protocol of docs/protocols.md for one dataset, with literal parameters
    (what a config states; the dataset parts state test_paper and tta_paper)."""
    tail = [dict(type='LoadAnnotations'), dict(type='PackSegInputs')]
    load_tta = dict(type='LoadImageFromFile', backend_args=None)
    return dict(
        test_mmseg=[dict(type='LoadImageFromFile'),
                    dict(type='Resize', scale=mmseg_scale, keep_ratio=True), *tail],
        test_paper=[dict(type='LoadImageFromFile'),
                    dict(type='Resize', scale=test_scale, keep_ratio=True),
                    dict(type='UpscaleToWindow', window_size=(window, window)), *tail],
        tta_mmseg=[load_tta, dict(type='MultiScaleTTA', ratios=RATIOS, ratios_of='original')],
        tta_mmseg0x=[load_tta, dict(type='MultiScaleTTA', ratios=RATIOS, ratios_of='test_size',
                                    scale=mmseg_scale)],
        tta_paper=[load_tta, dict(type='MultiScaleTTA', ratios=RATIOS, ratios_of='test_size',
                                  scale=test_scale, window=(window, window))])


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


def _run(cfg: Config, pipeline: list, sample: dict):
    reduce_zero_label = cfg.test_dataloader.dataset.type in ('ADE20KDataset',
                                                              'PascalContextDataset59')
    return Compose(pipeline)(dict(sample, reduce_zero_label=reduce_zero_label))


@pytest.mark.parametrize('base, test_scale, mmseg_scale, window, size', CASES)
def test_view_sizes_follow_each_definition(tmp_path, base, test_scale, mmseg_scale, window,
                                           size):
    cfg = Config.fromfile(osp.join(BASES, base))
    resize, upscale = cfg.test_pipeline[1:3]
    assert tuple(resize.scale) == test_scale and tuple(upscale.window_size) == (window, window)
    # The window is the dataset's crop (leaves slide at crop_size).
    assert tuple(cfg.crop_size) == (window, window)
    (crop, ) = [t for t in cfg.train_pipeline if t.type == 'RandomCrop']
    assert tuple(crop.crop_size) == (window, window)
    pipelines = protocols(test_scale, mmseg_scale, window)
    sample = _write_sample(tmp_path, *size)
    for key, definition in DEFINITIONS.items():
        out = _run(cfg, pipelines[key], sample)
        shapes = [tuple(s.img_shape) for s in out['data_samples']]
        flips = [s.flip for s in out['data_samples']]
        # Every ratio with and without a horizontal flip.
        assert len(shapes) == 2 * len(RATIOS) and flips == [False, True] * len(RATIOS)
        expected = [definition(*size, r, test_scale=test_scale, mmseg_scale=mmseg_scale,
                               window=window) for r in RATIOS for _ in (0, 1)]
        assert shapes == expected, key
        for data_sample in out['data_samples']:
            # Metrics compare at the original size: annotations are not resized.
            assert tuple(data_sample.gt_sem_seg.shape) == size
            assert tuple(data_sample.ori_shape) == size
    # The dataset part's protocol is the papers'.
    assert cfg.tta_pipeline == pipelines['tta_paper']
    assert cfg.test_pipeline == pipelines['test_paper']
    assert cfg.val_dataloader.dataset.pipeline == pipelines['test_paper']
    assert cfg.test_dataloader.dataset.pipeline == pipelines['test_paper']


def test_spelled_out_sizes(tmp_path):
    """A 300x400 ADE20K image at 512: the three definitions disagree at 0.5x."""
    cfg = Config.fromfile(osp.join(BASES, 'ade20k.py'))
    pipelines = protocols((2048, 512), (2048, 512), 512)
    sample = _write_sample(tmp_path, 300, 400)
    half = {key: tuple(_run(cfg, pipelines[key], sample)['data_samples'][0].img_shape)
            for key in DEFINITIONS}
    assert half == dict(tta_mmseg=(150, 200),  # half the original
                        tta_mmseg0x=(256, 341),  # half the 512 test size
                        tta_paper=(512, 682))  # ... upsampled to the window
    # Ratio 1.0 of the test-size definitions is the single-scale view.
    single = tuple(_run(cfg, cfg.test_pipeline, sample)['data_samples'].img_shape)
    assert single == (512, 683)
    assert tuple(_run(cfg, cfg.tta_pipeline, sample)['data_samples'][4].img_shape) == single
    # ... but not mmseg 1.x's, which is the original image.
    mmseg = _run(cfg, pipelines['tta_mmseg'], sample)
    assert tuple(mmseg['data_samples'][4].img_shape) == (300, 400)


def test_pascal_context_scales(tmp_path):
    """Papers: short side 520; mmseg: long side 520 (docs/protocols.md): the
    dataset part's Resize / RandomResize scale (4160, 520), mmseg's (520, 520)."""
    cfg = Config.fromfile(osp.join(BASES, 'pascal_context.py'))
    pipelines = protocols((4160, 520), (520, 520), 480)
    sample = _write_sample(tmp_path, 375, 500)
    assert tuple(_run(cfg, cfg.test_pipeline, sample)['data_samples'].img_shape) == (520, 693)
    mmseg = _run(cfg, pipelines['test_mmseg'], sample)
    assert tuple(mmseg['data_samples'].img_shape) == (390, 520)
    paper = cfg.train_dataloader.dataset.pipeline
    assert paper == cfg.train_pipeline
    trains = dict(paper=paper, mmseg=[dict(t, scale=(520, 520)) if t.type == 'RandomResize'
                                      else t for t in paper])
    for key, short_side in (('paper', 520), ('mmseg', 390)):
        resize = [t for t in trains[key] if t['type'] == 'RandomResize'][0]
        height, width = _fit(375, 500, max(resize['scale']), min(resize['scale']))
        assert min(height, width) == short_side, key


def test_a_leaf_restates_the_protocol(tmp_path):
    """A leaf selects another protocol by restating its pipelines (docs/configs.md,
    "Swap a dataset, a protocol"): the rest of each loader is the dataset part's."""
    base = Config.fromfile(osp.join(BASES, 'ade20k_640x640.py'))
    pipelines = protocols((2560, 640), (2560, 640), 640)
    both = tmp_path / 'both.py'
    both.write_text(
        f"_base_ = ['{osp.join(BASES, 'ade20k_640x640.py')}']\n"
        f"test_pipeline = {pipelines['test_mmseg']!r}\n"
        "val_dataloader = dict(dataset=dict(pipeline=test_pipeline))\n"
        "test_dataloader = val_dataloader\n"
        f"tta_pipeline = {pipelines['tta_mmseg0x']!r}\n")
    cfg = Config.fromfile(str(both))
    assert cfg.tta_pipeline == pipelines['tta_mmseg0x']
    for loader in ('val_dataloader', 'test_dataloader'):
        assert cfg[loader].dataset.pipeline == pipelines['test_mmseg']
        assert dict(cfg[loader], dataset=None) == dict(base[loader], dataset=None)
        assert dict(cfg[loader].dataset, pipeline=None) == \
            dict(base[loader].dataset, pipeline=None)
    # Restating the test loader only leaves validation on the papers' protocol.
    test_only = tmp_path / 'test_only.py'
    test_only.write_text(
        f"_base_ = ['{osp.join(BASES, 'ade20k_640x640.py')}']\n"
        f"test_dataloader = dict(dataset=dict(pipeline={pipelines['test_mmseg']!r}))\n")
    cfg = Config.fromfile(str(test_only))
    assert cfg.test_dataloader.dataset.pipeline == pipelines['test_mmseg']
    assert cfg.val_dataloader.dataset.pipeline == pipelines['test_paper']
    assert cfg.tta_pipeline == pipelines['tta_paper']


def test_toy_dataset_part_states_mmsegs_protocol():
    """The toy dataset part's default is mmseg 1.x's (ratios 0.75-1.25 of the image)."""
    cfg = Config.fromfile(osp.join(BASES, 'toy.py'))
    mmseg = protocols((128, 96), (128, 96), 64)
    assert cfg.test_pipeline == cfg.val_dataloader.dataset.pipeline == mmseg['test_mmseg']
    assert cfg.tta_pipeline == [mmseg['tta_mmseg'][0],
                                dict(mmseg['tta_mmseg'][1], ratios=[0.75, 1.0, 1.25])]
