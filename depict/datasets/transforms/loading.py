"""Loading transforms whose errors name the file and the fix.

Drop-in replacements (same arguments) for mmcv's ``LoadImageFromFile`` and
mmseg's ``LoadAnnotations``. The originals fail on a broken file with an error
that names no file (OpenCV's ``!buf.empty()`` for a zero-byte image, Pillow's
``image file is truncated``, ``stack expects each tensor to be equal size`` for
an RGB label map) and load a label map whose size differs from its image
without a word, so that training learns misaligned labels. These raise
:class:`DataFileError` naming the file instead.

``SegDataCheckHook`` already catches most of this before the first iteration
from the file headers (:func:`depict.engine.preflight.check_dataset_files`);
these catch what only decoding shows, in every worker, for every epoch.
"""
from typing import Optional

from mmcv.transforms import LoadImageFromFile
from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import TRANSFORMS

__all__ = ['DataFileError', 'CheckedLoadImageFromFile', 'CheckedLoadAnnotations']

_SCAN_HINT = 'python tools/misc/check_dataset.py CONFIG --split train lists every bad file'


class DataFileError(ValueError):
    """A dataset file that cannot be used; the message names it and the fix."""


@TRANSFORMS.register_module()
class CheckedLoadImageFromFile(LoadImageFromFile):
    """``LoadImageFromFile`` whose decode errors name the image file."""

    def transform(self, results: dict) -> Optional[dict]:
        path = results.get('img_path')
        try:
            return super().transform(results)
        except Exception as err:
            size = _file_size(path)
            what = 'is empty (0 bytes)' if size == 0 else f'cannot be decoded ({_describe(err)})'
            raise DataFileError(
                f'image {path} {what}. Replace it with an intact copy from the dataset '
                f'archive, or remove it (and its label map) from the split; {_SCAN_HINT}.'
            ) from err


@TRANSFORMS.register_module()
class CheckedLoadAnnotations(LoadAnnotations):
    """``LoadAnnotations`` that names the label map that is unreadable, not
    single-channel, or not the size of its image."""

    def _load_seg_map(self, results: dict) -> None:
        path = results.get('seg_map_path')
        try:
            super()._load_seg_map(results)
        except Exception as err:
            size = _file_size(path)
            what = 'is empty (0 bytes)' if size == 0 else f'cannot be decoded ({_describe(err)})'
            raise DataFileError(
                f'label map {path} {what}. Replace it with an intact copy (or re-run the '
                f"dataset's converter); {_SCAN_HINT}.") from err
        label = results['gt_seg_map']
        if label.ndim != 2:
            raise DataFileError(
                f'label map {path} has shape {label.shape}: label maps must be single-channel '
                'class indices (mode L or P), not colour renderings. Use the class-index '
                'files of the dataset (e.g. Cityscapes *_labelTrainIds.png, not *_color.png) '
                'or convert the colours to indices with the palette.')
        # ori_shape: the image as loaded, before any Resize earlier in the pipeline.
        image_shape = results.get('ori_shape')
        if image_shape is not None and tuple(image_shape[:2]) != label.shape:
            raise DataFileError(
                f'label map {path} is {label.shape[1]}x{label.shape[0]} (WxH) but its image '
                f'{results.get("img_path")} is {image_shape[1]}x{image_shape[0]}: labels '
                'would be misaligned. Pair each image with its own full-size label map (do '
                'not resize one without the other).')


def _file_size(path) -> Optional[int]:
    import os
    try:
        return os.path.getsize(path)
    except (OSError, TypeError):
        return None


def _describe(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return f'{type(err).__name__}: {text[-1] if text else ""}'
