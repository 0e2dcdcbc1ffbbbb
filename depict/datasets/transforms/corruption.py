"""Common image corruptions (Hendrycks & Dietterich, ICLR 2019) as a test-time transform.

``ImageCorruption`` corrupts the loaded image before the test pipeline resizes
it, so that mmseg's own test loop and ``IoUMetric`` measure mIoU under a
corruption (``tools/analysis_tools/robustness.py``). The corruptions are those of
the ``imagecorruptions`` package (the ImageNet-C code packaged for arbitrary
image sizes, also used for Cityscapes-C / ADE20K-C style benchmarks), at their
published severities 1-5.

``imagecorruptions`` 1.1.2 (its last release, 2020) fails on three corruptions
with numpy 2 and current scikit-image; this module provides drop-in fixes that
compute the same thing:

* ``gaussian_blur`` and ``glass_blur`` call ``skimage.filters.gaussian(...,
  multichannel=True)``, an argument scikit-image removed (0.19 deprecated, 0.21
  removed it); the replacement is ``channel_axis=-1``.
* ``fog`` builds its plasma fractal with ``np.float_``, removed in numpy 2; the
  replacement is ``np.float64`` (what ``np.float_`` aliased).

``glass_blur`` keeps the reference implementation's pixel "swap" exactly: the
reference writes ``x[h, w], x[h', w'] = x[h', w'], x[h, w]`` on a colour image,
whose right-hand side holds numpy *views*, so the second assignment copies the
already overwritten pixel back; the effect is ``x[h, w] = x[h', w']`` (a local
copy, not a swap). Published corruption benchmarks were computed with that
behaviour, so it is reproduced (on an index map, which makes it ~20x faster
than the per-pixel numpy loop) rather than "fixed". Its offsets are drawn from
``randint(-d, d)``, i.e. in [-d, d-1], also as in the reference. The tests check
all three against the reference code run on a compatibility shim.

Randomness: every corruption draws from numpy's global generator. The
transform seeds it per image from (seed, image file name, corruption,
severity), so results do not depend on the data order or the number of
workers, and restores the generator's state afterwards.
"""
import os.path as osp
import zlib
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS
from PIL import Image

__all__ = ['COMMON_CORRUPTIONS', 'ImageCorruption', 'corrupt', 'fog', 'gaussian_blur',
           'glass_blur']

#: The 15 standard corruptions (imagecorruptions' "common" subset), in its order:
#: noise, blur, weather, digital.
COMMON_CORRUPTIONS = (
    'gaussian_noise', 'shot_noise', 'impulse_noise', 'defocus_blur', 'glass_blur',
    'motion_blur', 'zoom_blur', 'snow', 'frost', 'fog', 'brightness', 'contrast',
    'elastic_transform', 'pixelate', 'jpeg_compression')
#: The 4 extra "validation" corruptions of imagecorruptions.
VALIDATION_CORRUPTIONS = ('speckle_noise', 'gaussian_blur', 'spatter', 'saturate')


def _gaussian(image: np.ndarray, sigma: float) -> np.ndarray:
    from skimage.filters import gaussian
    return gaussian(image, sigma=sigma, channel_axis=-1)


def gaussian_blur(x: Image.Image, severity: int = 1) -> np.ndarray:
    """imagecorruptions' ``gaussian_blur``, for current scikit-image."""
    c = [1, 2, 3, 4, 6][severity - 1]
    x = _gaussian(np.array(x) / 255., c)
    return np.clip(x, 0, 1) * 255


def glass_blur(x: Image.Image, severity: int = 1) -> np.ndarray:
    """imagecorruptions' ``glass_blur`` for current scikit-image: blur, locally
    displace pixels, blur again (see the module docstring for the displacement)."""
    sigma, max_delta, iterations = [(0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2),
                                    (1.5, 4, 2)][severity - 1]
    x = np.uint8(_gaussian(np.array(x) / 255., sigma) * 255)
    height, width = x.shape[:2]
    # source[p]: which pixel of the blurred image position p (= h * width + w) holds.
    source = list(range(height * width))
    rows = range(height - max_delta, max_delta, -1)
    cols = range(width - max_delta, max_delta, -1)
    for _ in range(iterations):
        # One draw per visited pixel, in the reference's order (identical stream).
        offsets = np.random.randint(-max_delta, max_delta, size=(len(rows) * len(cols), 2))
        dx, dy = offsets[:, 0].tolist(), offsets[:, 1].tolist()
        k = 0
        for h in rows:
            for w in cols:
                source[h * width + w] = source[(h + dy[k]) * width + (w + dx[k])]
                k += 1
    x = x.reshape(height * width, -1)[source].reshape(height, width, -1)
    return np.clip(_gaussian(x / 255., sigma), 0, 1) * 255


