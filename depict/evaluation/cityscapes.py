"""Cityscapes' official pixel-level evaluator (cityscapesscripts), made usable.

Our mIoU (mmseg's ``IoUMetric`` on train ids) equals the official class mIoU
(``evalPixelLevelSemanticLabeling``'s "Score Average" of classes) to float
precision; ``tests/test_evaluation/test_cityscapes_official.py`` shows it on
generated data. Two things stand between the stack and the official script:

* mmseg 1.2.2's ``CityscapesMetric`` reports ``averageScoreCategories``, the
  mean IoU over the 7 *categories* (flat, construction, ...), not the 19-class
  mIoU that papers quote, and it switches on the instance-level score.
* cityscapesscripts 2.3.0's instance-level score (iIoU) and pixel accuracy call
  ``np.in1d``, which numpy 2.4 removed. :func:`evaluate_official` runs the
  official code unchanged with a numpy stand-in that adds ``in1d``
  (``np.isin``) for the duration of the call, in that module only.

:class:`CityscapesOfficialMetric` runs the official evaluator inside a test or
validation loop and reports the class mIoU, iIoU and the category scores.
"""
import contextlib
import copy
import glob
import io
import os
import os.path as osp
import shutil
import tempfile
import types
import weakref
from typing import Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from PIL import Image

from mmseg.registry import METRICS

from .formats import write_prediction

__all__ = ['evaluate_official', 'evaluate_folder', 'CityscapesOfficialMetric']


class _NumpyWithIn1d(types.ModuleType):
    """numpy, plus the ``in1d`` that cityscapesscripts still calls."""

    def __init__(self) -> None:
        super().__init__('numpy')

    def __getattr__(self, name: str):
        return getattr(np, name)

    @staticmethod
    def in1d(ar1, ar2, invert: bool = False) -> np.ndarray:
        return np.isin(np.asarray(ar1).ravel(), ar2, invert=invert)


@contextlib.contextmanager
def _official_numpy(module):
    if hasattr(np, 'in1d'):
        yield
        return
    original = module.np
    module.np = _NumpyWithIn1d()
    try:
        yield
    finally:
        module.np = original


def _check_pairs(pred_files: Sequence[str], gt_files: Sequence[str],
                 instance_level: bool) -> None:
    """Our own errors for what the official script answers with sys.exit."""
    if len(pred_files) != len(gt_files):
        raise ValueError(f'{len(pred_files)} predictions for {len(gt_files)} ground truths')
    for pred, gt in zip(pred_files, gt_files):
        needed = [pred, gt] + ([gt.replace('labelIds', 'instanceIds')] if instance_level else [])
        for path in needed:
            if not osp.isfile(path):
                raise FileNotFoundError(
                    f'{path} does not exist (the official evaluator needs the '
                    '*_gtFine_labelIds.png and, for iIoU, *_gtFine_instanceIds.png of the '
                    'release beside the *_labelTrainIds.png)')
        with Image.open(pred) as p, Image.open(gt) as g:
            if p.size != g.size:
                raise ValueError(f'{pred} is {p.size}, its ground truth {gt} is {g.size}: '
                                 'predictions must be at the original resolution')


def evaluate_official(pred_files: Sequence[str], gt_files: Sequence[str], *,
                      instance_level: bool = True) -> dict:
    """Runs cityscapesscripts' pixel-level evaluator on prediction files.

    Args:
        pred_files: PNGs of Cityscapes label ids (``*_leftImg8bit.png`` as
            :func:`~depict.evaluation.formats.write_prediction` writes them).
        gt_files: The matching ``*_gtFine_labelIds.png``.
        instance_level: Also compute the instance-weighted iIoU (needs the
            ``*_gtFine_instanceIds.png``).

    Returns:
        ``mIoU`` (mean over the 19 evaluated classes, as papers report it),
        ``mIoU_category``, ``iIoU``, ``iIoU_category`` (NaN without
        ``instance_level``), all in [0, 1], and the per-class ``class_iou``.
    """
    from cityscapesscripts.evaluation import evalPixelLevelSemanticLabeling as cs_eval

    pred_files, gt_files = list(map(str, pred_files)), list(map(str, gt_files))
    _check_pairs(pred_files, gt_files, instance_level)
    args = copy.copy(cs_eval.args)
    args.evalInstLevelScore = instance_level
    args.evalPixelAccuracy = False
    args.JSONOutput = False
    args.quiet = True
    args.colorized = False
    args.bold = args.nocol = ''
    printed = io.StringIO()
    try:
        with _official_numpy(cs_eval), contextlib.redirect_stdout(printed):
            result = cs_eval.evaluateImgLists(pred_files, gt_files, args)
    except SystemExit as err:  # the script's printError
        raise RuntimeError(f'cityscapesscripts failed: {printed.getvalue().strip()}') from err
    return dict(mIoU=result['averageScoreClasses'],
                mIoU_category=result['averageScoreCategories'],
                iIoU=result['averageScoreInstClasses'],
                iIoU_category=result['averageScoreInstCategories'],
                class_iou=dict(result['classScores']))


