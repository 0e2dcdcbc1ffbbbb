"""Raw release -> preparation -> check -> training -> testing -> submission files,
for Cityscapes, PASCAL Context (60) and ADE20K, on miniature official-format
releases (depict.testing).

The tools run in this process (``main()`` of tools/train.py and tools/test.py
with their command lines) because a second Python interpreter costs seconds on
a busy machine. The model is the Segmenter toy model; a per-dataset config
inherits the real dataset base (dataset class, folders, ann_file, evaluator)
and only swaps its pipelines for miniature scales; ``num_classes`` is set per
dataset with --cfg-options.
"""
import glob
import importlib.util
import json
import os.path as osp
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import REPO
from depict.evaluation import evaluate_official
from depict.testing import (make_ade20k_release, make_cityscapes_release,
                            make_pascal_context_release)

BASES = osp.join(REPO, 'configs', '_base_')

CONFIG = '''
_base_ = [
    '{bases}/backbones/vit-toy.py', '{bases}/decoders/segmenter-mask.py',
    '{bases}/datasets/{dataset_base}', '{bases}/default_runtime.py',
    '{bases}/schedules/schedule_toy.py'
]
# Miniature scales: short side 64, the 64x64 toy window (views smaller than it
# are upsampled, as in the papers' protocol), slide inference on edge crops.
test_scale = (256, 64)
window = (64, 64)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label={reduce}),
    dict(type='RandomResize', scale=test_scale, ratio_range=(0.75, 1.25), keep_ratio=True),
    dict(type='RandomCrop', crop_size=window, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=test_scale, keep_ratio=True),
    dict(type='UpscaleToWindow', window_size=window),
    dict(type='LoadAnnotations', reduce_zero_label={reduce}),
    dict(type='PackSegInputs')
]
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='TestTimeAug', transforms=[
        [dict(type='Resize', keep_ratio=True, scale=(int(256 * r), int(64 * r)))
         for r in (0.5, 1.0)],
        [dict(type='UpscaleToWindow', window_size=window)],
        [dict(type='RandomFlip', prob=0., direction='horizontal'),
         dict(type='RandomFlip', prob=1., direction='horizontal')],
        [dict(type='LoadAnnotations', reduce_zero_label={reduce})],
        [dict(type='PackSegInputs')]])
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
model = dict(
    data_preprocessor=dict(size=window),
    backbone=dict(_base_.decoder.backbone, img_size=window),
    decode_head=dict(_base_.decoder.decode_head, num_classes={classes}, num_heads=2),
    test_cfg=dict(mode='slide', crop_size=window, stride=(48, 48)))
{extra}
'''
# Cityscapes also evaluates with the official script inside the test loop.
CITYSCAPES_EVALUATORS = '''
test_evaluator = [dict(type='IoUMetric', iou_metrics=['mIoU']),
                  dict(type='CityscapesOfficialMetric')]
'''

DATASETS = {
    'cityscapes': dict(base='cityscapes_768x768.py', classes=19, reduce=False),
    'pascal_context': dict(base='pascal_context.py', classes=60, reduce=False),
    'ade20k': dict(base='ade20k_640x640.py', classes=150, reduce=True),
}