def _plasma_fractal(mapsize: int = 256, wibbledecay: float = 3) -> np.ndarray:
    """Diamond-square height map in [0, 1] (imagecorruptions' ``plasma_fractal``
    with ``np.float64`` for the removed ``np.float_``)."""
    assert mapsize & (mapsize - 1) == 0, 'mapsize must be a power of two'
    maparray = np.empty((mapsize, mapsize), dtype=np.float64)
    maparray[0, 0] = 0
    stepsize = mapsize
    wibble = 100

    def wibbledmean(array):
        return array / 4 + wibble * np.random.uniform(-wibble, wibble, array.shape)

    def fillsquares():
        # Centre of each square: mean of its corners plus noise.
        cornerref = maparray[0:mapsize:stepsize, 0:mapsize:stepsize]
        squareaccum = cornerref + np.roll(cornerref, shift=-1, axis=0)
        squareaccum += np.roll(squareaccum, shift=-1, axis=1)
        maparray[stepsize // 2:mapsize:stepsize,
                 stepsize // 2:mapsize:stepsize] = wibbledmean(squareaccum)

    def filldiamonds():
        # Centre of each diamond: mean of its corners plus noise.
        drgrid = maparray[stepsize // 2:mapsize:stepsize, stepsize // 2:mapsize:stepsize]
        ulgrid = maparray[0:mapsize:stepsize, 0:mapsize:stepsize]
        ltsum = drgrid + np.roll(drgrid, 1, axis=0) + ulgrid + np.roll(ulgrid, -1, axis=1)
        maparray[0:mapsize:stepsize, stepsize // 2:mapsize:stepsize] = wibbledmean(ltsum)
        ttsum = drgrid + np.roll(drgrid, 1, axis=1) + ulgrid + np.roll(ulgrid, -1, axis=0)
        maparray[stepsize // 2:mapsize:stepsize, 0:mapsize:stepsize] = wibbledmean(ttsum)

    while stepsize >= 2:
        fillsquares()
        filldiamonds()
        stepsize //= 2
        wibble /= wibbledecay
    maparray -= maparray.min()
    return maparray / maparray.max()


def fog(x: Image.Image, severity: int = 1) -> np.ndarray:
    """imagecorruptions' ``fog`` for numpy 2."""
    strength, decay = [(1.5, 2), (2., 2), (2.5, 1.7), (2.5, 1.5), (3., 1.4)][severity - 1]
    x = np.array(x) / 255.
    height, width = x.shape[:2]
    map_size = 1 << (int(max(x.shape)) - 1).bit_length()  # next power of two
    max_val = x.max()
    layer = _plasma_fractal(mapsize=map_size, wibbledecay=decay)[:height, :width]
    x += strength * (layer[..., np.newaxis] if x.ndim == 3 else layer)
    return np.clip(x * max_val / (max_val + strength), 0, 1) * 255


_FIXED = {'gaussian_blur': gaussian_blur, 'glass_blur': glass_blur, 'fog': fog}


def corrupt(image: np.ndarray, corruption: str, severity: int) -> np.ndarray:
    """Corrupts an RGB uint8 (H, W, 3) or (H, W) image, like ``imagecorruptions.corrupt``.

    Uses numpy's global random generator (seed it for reproducible results).

    Raises:
        ValueError: unknown corruption, severity outside 1-5, image smaller than 32 px.
    """
    try:
        import imagecorruptions
    except ImportError as err:  # the [tools] extra
        raise ImportError('corruptions need the imagecorruptions package (and setuptools<81 '
                          'for its pkg_resources import): pip install -e ".[tools]"') from err
    names = COMMON_CORRUPTIONS + VALIDATION_CORRUPTIONS
    if corruption not in names:
        raise ValueError(f'unknown corruption {corruption!r}; choose from {", ".join(names)}')
    if severity not in (1, 2, 3, 4, 5):
        raise ValueError(f'severity must be 1-5, got {severity}')
    if image.dtype != np.uint8:
        raise ValueError(f'expected a uint8 image, got {image.dtype}')
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    if min(image.shape[:2]) < 32:
        raise ValueError(f'corruptions need images of at least 32x32 pixels, got {image.shape[:2]}')
    function = _FIXED.get(corruption, imagecorruptions.corruption_dict[corruption])
    # As imagecorruptions.corrupt: PIL input, truncating uint8 cast of the result.
    return np.uint8(function(Image.fromarray(image), severity))


@TRANSFORMS.register_module()
class ImageCorruption(BaseTransform):
    """Applies one of the common corruptions to ``results['img']``.

    Insert it right after ``LoadImageFromFile`` so that the image is corrupted
    at its original resolution, before any resizing, as in the corruption
    benchmarks.

    Required keys: ``img`` (BGR uint8, as ``LoadImageFromFile`` loads it).
    Modified keys: ``img``.

    Args:
        corruption: One of :data:`COMMON_CORRUPTIONS` (or the 4 validation ones).
        severity: 1-5; 0 leaves the image unchanged (the clean reference).
        seed: Base seed; the image file name, corruption and severity are mixed in.
    """

    def __init__(self, *, corruption: str, severity: int, seed: int = 0) -> None:
        names = COMMON_CORRUPTIONS + VALIDATION_CORRUPTIONS
        if corruption not in names:
            raise ValueError(f'unknown corruption {corruption!r}; choose from {", ".join(names)}')
        if severity not in range(6):
            raise ValueError(f'severity must be 0 (clean) to 5, got {severity}')
        self.corruption = corruption
        self.severity = severity
        self.seed = seed

    def _image_seed(self, results: dict) -> int:
        name = osp.basename(results.get('img_path') or '')
        key = f'{self.seed}/{name}/{self.corruption}/{self.severity}'.encode()
        return zlib.crc32(key)

    def transform(self, results: dict) -> Optional[dict]:
        if self.severity == 0:
            return results
        img = results['img']
        state = np.random.get_state()
        np.random.seed(self._image_seed(results))
        try:
            # BGR -> RGB for the corruption (colour casts such as fog, frost, spatter).
            rgb = img[..., ::-1] if img.ndim == 3 else img
            out = corrupt(np.ascontiguousarray(rgb), self.corruption, self.severity)
        finally:
            np.random.set_state(state)
        if img.ndim == 2:
            out = out[..., 0]
        else:
            out = np.ascontiguousarray(out[..., ::-1])  # RGB -> BGR
        results['img'] = out
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(corruption={self.corruption!r}, '
                f'severity={self.severity}, seed={self.seed})')
