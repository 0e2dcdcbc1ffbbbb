"""UpscaleToWindow: Segmenter's "upsample views smaller than the window" step."""
import numpy as np
import pytest

from depict.datasets.transforms import UpscaleToWindow


def _results(height: int, width: int) -> dict:
    rng = np.random.default_rng(0)
    return dict(img=rng.integers(0, 255, (height, width, 3), dtype=np.uint8),
                img_shape=(height, width), scale_factor=(0.5, 0.5),
                gt_seg_map=rng.integers(0, 5, (height, width), dtype=np.uint8))


@pytest.mark.parametrize('height, width, expected', [
    (256, 341, (512, 682)),   # wide: height limits, width = int(341 * 2)
    (341, 256, (682, 512)),   # tall: the transpose
    (300, 300, (512, 512)),
    (200, 1000, (512, 2560)),
    (511, 4000, (512, 4007)),  # just below the window: int(4000 * 512 / 511)
])
def test_square_window_matches_segmenter_rule(height, width, expected):
    """Shorter side -> window, longer side -> int(long * window / short)."""
    out = UpscaleToWindow(window_size=512)(_results(height, width))
    assert out['img'].shape[:2] == expected
    assert out['img_shape'] == expected
    assert out['gt_seg_map'].shape == expected
    # Nearest-neighbour labels: no new values appear.
    assert set(np.unique(out['gt_seg_map'])) <= set(range(5))
    # The scale factor composes with the previous resize (0.5).
    w_scale, h_scale = out['scale_factor']
    assert w_scale == pytest.approx(0.5 * expected[1] / width)
    assert h_scale == pytest.approx(0.5 * expected[0] / height)


@pytest.mark.parametrize('height, width', [(512, 512), (512, 683), (900, 600)])
def test_views_covering_the_window_are_untouched(height, width):
    results = _results(height, width)
    image = results['img'].copy()
    out = UpscaleToWindow(window_size=(512, 512))(results)
    assert out['img'] is results['img'] and (out['img'] == image).all()
    assert out['scale_factor'] == (0.5, 0.5)


def test_non_square_window_covers_both_sides():
    """(h, w) window: the smallest scale that makes the view cover it."""
    transform = UpscaleToWindow(window_size=(512, 1024))
    assert transform.target_size(400, 1200) == (512, 1536)   # height limits
    assert transform.target_size(600, 700) == (877, 1024)    # width limits
    assert transform.target_size(512, 1024) is None
    out = transform(_results(300, 500))
    height, width = out['img'].shape[:2]
    assert height >= 512 and width >= 1024 and (height == 512 or width == 1024)


@pytest.mark.parametrize('bad', [0, (512, ), (512, -1)])
def test_bad_window_names_the_fix(bad):
    with pytest.raises(ValueError, match='slide_test_cfg'):
        UpscaleToWindow(window_size=bad)


def test_registered_for_configs():
    from mmseg.registry import TRANSFORMS
    transform = TRANSFORMS.build(dict(type='UpscaleToWindow', window_size=[480, 480]))
    assert isinstance(transform, UpscaleToWindow) and transform.window_size == (480, 480)
