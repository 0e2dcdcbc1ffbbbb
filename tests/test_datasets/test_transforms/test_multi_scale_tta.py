"""MultiScaleTTA: the three multi-scale protocols of docs/protocols.md as one
transform with literal parameters.

Each expected ``transforms`` list below is, literally, the ``TestTimeAug`` of
the pipeline the former dataset catalog produced for a leaf config (before
the configs stated ``MultiScaleTTA``): tta_paper of
configs/depict/depict-sa_vit-l16_8xb1-160k_ade20k-640x640.py, tta_mmseg0x of
configs/segvit/segvit_vit-l16_8xb2-160k_ade20k-640x640.py and tta_mmseg of
configs/segmenter/segmenter-mask_vit-toy_1xb8-2k_toy-64x64.py. MultiScaleTTA
must expand to exactly these, and produce the same views on a real image.
"""
import numpy as np
import pytest
import torch
from mmcv.transforms import Compose, TestTimeAug
from mmengine.registry import init_default_scope
from mmseg.registry import TRANSFORMS
from PIL import Image

from depict.datasets.transforms import MultiScaleTTA

RATIOS = [0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
FLIPS = [
    dict(type='RandomFlip', prob=0.0, direction='horizontal'),
    dict(type='RandomFlip', prob=1.0, direction='horizontal')
]
TAIL = [[dict(type='LoadAnnotations')], [dict(type='PackSegInputs')]]

# Segmenter / DEPICT (tta_paper), ADE20K at 640: ratios of the 2560x640 test
# size, views smaller than the 640 window upsampled to it.
TTA_PAPER_ADE20K_640 = [
    [dict(type='Resize', keep_ratio=True, scale=(1280, 320)),
     dict(type='Resize', keep_ratio=True, scale=(1920, 480)),
     dict(type='Resize', keep_ratio=True, scale=(2560, 640)),
     dict(type='Resize', keep_ratio=True, scale=(3200, 800)),
     dict(type='Resize', keep_ratio=True, scale=(3840, 960)),
     dict(type='Resize', keep_ratio=True, scale=(4480, 1120))],
    [dict(type='UpscaleToWindow', window_size=(640, 640))],
    FLIPS,
    *TAIL,
]
# mmseg 0.x / SegViT (tta_mmseg0x), ADE20K at 640: the same ratios of the test
# size, no window upsampling.
TTA_MMSEG0X_ADE20K_640 = [
    [dict(type='Resize', keep_ratio=True, scale=(1280, 320)),
     dict(type='Resize', keep_ratio=True, scale=(1920, 480)),
     dict(type='Resize', keep_ratio=True, scale=(2560, 640)),
     dict(type='Resize', keep_ratio=True, scale=(3200, 800)),
     dict(type='Resize', keep_ratio=True, scale=(3840, 960)),
     dict(type='Resize', keep_ratio=True, scale=(4480, 1120))],
    FLIPS,
    *TAIL,
]
# mmseg 1.x (tta_mmseg), the toy dataset: ratios of the image as loaded.
TTA_MMSEG_TOY = [
    [dict(type='Resize', scale_factor=0.75, keep_ratio=True),
     dict(type='Resize', scale_factor=1.0, keep_ratio=True),
     dict(type='Resize', scale_factor=1.25, keep_ratio=True)],
    FLIPS,
    *TAIL,
]

# (MultiScaleTTA arguments as a config states them, the catalog's expansion)
CASES = {
    'tta_paper': (dict(ratios=RATIOS, ratios_of='test_size', scale=(2560, 640),
                       window=(640, 640)), TTA_PAPER_ADE20K_640),
    'tta_mmseg0x': (dict(ratios=RATIOS, ratios_of='test_size', scale=(2560, 640)),
                    TTA_MMSEG0X_ADE20K_640),
    'tta_mmseg': (dict(ratios=[0.75, 1.0, 1.25], ratios_of='original'), TTA_MMSEG_TOY),
}


@pytest.fixture(scope='module', autouse=True)
def _scope():
    init_default_scope('mmseg')


@pytest.mark.parametrize('protocol', sorted(CASES))
def test_expands_to_the_catalogs_test_time_aug(protocol):
    kwargs, expected = CASES[protocol]
    assert MultiScaleTTA(**kwargs).transforms == expected
    # Built from a config, as a leaf's tta_pipeline states it.
    built = TRANSFORMS.build(dict(type='MultiScaleTTA', **kwargs))
    assert isinstance(built, MultiScaleTTA) and built.transforms == expected


@pytest.fixture(scope='module')
def sample(tmp_path_factory) -> dict:
    """A real 30x44 JPEG image and PNG label map (as a dataset lists them)."""
    root = tmp_path_factory.mktemp('tta')
    height, width = 30, 44
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    label = np.repeat(np.arange(width, dtype=np.uint8)[None] // 6, height, 0)
    Image.fromarray(image).save(root / 'view.jpg')
    Image.fromarray(label).save(root / 'view.png')
    return dict(img_path=str(root / 'view.jpg'), seg_map_path=str(root / 'view.png'),
                seg_fields=[], reduce_zero_label=False)


def _views(pipeline: list, sample: dict) -> dict:
    return Compose([dict(type='LoadImageFromFile')] + pipeline)(dict(sample))


@pytest.mark.parametrize('protocol', sorted(CASES))
def test_same_views_as_test_time_aug_on_a_real_image(protocol, sample):
    kwargs, expected = CASES[protocol]
    ours = _views([dict(type='MultiScaleTTA', **kwargs)], sample)
    theirs = _views([dict(type='TestTimeAug', transforms=expected)], sample)
    assert len(ours['data_samples']) == len(theirs['data_samples']) == 2 * len(kwargs['ratios'])
    shapes = [tuple(s.img_shape) for s in ours['data_samples']]
    assert shapes == [tuple(s.img_shape) for s in theirs['data_samples']]
    flips = [s.flip for s in ours['data_samples']]
    assert flips == [s.flip for s in theirs['data_samples']]
    assert flips == [False, True] * len(kwargs['ratios'])
    for a, b in zip(ours['inputs'], theirs['inputs']):
        assert torch.equal(a, b)
    # The label map stays at its original size (metrics compare there).
    assert all(tuple(s.gt_sem_seg.shape) == (30, 44) for s in ours['data_samples'])


def test_view_sizes_of_each_definition(sample):
    """The first (0.5x) and the 1.0x view of a 30x44 image, by definition."""
    sizes = {}
    for protocol, (kwargs, _) in CASES.items():
        shapes = [tuple(s.img_shape) for s in
                  _views([dict(type='MultiScaleTTA', **kwargs)], sample)['data_samples']]
        sizes[protocol] = shapes
    # 0.5 x (2560, 640): short side 320 (44 * 320 / 30 = 469.3); the window then
    # lifts it to 640 (int(469 * 640 / 320) = 938).
    assert sizes['tta_mmseg0x'][0] == (320, 469)
    assert sizes['tta_paper'][0] == (640, 938)
    # 1.0x: the single-scale view, short side 640, already covering the window.
    assert sizes['tta_mmseg0x'][4] == sizes['tta_paper'][4] == (640, 939)
    # Ratios of the image as loaded: 0.75 x (30, 44) = (22.5, 33), rounded half
    # up as mmcv does; 1.0x is the image itself.
    assert sizes['tta_mmseg'][0] == (23, 33) and sizes['tta_mmseg'][2] == (30, 44)


def test_without_flip_and_with_another_tail():
    tta = MultiScaleTTA(ratios=[1.0, 2.0], ratios_of='original', flip=False,
                        then=[dict(type='PackSegInputs')])
    assert tta.transforms == [[dict(type='Resize', scale_factor=1.0, keep_ratio=True),
                               dict(type='Resize', scale_factor=2.0, keep_ratio=True)],
                              [dict(type='PackSegInputs')]]
    assert len(tta.subroutines) == 2
    assert isinstance(tta, TestTimeAug)


@pytest.mark.parametrize('kwargs, message', [
    (dict(ratios=RATIOS, ratios_of='test-size', scale=(2048, 512)),
     r"ratios_of must be one of \('test_size', 'original'\), got 'test-size'"),
    (dict(ratios=RATIOS, ratios_of='test_size'),
     r"ratios_of='test_size' multiplies the single-scale test size; give it as "
     r'scale=\(W, H\)'),
    (dict(ratios=RATIOS, ratios_of='original', scale=(2048, 512)),
     r"ratios_of='original' scales the image as loaded and ignores scale=\(2048, 512\); "
     r"leave scale out, or use ratios_of='test_size'"),
    (dict(ratios=[], ratios_of='original'),
     'ratios is empty; give at least one scale ratio'),
])
def test_bad_arguments_name_the_problem_and_the_fix(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MultiScaleTTA(**kwargs)
