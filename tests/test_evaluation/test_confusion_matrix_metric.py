"""Confusion matrix counting, its metric and artefacts; agreement with IoUMetric."""
import json

import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.evaluation import IoUMetric
from mmseg.structures import SegDataSample
from PIL import Image

from depict.evaluation.confusion_matrix import (ConfusionMatrixMetric, confusion_matrix,
                                                matrix_metrics, normalize_matrix,
                                                save_confusion_matrix)


def test_counts_many_classes_in_uint8_without_wrapping():
    """mmseg's tool computes C * gt + pred in uint8, which wraps for C > 15."""
    num_classes = 150
    gt = np.array([[149, 3, 255], [0, 149, 7]], dtype=np.uint8)
    pred = np.array([[148, 3, 9], [0, 149, 100]], dtype=np.uint8)
    matrix = confusion_matrix(pred, gt, num_classes, ignore_index=255)
    assert matrix.dtype == np.int64 and matrix.sum() == 5  # the ignored pixel is skipped
    assert matrix[149, 148] == 1 and matrix[149, 149] == 1 and matrix[7, 100] == 1
    assert matrix[3, 3] == 1 and matrix[0, 0] == 1


def test_out_of_range_labels_are_named():
    with pytest.raises(ValueError, match=r'predicted labels \[8\]'):
        confusion_matrix(np.array([8, 1]), np.array([1, 1]), 8)
    with pytest.raises(ValueError, match='differ in shape'):
        confusion_matrix(np.zeros((2, 3)), np.zeros((3, 2)), 4)


def _samples(num_classes: int, count: int = 3, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(count):
        h, w = 13 + i, 17
        # Mostly right; class (num_classes - 1) is in neither ground truth nor prediction.
        gt = rng.integers(0, num_classes - 1, (1, h, w))
        noise = rng.integers(0, num_classes - 1, (1, h, w))
        pred = np.where(rng.random((1, h, w)) < 0.6, gt, noise)
        gt[0, :2] = 255
        sample = SegDataSample(metainfo=dict(img_path=f'img_{i}.jpg'))
        sample.gt_sem_seg = PixelData(data=torch.from_numpy(gt))
        sample.pred_sem_seg = PixelData(data=torch.from_numpy(pred))
        samples.append(sample.to_dict())
    return samples


def test_metric_agrees_with_iou_metric(tmp_path):
    num_classes = 6
    classes = tuple(f'c{i}' for i in range(num_classes))
    samples = _samples(num_classes)
    reference = IoUMetric(iou_metrics=['mIoU'])
    reference.dataset_meta = dict(classes=classes)
    metric = ConfusionMatrixMetric(output_dir=str(tmp_path))
    metric.dataset_meta = dict(classes=classes)
    for sample in samples:  # one per batch
        reference.process({}, [sample])
        metric.process({}, [sample])
    assert len(metric.results) == 1  # one running matrix, not one per image
    expected = reference.evaluate(len(samples))
    got = metric.evaluate(len(samples))
    for key in ('aAcc', 'mIoU', 'mAcc'):
        assert got[f'confusion/{key}'] == pytest.approx(float(expected[key]), abs=0.01)
    assert metric.matrix.shape == (num_classes, num_classes)
    record = json.loads((tmp_path / 'confusion_matrix.json').read_text())
    assert record['classes'] == list(classes)
    assert record['IoU'][-1] is None  # absent class: NaN in IoUMetric, null in JSON
    np.testing.assert_array_equal(np.load(tmp_path / 'confusion_matrix.npy'), metric.matrix)
    assert Image.open(tmp_path / 'confusion_matrix.png').size[0] > 100


def test_normalisation_modes():
    matrix = np.array([[3, 1], [0, 0]])
    rows = normalize_matrix(matrix, 'true')
    np.testing.assert_allclose(rows[0], [0.75, 0.25])
    assert np.isnan(rows[1]).all()  # no ground-truth pixels
    np.testing.assert_allclose(normalize_matrix(matrix, 'pred')[:, 0], [1, 0])
    assert normalize_matrix(matrix, 'all').sum() == pytest.approx(1)
    with pytest.raises(ValueError, match='normalize'):
        normalize_matrix(matrix, 'rows')


def test_plot_size_is_bounded_for_many_classes(tmp_path):
    num_classes = 40
    rng = np.random.default_rng(0)
    matrix = rng.integers(0, 100, (num_classes, num_classes))
    paths = save_confusion_matrix(matrix, [f'class {i}' for i in range(num_classes)],
                                  str(tmp_path), normalize='pred')
    width, height = Image.open(paths['png']).size
    assert 600 <= width <= 4000 and height <= 4000
    assert matrix_metrics(matrix)['mIoU'] > 0
