"""Predictions in the format each benchmark's server / official evaluator reads.

* Cityscapes: one ``<frame>_leftImg8bit.png`` per image holding Cityscapes
  label ids (not train ids), as cityscapesscripts'
  ``evalPixelLevelSemanticLabeling`` and the benchmark server expect (and as
  mmseg's ``CityscapesMetric(format_only=True)`` writes them).
* ADE20K, PASCAL Context and any other label-map dataset: one
  ``<image name>.png`` per image in the dataset's own label convention, i.e.
  with ``reduce_zero_label`` undone (ADE20K: 1..150; PASCAL Context 59:
  1..59, 0 = background; 60 classes: 0..59 unchanged).

:class:`SegPredictionWriter` is the metric that writes them
(``tools/test.py --out DIR`` adds it); :func:`add_prediction_writer` edits a
config to do so.
"""
import copy
import os
import os.path as osp
from typing import Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from PIL import Image

from mmseg.registry import METRICS

__all__ = ['SegPredictionWriter', 'add_prediction_writer', 'prediction_format',
           'train_ids_to_label_ids', 'write_prediction']

FORMATS = ('auto', 'cityscapes', 'label_map')


def train_ids_to_label_ids(train_ids: np.ndarray) -> np.ndarray:
    """Cityscapes train ids (0..18) -> label ids (7..33), cityscapesscripts' table.

    Values that are no train id (e.g. 255) become 0 (``unlabeled``).
    """
    from cityscapesscripts.helpers.labels import trainId2label

    lut = np.zeros(256, np.uint8)
    for train_id, label in trainId2label.items():
        if 0 <= train_id < 255:
            lut[train_id] = label.id
    return lut[train_ids.astype(np.int64)]


def prediction_format(dataset_meta: Optional[dict]) -> str:
    """'cityscapes' for Cityscapes' 19 classes, else 'label_map'."""
    from mmseg.datasets import CityscapesDataset

    classes = tuple((dataset_meta or {}).get('classes', ()))
    return 'cityscapes' if classes == tuple(CityscapesDataset.METAINFO['classes']) \
        else 'label_map'


def write_prediction(pred: np.ndarray, img_path: str, output_dir: str, fmt: str,
                     reduce_zero_label: bool = False) -> str:
    """Writes one (H, W) prediction of class indices; returns the PNG path.

    Args:
        pred: Predicted class indices in the model's label space.
        img_path: The input image; names the output (``<stem>.png``).
        output_dir: Destination folder (flat, as the servers want it).
        fmt: ``'cityscapes'`` (label ids) or ``'label_map'``.
        reduce_zero_label: Whether the dataset shifted its labels down by one
            (then +1 restores the on-disk convention).
    """
    if fmt == 'cityscapes':
        out = train_ids_to_label_ids(pred)
    elif fmt == 'label_map':
        out = pred + 1 if reduce_zero_label else pred
        if out.max(initial=0) > 255:
            raise ValueError(f'class index {int(out.max())} does not fit an 8-bit PNG')
    else:
        raise ValueError(f'unknown prediction format {fmt!r}; use one of {FORMATS[1:]}')
    stem = osp.splitext(osp.basename(img_path))[0]
    path = osp.abspath(osp.join(output_dir, f'{stem}.png'))
    Image.fromarray(out.astype(np.uint8)).save(path)
    return path


@METRICS.register_module()
class SegPredictionWriter(BaseMetric):
    """Writes every prediction as a PNG in its benchmark's submission format.

    A "metric" so that it runs inside mmengine's test loop beside (or, for
    test splits without labels, instead of) the real metrics; it reports no
    numbers. Each process writes its own images, so it works unchanged under
    distributed testing.

    Args:
        output_dir: Folder for the PNGs (created).
        format: ``'auto'`` (Cityscapes label ids for Cityscapes' classes,
            otherwise label maps), ``'cityscapes'`` or ``'label_map'``.
    """
    default_prefix = 'predictions'

    def __init__(self, *, output_dir: str, format: str = 'auto',
                 collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if format not in FORMATS:
            raise ValueError(f'SegPredictionWriter: format={format!r}; use one of {FORMATS}')
        self.output_dir = output_dir
        self.format = format
        os.makedirs(output_dir, exist_ok=True)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        meta = self.dataset_meta or {}
        fmt = prediction_format(meta) if self.format == 'auto' else self.format
        for sample in data_samples:
            pred = sample['pred_sem_seg']['data'].squeeze(0).cpu().numpy()
            # The dataset's flag, not the sample's: test splits without
            # annotations carry no `reduce_zero_label` in their metainfo.
            reduce = bool(meta.get('reduce_zero_label', sample.get('reduce_zero_label', False)))
            write_prediction(pred, sample['img_path'], self.output_dir, fmt, reduce)
            self.results.append(1)

    def compute_metrics(self, results: list) -> dict:
        fmt = prediction_format(self.dataset_meta) if self.format == 'auto' else self.format
        print_log(f'wrote {len(results)} predictions ({fmt} format) to {self.output_dir}',
                  logger='current')
        return {}


def _without_annotations(pipeline: list) -> list:
    """The pipeline with every LoadAnnotations removed (TestTimeAug included)."""
    out = []
    for transform in pipeline:
        if isinstance(transform, (list, tuple)):
            stage = _without_annotations(transform)
            if stage:
                out.append(stage)
            continue
        if transform.get('type', '').split('.')[-1] == 'LoadAnnotations':
            continue
        transform = copy.deepcopy(transform)
        if 'transforms' in transform:
            transform['transforms'] = _without_annotations(transform['transforms'])
        out.append(transform)
    return out


def add_prediction_writer(cfg, output_dir: str, *, format_only: bool = False,
                          fmt: str = 'auto') -> None:
    """Makes ``cfg``'s test run write its predictions to ``output_dir``.

    Args:
        cfg: The (mmengine) config; edited in place.
        output_dir: Destination of the PNGs.
        format_only: Test splits without labels (ADE20K ``release_test``,
            submissions): evaluate nothing and do not load annotations.
        fmt: See :class:`SegPredictionWriter`.
    """
    writer = dict(type='SegPredictionWriter', output_dir=output_dir, format=fmt)
    if format_only:
        cfg.test_evaluator = [writer]
        dataset = cfg.test_dataloader.dataset
        dataset.pipeline = _without_annotations(dataset.pipeline)
        return
    evaluators = cfg.get('test_evaluator') or []
    if isinstance(evaluators, dict):
        evaluators = [evaluators]
    cfg.test_evaluator = list(evaluators) + [writer]
