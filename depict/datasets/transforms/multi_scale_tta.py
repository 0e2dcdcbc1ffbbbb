"""The multi-scale, flip test-time augmentation of every evaluation protocol.

Three definitions of "multi-scale" are in use (``docs/protocols.md``); they
differ in what the ratios multiply and in whether small views are upsampled
to the sliding window:

============  ==============  ===========  ===============================
protocol      ``ratios_of``   ``window``   used by
============  ==============  ===========  ===============================
tta_paper     ``'test_size'`` the crop     Segmenter, DEPICT
tta_mmseg0x   ``'test_size'`` ``None``     mmseg 0.x, SegViT
tta_mmseg     ``'original'``  ``None``     mmseg 1.x
============  ==============  ===========  ===============================

:class:`MultiScaleTTA` states a protocol with these literals in a config and
expands to mmcv's :class:`~mmcv.transforms.TestTimeAug`, so mmseg's
``SegTTAModel`` merges the views as usual.
"""
import copy
from typing import List, Optional, Sequence

from mmcv.transforms import TestTimeAug
from mmseg.registry import TRANSFORMS

__all__ = ['MultiScaleTTA']

RATIOS_OF = ('test_size', 'original')


@TRANSFORMS.register_module()
class MultiScaleTTA(TestTimeAug):
    """Every (scale ratio x flip) view of an image, then the shared tail.

    The views, in mmcv's order (ratio-major, then no flip / flip):

    * ``ratios_of='test_size'``: ``Resize(scale=(int(W * r), int(H * r)),
      keep_ratio=True)`` with ``scale = (W, H)`` the single-scale test size;
      ratio 1.0 is the single-scale view.
    * ``ratios_of='original'``: ``Resize(scale_factor=r, keep_ratio=True)``,
      ratios of the image as loaded (mmseg 1.x; ``scale`` must be left out).
    * ``window=(h, w)``: each view smaller than the window is then upsampled
      to cover it (:class:`UpscaleToWindow`, Segmenter / DEPICT).

    Args:
        ratios: The scale ratios, e.g. ``[0.5, 0.75, 1.0, 1.25, 1.5, 1.75]``.
        ratios_of: ``'test_size'`` or ``'original'`` (see above).
        scale: The single-scale test size ``(W, H)`` for ``'test_size'``
            (a ``Resize(scale=..., keep_ratio=True)`` target).
        window: The sliding window ``(h, w)`` to upsample small views to, or
            ``None``.
        flip: Add the horizontally flipped twin of every view.
        then: Transforms applied to every view afterwards, one stage each
            (default: ``LoadAnnotations`` then ``PackSegInputs``, so metrics
            compare against the label map at its original size).

    Attributes:
        transforms: The expanded stages as transform configs: the
            ``transforms`` of the equivalent ``TestTimeAug`` config.
    """

    def __init__(self, *, ratios: Sequence[float], ratios_of: str = 'test_size',
                 scale: Optional[Sequence[int]] = None,
                 window: Optional[Sequence[int]] = None, flip: bool = True,
                 then: Optional[List[dict]] = None) -> None:
        if ratios_of not in RATIOS_OF:
            raise ValueError(f'MultiScaleTTA: ratios_of must be one of {RATIOS_OF}, got '
                             f'{ratios_of!r}')
        if ratios_of == 'test_size' and scale is None:
            raise ValueError("MultiScaleTTA: ratios_of='test_size' multiplies the single-scale "
                             'test size; give it as scale=(W, H), the Resize scale of the '
                             "config's test_pipeline.")
        if ratios_of == 'original' and scale is not None:
            raise ValueError("MultiScaleTTA: ratios_of='original' scales the image as loaded "
                             f'and ignores scale={tuple(scale)}; leave scale out, or use '
                             "ratios_of='test_size'.")
        if not ratios:
            raise ValueError('MultiScaleTTA: ratios is empty; give at least one scale ratio.')
        self.ratios = [float(r) for r in ratios]
        self.ratios_of = ratios_of
        self.scale = None if scale is None else tuple(scale)
        self.window = None if window is None else tuple(window)
        self.flip = flip
        if then is None:
            then = [dict(type='LoadAnnotations'), dict(type='PackSegInputs')]
        stages = self.stages(then)
        # The stages as configs, i.e. the `transforms` a TestTimeAug config would
        # list; kept because TestTimeAug builds its argument in place.
        self.transforms = copy.deepcopy(stages)
        super().__init__(transforms=stages)

    def resize_views(self) -> List[dict]:
        """One ``Resize`` per ratio."""
        if self.ratios_of == 'original':
            return [dict(type='Resize', scale_factor=r, keep_ratio=True) for r in self.ratios]
        width, height = self.scale
        return [dict(type='Resize', keep_ratio=True, scale=(int(width * r), int(height * r)))
                for r in self.ratios]

    def stages(self, then: List[dict]) -> List[List[dict]]:
        """mmcv ``TestTimeAug`` stages: every combination of one entry per stage."""
        stages = [self.resize_views()]
        if self.window is not None:
            stages.append([dict(type='UpscaleToWindow', window_size=self.window)])
        if self.flip:
            stages.append([dict(type='RandomFlip', prob=0., direction='horizontal'),
                           dict(type='RandomFlip', prob=1., direction='horizontal')])
        return stages + [[transform] for transform in then]

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(ratios={self.ratios}, ratios_of={self.ratios_of!r}, '
                f'scale={self.scale}, window={self.window}, flip={self.flip})')
