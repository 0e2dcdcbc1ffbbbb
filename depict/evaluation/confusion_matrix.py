"""Pixel confusion matrices for mmseg 1.x: a metric, the counting, and the artefacts.

mmseg 1.2.2's ``tools/analysis_tools/confusion_matrix.py`` gives wrong matrices
on mmseg 1.x outputs:

* it subtracts 1 from the ground truth of ``reduce_zero_label`` datasets
  (ADE20K) although the dataset pipeline has already done so, on a ``uint8``
  array: labels shift twice and the ignore index 255 wraps to 254, so ignored
  pixels are counted;
* ``n * gt + pred`` is computed in ``uint8`` and wraps for more than 15
  classes, scattering counts over wrong cells (ADE20K has 150, Cityscapes 19);
* it ignores the ``+1`` that ``IoUMetric`` (``tools/test.py --out``) adds to
  the predictions it writes for ``reduce_zero_label`` datasets, and pairs
  predictions with images by sorted file order;
* it reads the class names from the class attribute ``METAINFO`` rather than
  the dataset's ``metainfo`` (config overrides are lost) and draws a figure of
  2 x n inches at 300 dpi (150 classes: 90000 x 72000 pixels).

Here the counting is done in int64 on the label maps the model and
``IoUMetric`` see (``ConfusionMatrixMetric``), or on prediction files paired
with the dataset by file name (``tools/analysis_tools/confusion_matrix.py``).
Rows are ground truth, columns predictions.
"""
import json
import os
import os.path as osp
from typing import Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmseg.registry import METRICS

__all__ = ['ConfusionMatrixMetric', 'confusion_matrix', 'matrix_metrics',
           'save_confusion_matrix']


def confusion_matrix(pred, gt, num_classes: int, ignore_index: int = 255) -> np.ndarray:
    """Counts (ground truth, prediction) pixel pairs.

    Args:
        pred: Predicted class indices (any shape), numpy or torch.
        gt: Ground-truth class indices, same shape; ``ignore_index`` pixels are skipped.
        num_classes: C.
        ignore_index: Ground-truth value to skip.

    Returns:
        (C, C) int64 counts, rows ground truth, columns prediction.

    Raises:
        ValueError: shapes differ, or a label is outside [0, C) (naming the values).
    """
    pred = pred.cpu().numpy() if isinstance(pred, torch.Tensor) else np.asarray(pred)
    gt = gt.cpu().numpy() if isinstance(gt, torch.Tensor) else np.asarray(gt)
    if pred.shape != gt.shape:
        raise ValueError(f'prediction {pred.shape} and ground truth {gt.shape} differ in shape')
    valid = gt != ignore_index
    # int64 before arithmetic: uint8 label maps would wrap in C * gt + pred.
    pred = pred[valid].astype(np.int64)
    gt = gt[valid].astype(np.int64)
    for name, values in (('ground-truth', gt), ('predicted', pred)):
        bad = (values < 0) | (values >= num_classes)
        if bad.any():
            raise ValueError(f'{name} labels {np.unique(values[bad])[:10].tolist()} are outside '
                             f'[0, {num_classes - 1}]: check num_classes, reduce_zero_label and '
                             'the label format')
    counts = np.bincount(num_classes * gt + pred, minlength=num_classes**2)
    return counts.reshape(num_classes, num_classes)


def matrix_metrics(matrix: np.ndarray) -> dict:
    """IoU / accuracy per class and aAcc / mIoU / mAcc (in %), as ``IoUMetric``
    computes them: classes absent from both ground truth and prediction are NaN
    and left out of the means."""
    matrix = matrix.astype(np.float64)
    intersect = np.diag(matrix)
    area_gt, area_pred = matrix.sum(1), matrix.sum(0)
    with np.errstate(divide='ignore', invalid='ignore'):
        iou = intersect / (area_gt + area_pred - intersect)
        acc = intersect / area_gt
        a_acc = intersect.sum() / matrix.sum()

    def mean(values):
        return float(np.nanmean(values) * 100) if np.isfinite(values).any() else float('nan')

    return dict(aAcc=float(a_acc * 100), mIoU=mean(iou), mAcc=mean(acc),
                IoU=(iou * 100).tolist(), Acc=(acc * 100).tolist())


def normalize_matrix(matrix: np.ndarray, mode: str = 'true') -> np.ndarray:
    """``true``: rows sum to 1 (recall per ground-truth class); ``pred``: columns
    sum to 1 (precision); ``all``: the whole matrix sums to 1; ``none``: counts.
    Rows / columns without pixels become NaN (drawn blank)."""
    matrix = matrix.astype(np.float64)
    with np.errstate(divide='ignore', invalid='ignore'):
        if mode == 'true':
            return matrix / matrix.sum(1, keepdims=True)
        if mode == 'pred':
            return matrix / matrix.sum(0, keepdims=True)
        if mode == 'all':
            return matrix / matrix.sum()
    if mode == 'none':
        return matrix
    raise ValueError(f'normalize must be true, pred, all or none, got {mode!r}')