def _tool(path: str):
    spec = importlib.util.spec_from_file_location(
        'e2e_' + osp.basename(path)[:-3], osp.join(REPO, path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(path: str, args: list[str]):
    """Runs a tool's main() with a command line; returns its exit code."""
    argv = sys.argv
    sys.argv = [path] + args
    try:
        return _tool(path).main()
    finally:
        sys.argv = argv


def _prepare(name: str, root) -> str:
    """Writes the raw release and prepares it; returns the config's data_root."""
    if name == 'cityscapes':
        data_root = make_cityscapes_release(str(root / 'cityscapes'), seed=21)
        assert _run('tools/dataset_converters/cityscapes.py', [data_root]) == 0
    elif name == 'pascal_context':
        paths = make_pascal_context_release(str(root), num_train=4, num_val=3, seed=21)
        assert _run('tools/dataset_converters/pascal_context.py',
                    [paths['devkit'], paths['context']]) == 0
        data_root = osp.join(paths['devkit'], 'VOC2010')
    else:
        data_root = make_ade20k_release(str(root), num_train=4, num_val=3, num_test=2,
                                        seed=21)
    return data_root


def _options(data_root: str, classes: int, tag: str, iters: int = 2) -> list[str]:
    opts = [f'model.decode_head.num_classes={classes}', f'train_cfg.max_iters={iters}',
            f'train_cfg.val_interval={iters}', f'default_hooks.checkpoint.interval={iters}',
            'default_hooks.logger.interval=1', 'train_dataloader.batch_size=2',
            # One process, several runners: give each its own visualizer.
            f'visualizer.name=vis_{tag}']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.num_workers=0', f'{loader}.persistent_workers=False',
                 f'{loader}.dataset.data_root={data_root}']
    return opts


def _metrics(work_dir: str) -> dict:
    """The last metrics line mmengine logged as JSON under work_dir."""
    lines = []
    for path in sorted(glob.glob(osp.join(work_dir, '**', '*.json'), recursive=True)):
        lines += [json.loads(line) for line in open(path) if 'mIoU' in line]
    assert lines, f'no metrics logged under {work_dir}'
    return lines[-1]


@pytest.fixture(scope='module', params=list(DATASETS))
def trained(request, tmp_path_factory) -> dict:
    name = request.param
    spec = DATASETS[name]
    root = tmp_path_factory.mktemp(name)
    data_root = _prepare(name, root)
    config = root / f'segmenter-toy_{name}.py'
    extra = CITYSCAPES_EVALUATORS if name == 'cityscapes' else ''
    config.write_text(CONFIG.format(bases=BASES, dataset_base=spec['base'], classes=spec['classes'],
                                    reduce=spec['reduce'], extra=extra))
    # The prepared data passes the checker (train and val).
    for split in ('train', 'val'):
        assert _run('tools/misc/check_dataset.py', [str(config), '--split', split]
                    + ['--data-root', data_root]) == 0
    work_dir = str(root / 'work')
    _run('tools/train.py', [str(config), '--work-dir', work_dir, '--cfg-options']
         + _options(data_root, spec['classes'], f'train_{name}'))
    checkpoint = osp.join(work_dir, 'iter_2.pth')
    assert osp.isfile(checkpoint)
    assert 0 <= _metrics(work_dir)['mIoU'] <= 100  # validation ran
    return dict(name=name, config=str(config), data_root=data_root, root=root,
                checkpoint=checkpoint, classes=spec['classes'], reduce=spec['reduce'])


def _test(trained: dict, tag: str, *extra: str) -> str:
    work_dir = str(trained['root'] / f'test_{tag}')
    _run('tools/test.py', [trained['config'], trained['checkpoint'], '--work-dir', work_dir]
         + list(extra) + ['--cfg-options']
         + _options(trained['data_root'], trained['classes'], f'{tag}_{trained["name"]}'))
    return work_dir


def test_test_writes_benchmark_predictions(trained):
    """tools/test.py --out: the files the benchmark's server / official evaluator
    reads. PASCAL Context runs multi-scale (--tta, the papers' protocol with its
    window upsampling); ADE20K also writes its unlabelled test split
    (--format-only)."""
    name = trained['name']
    out = str(trained['root'] / 'predictions')
    extra = ['--tta'] if name == 'pascal_context' else []
    metrics = _metrics(_test(trained, 'out', '--out', out, *extra))
    assert 0 <= metrics['mIoU'] <= 100
    if name == 'cityscapes':
        frames = sorted(glob.glob(osp.join(trained['data_root'], 'leftImg8bit', 'val', '*',
                                           '*.png')))
        preds = [osp.join(out, osp.basename(f)) for f in frames]  # *_leftImg8bit.png
        gts = [f.replace('leftImg8bit/', 'gtFine/').replace('_leftImg8bit.png',
                                                            '_gtFine_labelIds.png')
               for f in frames]
        for pred, gt in zip(preds, gts):
            values = np.array(Image.open(pred))
            assert values.shape == np.array(Image.open(gt)).shape
            assert set(np.unique(values)) <= {7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24,
                                              25, 26, 27, 28, 31, 32, 33}
        # The number tools/test.py printed is the official evaluator's, run
        # on the --out files and inside the loop (CityscapesOfficialMetric).
        official = evaluate_official(preds, gts)
        assert abs(metrics['mIoU'] / 100 - official['mIoU']) <= 1e-4
        assert abs(metrics['cityscapes/mIoU'] / 100 - official['mIoU']) <= 1e-6
        assert 'cityscapes/iIoU' in metrics
        return
    if name == 'pascal_context':
        ids = open(osp.join(trained['data_root'], 'ImageSets', 'SegmentationContext',
                            'val.txt')).read().split()
        images = [osp.join(trained['data_root'], 'JPEGImages', f'{i}.jpg') for i in ids]
        low, high = 0, 59  # 60 classes, 0 = background: written unchanged
    else:
        images = sorted(glob.glob(osp.join(trained['data_root'], 'images', 'validation',
                                           '*.jpg')))
        low, high = 1, 150  # reduce_zero_label undone: ADE20K's 1..150
    assert len(glob.glob(osp.join(out, '*.png'))) == len(images)
    for image in images:
        pred = Image.open(osp.join(out, osp.basename(image)[:-4] + '.png'))
        values = np.array(pred)
        assert pred.mode == 'L' and pred.size == Image.open(image).size
        assert low <= values.min() and values.max() <= high
    if name != 'ade20k':
        return
    test_root = osp.join(osp.dirname(trained['data_root']), 'release_test')
    out = str(trained['root'] / 'test_server')
    work_dir = str(trained['root'] / 'test_format_only')
    _run('tools/test.py', [trained['config'], trained['checkpoint'], '--work-dir', work_dir,
                           '--out', out, '--format-only', '--cfg-options']
         + _options(trained['data_root'], 150, 'format_only')
         + [f'test_dataloader.dataset.data_root={test_root}',
            'test_dataloader.dataset.data_prefix.img_path=testing'])
    written = sorted(osp.basename(p) for p in glob.glob(osp.join(out, '*.png')))
    assert written == ['ADE_test_00000001.png', 'ADE_test_00000002.png']
    assert np.array(Image.open(osp.join(out, written[0]))).min() >= 1
