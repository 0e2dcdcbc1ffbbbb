"""Common corruptions: the three fixed ones equal the reference code, the
transform is deterministic per image and works in a test pipeline."""
import warnings

import numpy as np
import pytest
import skimage.filters
from mmcv.transforms import Compose

from depict.datasets.transforms.corruption import (COMMON_CORRUPTIONS, ImageCorruption, corrupt, fog,
                                        gaussian_blur, glass_blur)

with warnings.catch_warnings():
    warnings.simplefilter('ignore')
    import imagecorruptions
    import imagecorruptions.corruptions as reference


def _image(height=40, width=52, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # Smooth structure plus texture, so blurs and displacements show.
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([(xx * 5) % 256, (yy * 7) % 256, ((xx + yy) * 3) % 256], -1)
    return np.clip(base + rng.integers(0, 40, base.shape), 0, 255).astype(np.uint8)


@pytest.fixture
def reference_shim(monkeypatch):
    """Runs the unmodified imagecorruptions 1.1.2 code on current numpy /
    scikit-image by translating the two removed APIs it uses."""
    def gaussian(image, sigma, multichannel=None, **kwargs):
        if multichannel is not None:
            kwargs['channel_axis'] = -1 if multichannel else None
        return skimage.filters.gaussian(image, sigma=sigma, **kwargs)

    monkeypatch.setattr(reference, 'gaussian', gaussian)
    monkeypatch.setattr(np, 'float_', np.float64, raising=False)


@pytest.mark.parametrize('severity', [1, 2, 3, 4, 5])
@pytest.mark.parametrize('name,fixed', [('gaussian_blur', gaussian_blur),
                                        ('glass_blur', glass_blur), ('fog', fog)])
def test_fixed_corruptions_equal_the_reference(reference_shim, name, fixed, severity):
    from PIL import Image
    image = Image.fromarray(_image())
    np.random.seed(7)
    expected = getattr(reference, name)(image, severity)
    np.random.seed(7)
    got = fixed(image, severity)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)


def test_reference_is_broken_without_the_fixes():
    """Why the fixes exist (spec section 5): if imagecorruptions is ever fixed
    upstream, this fails and the fixes can go."""
    image = _image()
    for name in ('gaussian_blur', 'glass_blur', 'fog'):
        with pytest.raises((TypeError, AttributeError)):
            imagecorruptions.corrupt(image, severity=1, corruption_name=name)


@pytest.mark.parametrize('name', COMMON_CORRUPTIONS)
def test_every_common_corruption_runs(name):
    image = _image(48, 64)
    np.random.seed(0)
    out = corrupt(image, name, 3)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert not np.array_equal(out, image)


def test_transform_deterministic_per_image_and_restores_rng():
    image = _image(48, 64)
    transform = ImageCorruption(corruption='gaussian_noise', severity=2)
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    a = transform(dict(img=image.copy(), img_path='/data/a/img_0001.jpg'))['img']
    assert np.array_equal(np.random.get_state()[1], before)
    b = transform(dict(img=image.copy(), img_path='/elsewhere/img_0001.jpg'))['img']
    c = transform(dict(img=image.copy(), img_path='/data/a/img_0002.jpg'))['img']
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    clean = ImageCorruption(corruption='fog', severity=0)(dict(img=image, img_path='x.jpg'))
    assert clean['img'] is image


def test_transform_works_in_bgr():
    """The corruption sees RGB (brightness works in HSV, so channel order
    matters): the BGR result is the RGB result with channels reversed."""
    image = _image(48, 64)
    out = ImageCorruption(corruption='brightness', severity=5)(
        dict(img=image[..., ::-1].copy(), img_path='a.jpg'))['img']
    np.random.seed(0)
    expected = corrupt(image, 'brightness', 5)
    np.testing.assert_array_equal(out[..., ::-1], expected)


def test_invalid_arguments():
    with pytest.raises(ValueError, match='unknown corruption'):
        ImageCorruption(corruption='rain', severity=1)
    with pytest.raises(ValueError, match='severity'):
        ImageCorruption(corruption='fog', severity=6)
    with pytest.raises(ValueError, match='at least 32'):
        corrupt(np.zeros((16, 40, 3), np.uint8), 'fog', 1)


def test_in_a_test_pipeline(tiny_toy_root):
    import glob

    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')
    img_path = sorted(glob.glob(f'{tiny_toy_root}/images/validation/*.jpg'))[0]
    pipeline = Compose([dict(type='LoadImageFromFile'),
                        dict(type='ImageCorruption', corruption='motion_blur', severity=3),
                        dict(type='Resize', scale=(128, 96), keep_ratio=True)])
    results = pipeline(dict(img_path=img_path))
    assert results['img'].dtype == np.uint8 and results['img'].ndim == 3