def plot_confusion_matrix(matrix: np.ndarray, class_names: Sequence[str], path: str, *,
                          normalize: str = 'true', title: Optional[str] = None,
                          cmap: str = 'viridis') -> None:
    """Draws the (normalised) matrix with class names on both axes to a PNG.

    The figure grows with the number of classes but stays bounded (about
    4000 px for 150 classes); cell values are written for up to 25 classes.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    values = normalize_matrix(matrix, normalize)
    if normalize != 'none':
        values = values * 100
    n = len(class_names)
    side = min(40.0, max(6.0, 0.26 * n + 3))
    font = max(3.0, min(10.0, 400 / max(n, 1) / 2))
    fig, ax = plt.subplots(figsize=(side, side * 0.9), dpi=100)
    colours = plt.get_cmap(cmap)
    # NaN cells (no ground-truth / predicted pixels) in grey.
    colours = (colours.with_extremes(bad='#dddddd') if hasattr(colours, 'with_extremes')
               else colours)
    image = ax.imshow(np.ma.masked_invalid(values), cmap=colours, interpolation='nearest',
                      vmin=0, vmax=100 if normalize != 'none' else None)
    bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    bar.set_label('%' if normalize != 'none' else 'pixels')
    ax.set_xticks(range(n), labels=list(class_names), rotation=90, fontsize=font)
    ax.set_yticks(range(n), labels=list(class_names), fontsize=font)
    ax.set_xlabel('prediction')
    ax.set_ylabel('ground truth')
    what = {'true': 'normalised over ground truth (rows)', 'pred': 'normalised over predictions '
            '(columns)', 'all': 'normalised over all pixels', 'none': 'pixel counts'}[normalize]
    ax.set_title(f'{title}\n{what}' if title else f'Confusion matrix, {what}')
    if n <= 25:
        for i in range(n):
            for j in range(n):
                if np.isfinite(values[i, j]):
                    text = f'{values[i, j]:.0f}' if normalize != 'none' else f'{int(values[i, j])}'
                    ax.text(j, i, text, ha='center', va='center', fontsize=font * 0.9,
                            color='white' if values[i, j] < 0.5 * np.nanmax(values) else 'black')
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def save_confusion_matrix(matrix: np.ndarray, class_names: Sequence[str], out_dir: str, *,
                          normalize: str = 'true', title: Optional[str] = None,
                          extra: Optional[dict] = None) -> dict:
    """Writes ``confusion_matrix.npy`` (raw counts, int64), ``confusion_matrix.json``
    (counts, normalised matrix, per-class IoU / Acc, means, class names) and
    ``confusion_matrix.png``. Returns the paths."""
    os.makedirs(out_dir, exist_ok=True)
    paths = {ext: osp.join(out_dir, f'confusion_matrix.{ext}') for ext in ('npy', 'json', 'png')}
    np.save(paths['npy'], matrix.astype(np.int64))
    metrics = matrix_metrics(matrix)
    normalised = normalize_matrix(matrix, normalize)

    def clean(values):  # JSON has no NaN: null
        return [[None if not np.isfinite(v) else float(v) for v in row] for row in values]

    record = dict(classes=list(class_names), rows='ground truth', columns='prediction',
                  counts=matrix.astype(np.int64).tolist(), normalize=normalize,
                  normalized=clean(normalised),
                  IoU=[None if not np.isfinite(v) else v for v in metrics['IoU']],
                  Acc=[None if not np.isfinite(v) else v for v in metrics['Acc']],
                  aAcc=metrics['aAcc'], mIoU=metrics['mIoU'], mAcc=metrics['mAcc'],
                  **(extra or {}))
    with open(paths['json'], 'w') as f:
        json.dump(record, f, indent=1)
    plot_confusion_matrix(matrix, class_names, paths['png'], normalize=normalize, title=title)
    return paths


@METRICS.register_module()
class ConfusionMatrixMetric(BaseMetric):
    """Accumulates the pixel confusion matrix in mmseg's test/val loop.

    Compares ``pred_sem_seg`` with ``gt_sem_seg`` exactly as ``IoUMetric``
    does (same label space, same ignore index), so the derived mIoU equals
    ``IoUMetric``'s. Use it next to ``IoUMetric``:
    ``test_evaluator = [dict(type='IoUMetric'),
    dict(type='ConfusionMatrixMetric', output_dir=...)]``.

    Args:
        ignore_index: Ground-truth value to skip.
        output_dir: If set, the artefacts of :func:`save_confusion_matrix` are
            written there after evaluation (main process only).
        normalize: Normalisation of the plotted matrix (see :func:`normalize_matrix`).
        collect_device: ``cpu`` or ``gpu`` for gathering across processes.
        prefix: Metric name prefix (default ``confusion``), so that the keys do
            not collide with ``IoUMetric``'s.
    """
    default_prefix = 'confusion'

    def __init__(self, *, ignore_index: int = 255, output_dir: Optional[str] = None,
                 normalize: str = 'true', collect_device: str = 'cpu',
                 prefix: Optional[str] = None, **kwargs) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, **kwargs)
        normalize_matrix(np.zeros((1, 1)), normalize)  # validates the mode
        self.ignore_index = ignore_index
        self.output_dir = output_dir
        self.normalize = normalize
        #: The last computed (C, C) matrix, for callers that want the array.
        self.matrix: Optional[np.ndarray] = None

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        num_classes = len(self.dataset_meta['classes'])
        for sample in data_samples:
            pred = sample['pred_sem_seg']['data'].squeeze()
            gt = sample['gt_sem_seg']['data'].squeeze().to(pred)
            matrix = confusion_matrix(pred, gt, num_classes, self.ignore_index)
            # One running matrix per process: per-image matrices would take
            # C*C*8 bytes each (180 kB for ADE20K).
            if self.results:
                self.results[0] += matrix
            else:
                self.results.append(matrix)

    def compute_metrics(self, results: list) -> dict:
        self.matrix = np.sum(results, axis=0)
        metrics = matrix_metrics(self.matrix)
        if self.output_dir:
            paths = save_confusion_matrix(self.matrix, self.dataset_meta['classes'],
                                          self.output_dir, normalize=self.normalize)
            MMLogger.get_current_instance().info(
                f'confusion matrix written to {paths["png"]} (+ .npy, .json)')
        return {key: round(metrics[key], 2) for key in ('aAcc', 'mIoU', 'mAcc')}