@METRICS.register_module()
class CityscapesOfficialMetric(BaseMetric):
    """Cityscapes' official class mIoU (and iIoU, category scores) in a loop.

    Writes each prediction as label ids, pairs it with the release's
    ``*_gtFine_labelIds.png`` (found beside the ``*_labelTrainIds.png`` the
    dataset reads) and runs :func:`evaluate_official` at the end. Reported
    (x100, like mmseg's metrics): ``cityscapes/mIoU``, ``cityscapes/iIoU``,
    ``cityscapes/mIoU_category``, ``cityscapes/iIoU_category``.

    Args:
        output_dir: Keep the label-id PNGs here (a shared folder for
            multi-node runs); by default a temporary folder, removed after.
        instance_level: Also compute iIoU (needs ``*_gtFine_instanceIds.png``).
    """
    default_prefix = 'cityscapes'

    def __init__(self, *, output_dir: Optional[str] = None, instance_level: bool = True,
                 collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if output_dir is None:
            output_dir = tempfile.mkdtemp(prefix='cityscapes_official_')
            weakref.finalize(self, shutil.rmtree, output_dir, True)
        os.makedirs(output_dir, exist_ok=True)
        self.output_dir = output_dir
        self.instance_level = instance_level

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            pred = sample['pred_sem_seg']['data'].squeeze(0).cpu().numpy()
            pred_file = write_prediction(pred, sample['img_path'], self.output_dir,
                                         'cityscapes')
            gt_file = sample['seg_map_path'].replace('_labelTrainIds.png', '_labelIds.png')
            self.results.append((pred_file, gt_file))

    def compute_metrics(self, results: list) -> dict:
        pred_files, gt_files = zip(*results)
        scores = evaluate_official(pred_files, gt_files, instance_level=self.instance_level)
        return {key: round(float(scores[key]) * 100, 4)
                for key in ('mIoU', 'iIoU', 'mIoU_category', 'iIoU_category')}


def evaluate_folder(pred_dir: str, gt_dir: str, *, instance_level: bool = True) -> dict:
    """Scores a folder of predictions against ``gtFine/<split>``.

    Pairs like the official script: the prediction of
    ``<city>_<seq>_<frame>_gtFine_labelIds.png`` is the one file
    ``<city>_<seq>_<frame>*.png`` anywhere under ``pred_dir``.
    """
    gt_files = sorted(glob.glob(osp.join(gt_dir, '*', '*_gtFine_labelIds.png')))
    if not gt_files:
        raise FileNotFoundError(f'no <city>/*_gtFine_labelIds.png under {gt_dir}')
    by_frame: dict[str, list[str]] = {}
    for path in glob.glob(osp.join(pred_dir, '**', '*.png'), recursive=True):
        frame = '_'.join(osp.basename(path).split('_')[:3])
        by_frame.setdefault(frame, []).append(path)
    pred_files = []
    for gt in gt_files:
        frame = osp.basename(gt)[:-len('_gtFine_labelIds.png')]
        found = by_frame.get(frame, [])
        if len(found) != 1:
            raise FileNotFoundError(f'{len(found)} predictions for {frame} under {pred_dir} '
                                    '(expected exactly one <frame>*.png)')
        pred_files.append(found[0])
    return evaluate_official(pred_files, gt_files, instance_level=instance_level)

