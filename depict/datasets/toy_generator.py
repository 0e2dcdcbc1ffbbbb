"""The embedded toy dataset: procedurally generated scenes in ADE20K's layout.

It exists so that every command in the README works on any machine without a
download, and so that decoders can be compared on a task that is learnable in
minutes on a CPU but not trivial.

Scenes (see ``docs/toy_dataset.md`` for pictures of the classes):

* a horizon at a random height splits the image into ``sky`` (smooth vertical
  gradient) above and ``ground`` (grainy noise) below;
* 2-5 objects are drawn over it in random order (later ones occlude earlier
  ones): ``ball`` (disc, stripes), ``balloon`` (disc, flat shading), ``ring``
  (annulus, any texture), ``tent`` (triangle, dots), and checkered rectangles
  that are ``crate`` when their centre is below the horizon and ``kite`` when it
  is above.

Every region's colours are drawn uniformly at random per image, so colour
carries no information about the class: a model must use texture (``ball`` vs
``balloon``), shape (``ball`` vs ``ring``) and context (``crate`` vs ``kite``,
which look identical). A one-pixel band on every object's outline is labelled 0
("unlabelled", ignored with ``reduce_zero_label=True``), like ADE20K's ``other``.

Layout, exactly ADE20K's::

    data/toy/
      images/{training,validation}/toy_{split}_00000.jpg
      annotations/{training,validation}/toy_{split}_00000.png   (uint8, 0..8)
"""
import os
import os.path as osp
import shutil
import tempfile
from typing import Callable, Optional

import numpy as np
from PIL import Image

__all__ = ['TOY_CLASSES', 'TOY_PALETTE', 'generate_toy_dataset', 'render_toy_scene']

#: Class names in label order (label value = index + 1; 0 is "unlabelled").
TOY_CLASSES = ('sky', 'ground', 'ball', 'crate', 'kite', 'tent', 'balloon', 'ring')
TOY_PALETTE = [[120, 170, 230], [140, 110, 70], [230, 60, 60], [200, 150, 40],
               [160, 60, 200], [60, 180, 90], [250, 120, 200], [40, 200, 220]]

SKY, GROUND, BALL, CRATE, KITE, TENT, BALLOON, RING = range(1, 9)
UNLABELLED = 0

#: Image sizes (H, W): mostly square, some wide, so that non-square inputs and
#: slide-inference edge crops are exercised.
IMAGE_SIZES = ((96, 96), (96, 96), (96, 128))


def _random_colour(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0, 255, size=3)


