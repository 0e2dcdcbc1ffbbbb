"""Loading transforms whose errors name the file and the fix.

Drop-in replacements (same arguments) for mmcv's ``LoadImageFromFile`` and
mmseg's ``LoadAnnotations``. The originals fail on a broken file with an error
that names no file (OpenCV's ``!buf.empty()`` for a zero-byte image, Pillow's
``image file is truncated``, ``stack expects each tensor to be equal size`` for
an RGB label map) and load a label map whose size differs from its image
without a word, so that training learns misaligned labels. These raise
:class:`~depict.datasets.checker.DataFileError` naming the file instead, by the
rules of :mod:`depict.datasets.checker`.

``SegDataCheckHook`` already catches most of this before the first iteration
from the file headers (:func:`depict.datasets.checker.check_dataset_files`);
these catch what only decoding shows, in every worker, for every epoch.
"""
from typing import Optional

from mmcv.transforms import LoadImageFromFile
from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import TRANSFORMS

from ..checker import DataFileError, channels_problem, error_problem, size_problem

__all__ = ['DataFileError', 'CheckedLoadImageFromFile', 'CheckedLoadAnnotations']


@TRANSFORMS.register_module()
class CheckedLoadImageFromFile(LoadImageFromFile):
    """``LoadImageFromFile`` whose decode errors name the image file."""

    def transform(self, results: dict) -> Optional[dict]:
        path = results.get('img_path')
        try:
            return super().transform(results)
        except Exception as err:
            raise error_problem(path, err, label=False).error() from err


@TRANSFORMS.register_module()
class CheckedLoadAnnotations(LoadAnnotations):
    """``LoadAnnotations`` that names the label map that is unreadable, not
    single-channel, or not the size of its image."""

    def _load_seg_map(self, results: dict) -> None:
        path = results.get('seg_map_path')
        try:
            super()._load_seg_map(results)
        except Exception as err:
            raise error_problem(path, err, label=True).error() from err
        label = results['gt_seg_map']
        problem = channels_problem(path, shape=label.shape)
        # ori_shape: the image as loaded, before any Resize earlier in the pipeline.
        image_shape = results.get('ori_shape')
        if problem is None and image_shape is not None:
            problem = size_problem(path, label.shape, results.get('img_path'), image_shape)
        if problem is not None:
            raise problem.error()
