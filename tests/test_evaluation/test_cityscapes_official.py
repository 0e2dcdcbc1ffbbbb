"""Our Cityscapes mIoU equals cityscapesscripts' official pixel-level evaluator.

Generated data in the official format (polygons -> labelIds / instanceIds by
cityscapesscripts; train ids by our converter), random predictions, then:

* mmseg's IoUMetric on train ids (what every config reports), and
* ``evalPixelLevelSemanticLabeling`` on the predictions written as label-id
  PNGs (what the benchmark server runs)

must agree to 1e-4 (they agree to float32 precision, ~1e-8).
"""
import glob
import importlib.util
import os.path as osp

import numpy as np
import pytest
import torch
from mmseg.datasets import CityscapesDataset
from mmseg.evaluation import IoUMetric
from PIL import Image

from conftest import REPO
from depict.evaluation import (CityscapesOfficialMetric, evaluate_official, write_prediction)
from depict.testing import make_cityscapes_release

CLASSES = CityscapesDataset.METAINFO['classes']


@pytest.fixture(scope='module')
def release(tmp_path_factory) -> dict:
    root = make_cityscapes_release(
        str(tmp_path_factory.mktemp('cs') / 'cityscapes'),
        splits={'val': {'frankfurt': 3, 'lindau': 2, 'munster': 2}}, seed=11)
    spec = importlib.util.spec_from_file_location(
        'cs_converter', osp.join(REPO, 'tools', 'dataset_converters', 'cityscapes.py'))
    converter = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(converter)
    assert converter.main([root, '--splits', 'val']) == 0
    frames = sorted(glob.glob(osp.join(root, 'leftImg8bit', 'val', '*', '*.png')))
    rng = np.random.default_rng(0)
    samples = []
    for frame in frames:
        stem = frame.replace('leftImg8bit/', 'gtFine/').replace('_leftImg8bit.png', '_gtFine_')
        gt = np.array(Image.open(stem + 'labelTrainIds.png')).astype(np.int64)
        # Mostly right, partly random; class 16 (train) is never predicted and
        # never in the ground truth: NaN for both evaluators, so left out of
        # both means.
        pred = np.where(rng.random(gt.shape) < 0.6, gt, rng.integers(0, 19, gt.shape))
        pred[(pred == 255) | (pred == 16)] = 0
        samples.append(dict(img_path=frame, seg_map_path=stem + 'labelTrainIds.png',
                            gt=gt, pred=pred, gt_label_ids=stem + 'labelIds.png'))
    return dict(root=root, samples=samples)


def _data_samples(samples: list[dict]) -> list[dict]:
    return [dict(img_path=s['img_path'], seg_map_path=s['seg_map_path'],
                 pred_sem_seg=dict(data=torch.from_numpy(s['pred'])[None]),
                 gt_sem_seg=dict(data=torch.from_numpy(s['gt'])[None])) for s in samples]


def _mmseg_iou(samples: list[dict]) -> tuple[float, np.ndarray, float]:
    """IoUMetric: its reported (rounded) mIoU and the unrounded per-class IoU."""
    metric = IoUMetric(iou_metrics=['mIoU'])
    metric.dataset_meta = CityscapesDataset.METAINFO
    metric.process({}, _data_samples(samples))
    reported = metric.compute_metrics(metric.results)['mIoU'] / 100
    areas = [sum(r[i] for r in metric.results) for i in range(4)]
    iou = IoUMetric.total_area_to_metrics(*areas, ['mIoU'])['IoU']
    return reported, np.asarray(iou, np.float64), float(np.nanmean(iou))


