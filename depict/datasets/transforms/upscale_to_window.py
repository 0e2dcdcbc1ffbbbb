"""Test-time transforms for the papers' evaluation protocols.

See ``docs/protocols.md`` for the three multi-scale definitions and which paper
uses which; this module implements the one step mmseg lacks.
"""
from typing import Optional, Union

import mmcv
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

__all__ = ['UpscaleToWindow']


@TRANSFORMS.register_module()
class UpscaleToWindow(BaseTransform):
    """Upsamples a view that is smaller than the sliding window to cover it.

    Segmenter (Strudel et al., ICCV 2021; its ``segm/model/utils.py``
    ``resize``) and DEPICT (Wen & Li, NeurIPS 2024, which evaluates with
    Segmenter's code) resize every test view whose shorter side is below the
    window size so that the shorter side equals the window, keeping the aspect
    ratio, before sliding-window inference. At multi-scale test time this turns
    the 0.5x (and, for ADE20K at 640, the 0.75x) views into blurred full-window
    views rather than small ones, which changes the multi-scale mIoU. mmseg has
    no such step: its slide inference runs a single smaller crop instead.

    For a window (wh, ww) the view is scaled by ``max(wh / h, ww / w)`` if
    ``h < wh`` or ``w < ww``; for square windows this is exactly Segmenter's
    rule. The side that limits the scale becomes exactly the window side and
    the other side is truncated to an integer, as Segmenter does.

    The step resamples the already rescaled view (as Segmenter does, so the
    detail lost by the downscale stays lost). Predictions are resized back to
    the original image by the segmentor as usual (``ori_shape`` is untouched).

    Required keys: ``img``. Modified keys: ``img``, ``img_shape``,
    ``scale_factor`` (composed with the previous one) and ``gt_seg_map``
    (nearest) if present.

    Args:
        window_size: Sliding-window size ``(h, w)``, or an int for a square
            window; normally the config's ``slide_test_cfg['crop_size']``.
        interpolation: Image interpolation (Segmenter: bilinear).
    """

    def __init__(self, *, window_size: Union[int, tuple[int, int], list[int]],
                 interpolation: str = 'bilinear') -> None:
        if isinstance(window_size, int):
            window_size = (window_size, window_size)
        window_size = tuple(window_size)
        if len(window_size) != 2 or min(window_size) <= 0:
            raise ValueError(
                f'UpscaleToWindow: window_size must be a positive int or (h, w), got '
                f'{window_size!r}; pass slide_test_cfg["crop_size"] of the config')
        self.window_size = (int(window_size[0]), int(window_size[1]))
        self.interpolation = interpolation

    def target_size(self, height: int, width: int) -> Optional[tuple[int, int]]:
        """The upscaled ``(h, w)`` of a ``height x width`` view, or None if it
        already covers the window."""
        win_h, win_w = self.window_size
        if height >= win_h and width >= win_w:
            return None
        scale_h, scale_w = win_h / height, win_w / width
        if scale_h >= scale_w:
            # Height limits: it becomes the window height exactly.
            return win_h, max(win_w, int(width * scale_h))
        return max(win_h, int(height * scale_w)), win_w

    def transform(self, results: dict) -> dict:
        height, width = results['img'].shape[:2]
        size = self.target_size(height, width)
        if size is None:
            return results
        new_h, new_w = size
        results['img'] = mmcv.imresize(results['img'], (new_w, new_h),
                                       interpolation=self.interpolation, backend='cv2')
        if results.get('gt_seg_map') is not None:
            results['gt_seg_map'] = mmcv.imresize(results['gt_seg_map'], (new_w, new_h),
                                                  interpolation='nearest', backend='cv2')
        results['img_shape'] = (new_h, new_w)
        w_scale, h_scale = results.get('scale_factor', (1.0, 1.0))
        results['scale_factor'] = (w_scale * new_w / width, h_scale * new_h / height)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(window_size={self.window_size}, '
                f'interpolation={self.interpolation!r})')