def _two_colours(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two random colours far enough apart for the texture to be visible."""
    first = _random_colour(rng)
    while True:
        second = _random_colour(rng)
        if np.abs(first - second).sum() > 120:
            return first, second


def _mix(mask: np.ndarray, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """(H, W) weights in [0, 1] -> (H, W, 3) blend of two colours."""
    return mask[..., None] * first + (1.0 - mask[..., None]) * second


def _stripes(ys, xs, rng):
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(4, 8)
    phase = (xs * np.cos(angle) + ys * np.sin(angle)) / period
    return (np.sin(2 * np.pi * phase) > 0).astype(np.float64)


def _checker(ys, xs, rng):
    cell = rng.integers(3, 6)
    return (((ys // cell) + (xs // cell)) % 2).astype(np.float64)


def _dots(ys, xs, rng):
    cell = rng.integers(5, 8)
    dy, dx = ys % cell - cell / 2, xs % cell - cell / 2
    return (dy ** 2 + dx ** 2 < (cell / 3.2) ** 2).astype(np.float64)


def _flat(ys, xs, rng):
    # Soft radial shading: smooth, no repeating pattern.
    cy, cx = ys.mean(), xs.mean()
    dist = np.sqrt((ys - cy) ** 2 + (xs - cx) ** 2)
    return np.clip(1.0 - dist / (dist.max() + 1e-6), 0, 1) * 0.6 + 0.2


TEXTURES: dict[str, Callable] = dict(stripes=_stripes, checker=_checker, dots=_dots,
                                     flat=_flat)


def _disc(ys, xs, cy, cx, radius):
    return (ys - cy) ** 2 + (xs - cx) ** 2 < radius ** 2


def _annulus(ys, xs, cy, cx, radius):
    dist2 = (ys - cy) ** 2 + (xs - cx) ** 2
    return (dist2 < radius ** 2) & (dist2 > (0.55 * radius) ** 2)


def _rectangle(ys, xs, cy, cx, radius, rng):
    half_h, half_w = radius * rng.uniform(0.6, 1.0), radius * rng.uniform(0.6, 1.0)
    return (np.abs(ys - cy) < half_h) & (np.abs(xs - cx) < half_w)


def _triangle(ys, xs, cy, cx, radius, rng):
    # Upright isosceles triangle: apex above the centre, base below.
    top, base = cy - radius, cy + radius * 0.8
    half_base = radius * rng.uniform(0.8, 1.2)
    frac = np.clip((ys - top) / (base - top), 0, None)
    return (ys >= top) & (ys <= base) & (np.abs(xs - cx) <= frac * half_base)


def _outline(mask: np.ndarray) -> np.ndarray:
    """Pixels of ``mask`` with a 4-neighbour outside it (a 1-px inner border)."""
    padded = np.pad(mask, 1, mode='edge')
    interior = (padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2]
                & padded[1:-1, 2:])
    return mask & ~interior


def render_toy_scene(rng: np.random.Generator, height: int = 96,
                     width: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """Renders one scene.

    Args:
        rng: Source of randomness; the scene is a pure function of its state.
        height: Image height in pixels.
        width: Image width in pixels.

    Returns:
        The RGB image, (H, W, 3) uint8, and its label map, (H, W) uint8 with
        values 0 (unlabelled) and 1..8 (:data:`TOY_CLASSES`).
    """
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    horizon = rng.uniform(0.3, 0.65) * height

    # Background: sky (vertical gradient) above the horizon, ground (grain) below.
    sky_top, sky_bottom = _two_colours(rng)
    image = _mix(ys / height, sky_bottom, sky_top)
    ground_a, ground_b = _two_colours(rng)
    grain = rng.random((height, width))
    ground = _mix((grain > 0.5).astype(np.float64), ground_a, ground_b)
    below = ys >= horizon
    image[below] = ground[below]
    label = np.where(below, GROUND, SKY).astype(np.uint8)

    outlines = np.zeros((height, width), dtype=bool)
    for _ in range(rng.integers(2, 5)):
        kind = rng.choice(['ball', 'balloon', 'ring', 'tent', 'box'])
        radius = rng.uniform(0.12, 0.28) * min(height, width)
        cy, cx = rng.uniform(radius, height - radius), rng.uniform(radius, width - radius)
        if kind == 'ball':
            mask, texture, cls = _disc(ys, xs, cy, cx, radius), 'stripes', BALL
        elif kind == 'balloon':
            mask, texture, cls = _disc(ys, xs, cy, cx, radius), 'flat', BALLOON
        elif kind == 'ring':
            mask, cls = _annulus(ys, xs, cy, cx, radius), RING
            texture = rng.choice(['stripes', 'flat', 'dots'])
        elif kind == 'tent':
            mask, texture, cls = _triangle(ys, xs, cy, cx, radius, rng), 'dots', TENT
        else:
            # Same appearance either way: only the context tells them apart.
            mask, texture = _rectangle(ys, xs, cy, cx, radius, rng), 'checker'
            cls = CRATE if cy >= horizon else KITE
        first, second = _two_colours(rng)
        pattern = TEXTURES[texture](ys, xs, rng)
        image[mask] = _mix(pattern, first, second)[mask]
        label[mask] = cls
        outlines &= ~mask
        outlines |= _outline(mask)
    label[outlines] = UNLABELLED

    image += rng.normal(0.0, 6.0, size=image.shape)
    return np.clip(image, 0, 255).astype(np.uint8), label


def _write_split(root: str, split: str, count: int, rng: np.random.Generator) -> None:
    img_dir = osp.join(root, 'images', split)
    ann_dir = osp.join(root, 'annotations', split)
    os.makedirs(img_dir)
    os.makedirs(ann_dir)
    for index in range(count):
        height, width = IMAGE_SIZES[rng.integers(len(IMAGE_SIZES))]
        image, label = render_toy_scene(rng, height, width)
        name = f'toy_{split}_{index:05d}'
        Image.fromarray(image).save(osp.join(img_dir, f'{name}.jpg'), quality=92)
        Image.fromarray(label).save(osp.join(ann_dir, f'{name}.png'))


def generate_toy_dataset(root: str, num_train: int = 320, num_val: int = 80,
                         seed: int = 0, overwrite: bool = False) -> str:
    """Writes the toy dataset under ``root`` in ADE20K's on-disk layout.

    The dataset is written to a temporary sibling folder and renamed into place
    at the end, so an interrupted run never leaves a half-written ``root`` and
    several processes may call this at once (the first rename wins).

    Args:
        root: Destination folder (created).
        num_train: Number of training images.
        num_val: Number of validation images.
        seed: Seed of the generator; the dataset is a pure function of the
            arguments.
        overwrite: Replace an existing ``root``.

    Returns:
        ``root``.
    """
    root = osp.abspath(root)
    if osp.isdir(root) and not overwrite:
        return root
    parent = osp.dirname(root)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f'.{osp.basename(root)}-', dir=parent)
    try:
        rng = np.random.default_rng(seed)
        _write_split(tmp, 'training', num_train, rng)
        _write_split(tmp, 'validation', num_val, rng)
        if overwrite and osp.isdir(root):
            shutil.rmtree(root)
        try:
            os.rename(tmp, root)
        except OSError:
            if not osp.isdir(root):  # not a lost race: a real failure
                raise
    finally:
        if osp.isdir(tmp):
            shutil.rmtree(tmp)
    return root


def main(argv: Optional[list[str]] = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description='Write the depict toy dataset.')
    parser.add_argument('root', nargs='?', default='data/toy')
    parser.add_argument('--num-train', type=int, default=320)
    parser.add_argument('--num-val', type=int, default=80)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--overwrite', action='store_true')
    args = parser.parse_args(argv)
    root = generate_toy_dataset(args.root, args.num_train, args.num_val, args.seed,
                                args.overwrite)
    print(f'toy dataset written to {root}')


if __name__ == '__main__':
    main()