def test_iou_metric_equals_official_evaluator(release, tmp_path):
    samples = release['samples']
    reported, class_iou, miou = _mmseg_iou(samples)
    preds = [write_prediction(s['pred'], s['img_path'], str(tmp_path), 'cityscapes')
             for s in samples]
    official = evaluate_official(preds, [s['gt_label_ids'] for s in samples])

    # IoUMetric accumulates in float32: equal to float32 precision.
    assert abs(miou - official['mIoU']) < 1e-6
    assert abs(reported - official['mIoU']) <= 1e-4  # IoUMetric rounds to 0.01 %
    for name, iou in zip(CLASSES, class_iou):
        assert np.isnan(iou) == np.isnan(official['class_iou'][name]), name
        if not np.isnan(iou):
            assert abs(iou - official['class_iou'][name]) < 1e-6, name
    assert np.isnan(class_iou[CLASSES.index('train')])
    # Non-trivial: some classes right, some wrong.
    assert 0.2 < official['mIoU'] < 0.95
    # The official categories and iIoU are computed too (numpy 2.4 shim).
    assert 0 < official['mIoU_category'] < 1 and 0 < official['iIoU'] < 1


def test_prediction_files_are_label_ids(release, tmp_path):
    sample = release['samples'][0]
    path = write_prediction(sample['pred'], sample['img_path'], str(tmp_path), 'cityscapes')
    assert osp.basename(path) == osp.basename(sample['img_path'])  # *_leftImg8bit.png
    label_ids = np.array(Image.open(path))
    assert label_ids.shape == sample['pred'].shape
    assert set(np.unique(label_ids)) <= {7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26,
                                         27, 28, 31, 32, 33}
    assert ((label_ids == 7) == (sample['pred'] == 0)).all()  # road
    assert ((label_ids == 33) == (sample['pred'] == 18)).all()  # bicycle


def test_official_metric_in_a_loop(release):
    """CityscapesOfficialMetric (process/compute as mmengine calls them)."""
    metric = CityscapesOfficialMetric()
    metric.dataset_meta = CityscapesDataset.METAINFO
    samples = release['samples']
    for sample in _data_samples(samples):
        metric.process({}, [sample])
    scores = metric.compute_metrics(metric.results)
    _, _, miou = _mmseg_iou(samples)
    assert abs(scores['mIoU'] / 100 - miou) < 1e-6
    assert set(scores) == {'mIoU', 'iIoU', 'mIoU_category', 'iIoU_category'}


def test_official_errors_are_exceptions_not_exits(release, tmp_path):
    sample = release['samples'][0]
    small = tmp_path / 'small_leftImg8bit.png'
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(small)
    with pytest.raises(ValueError, match='original resolution'):
        evaluate_official([str(small)], [sample['gt_label_ids']])
    with pytest.raises(FileNotFoundError, match='instanceIds'):
        evaluate_official([sample['img_path']], [str(tmp_path / 'x_gtFine_labelIds.png')])
    # A prediction outside the label-id range: the script's own sys.exit
    # becomes an exception carrying its message.
    bad = tmp_path / 'bad_leftImg8bit.png'
    Image.fromarray(np.full(sample['pred'].shape, 200, np.uint8)).save(bad)
    with pytest.raises((RuntimeError, IndexError)):
        evaluate_official([str(bad)], [sample['gt_label_ids']], instance_level=False)


def test_folder_command_line(release, tmp_path, capsys):
    """python tools/misc/eval_cityscapes.py PRED_DIR gtFine/val"""
    spec = importlib.util.spec_from_file_location(
        'eval_cityscapes', osp.join(REPO, 'tools', 'misc', 'eval_cityscapes.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    main = tool.main

    samples = release['samples']
    for sample in samples:
        write_prediction(sample['pred'], sample['img_path'], str(tmp_path), 'cityscapes')
    assert main([str(tmp_path), osp.join(release['root'], 'gtFine', 'val')]) == 0
    lines = dict(line.rsplit(maxsplit=1) for line in capsys.readouterr().out.splitlines())
    _, _, miou = _mmseg_iou(samples)
    assert abs(float(lines['mIoU']) - 100 * miou) < 0.006
    assert 'road' in lines and 'train' not in lines  # NaN classes are not listed
    (tmp_path / f'{osp.basename(samples[0]["img_path"])[:-4]}_copy.png').write_bytes(b'')
    with pytest.raises(FileNotFoundError, match='2 predictions'):
        main([str(tmp_path), osp.join(release['root'], 'gtFine', 'val')])
