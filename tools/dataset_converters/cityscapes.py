"""Cityscapes: write ``*_gtFine_labelTrainIds.png`` (19 classes, 255 = ignore).

Usage::

    python tools/dataset_converters/cityscapes.py data/cityscapes [--nproc 8]

``data/cityscapes`` is where ``leftImg8bit_trainvaltest.zip`` and
``gtFine_trainvaltest.zip`` were extracted (``leftImg8bit/`` and ``gtFine/``).
For every ``gtFine/{train,val,test}/<city>/<frame>_gtFine_labelIds.png`` the
tool writes ``<frame>_gtFine_labelTrainIds.png`` beside it, which is what
mmseg's ``CityscapesDataset`` reads.

Two sources give identical files (the test suite checks it):

* ``--source labelIds`` (default): maps the official label-id PNGs through
  cityscapesscripts' ``labels.py`` table (id -> trainId; classes ignored in
  evaluation -> 255). Pixel-exact with the ``*_labelIds.png`` that the
  official evaluator reads, and fast.
* ``--source polygons``: rasterises ``*_gtFine_polygons.json`` with
  cityscapesscripts' ``json2labelImg(..., 'trainIds')``, the route of the
  official ``createTrainIdLabelImgs.py`` and of mmseg's converter.

Needs ``cityscapesscripts`` (``pip install -e .[tools]``; it imports
``pkg_resources``, so ``setuptools<81``).
"""
import argparse
import functools
import glob
import os.path as osp
import shlex
import sys
from multiprocessing import Pool

import numpy as np
from PIL import Image

#: Official split sizes (frames with fine annotations).
OFFICIAL_SIZES = dict(train=2975, val=500, test=1525)
SUFFIX_IDS = '_gtFine_labelIds.png'
SUFFIX_POLYGONS = '_gtFine_polygons.json'
SUFFIX_OUT = '_gtFine_labelTrainIds.png'


def _labels():
    try:
        from cityscapesscripts.helpers import labels
    except ImportError as err:
        sys.exit(f'cityscapesscripts is needed ({err}): pip install cityscapesscripts '
                 '"setuptools<81" (or pip install -e ".[tools]")')
    return labels


@functools.lru_cache(maxsize=1)
def train_id_lut() -> np.ndarray:
    """256-entry table label id -> train id; unknown ids map to 256 (error)."""
    labels = _labels()
    lut = np.full(256, 256, np.int32)
    for label in labels.labels:
        if label.id >= 0:
            # trainId 255 (and -1) mean "ignored in evaluation".
            lut[label.id] = label.trainId if 0 <= label.trainId < 255 else 255
    return lut


def convert_label_ids(path: str) -> str:
    """Writes the train-id PNG of one ``*_gtFine_labelIds.png``; returns an
    error message or ''."""
    label_ids = np.array(Image.open(path))
    if label_ids.ndim != 2:
        return f'{path}: expected a single-channel label-id PNG, got shape {label_ids.shape}'
    train_ids = train_id_lut()[label_ids]
    if (train_ids > 255).any():
        bad = np.unique(label_ids[train_ids > 255]).tolist()
        return f'{path}: label ids {bad} are not Cityscapes ids (0..33)'
    Image.fromarray(train_ids.astype(np.uint8)).save(path[:-len(SUFFIX_IDS)] + SUFFIX_OUT)
    return ''


def convert_polygons(path: str) -> str:
    from cityscapesscripts.preparation.json2labelImg import json2labelImg

    json2labelImg(path, path[:-len(SUFFIX_POLYGONS)] + SUFFIX_OUT, 'trainIds')
    return ''


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Write Cityscapes *_gtFine_labelTrainIds.png from the official gtFine')
    parser.add_argument('cityscapes_path', help='folder with leftImg8bit/ and gtFine/')
    parser.add_argument('--gt-dir', default='gtFine', help='annotation folder (gtFine)')
    parser.add_argument('--source', choices=['labelIds', 'polygons'], default='labelIds',
                        help='convert the *_labelIds.png (default) or rasterise the '
                        '*_polygons.json')
    parser.add_argument('--splits', nargs='+', default=['train', 'val', 'test'])
    parser.add_argument('--nproc', type=int, default=1, help='worker processes')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    gt_root = osp.join(args.cityscapes_path, args.gt_dir)
    if not osp.isdir(gt_root):
        print(f'error: {gt_root} does not exist. Extract gtFine_trainvaltest.zip into '
              f'{args.cityscapes_path} (it creates gtFine/{{train,val,test}}/<city>/).')
        return 1
    _labels()  # fail early with an install hint
    suffix = SUFFIX_IDS if args.source == 'labelIds' else SUFFIX_POLYGONS
    convert = convert_label_ids if args.source == 'labelIds' else convert_polygons
    errors, total = [], 0
    for split in args.splits:
        files = sorted(glob.glob(osp.join(gt_root, split, '*', f'*{suffix}')))
        if not files:
            print(f'warning: no *{suffix} under {osp.join(gt_root, split)}/<city>/')
            continue
        if args.nproc > 1:
            with Pool(args.nproc) as pool:
                results = pool.map(convert, files, chunksize=16)
        else:
            results = [convert(f) for f in files]
        errors += [r for r in results if r]
        total += len(files)
        official = OFFICIAL_SIZES.get(split)
        note = '' if official in (None, len(files)) else \
            f' (the official {split} split has {official})'
        print(f'{split}: {len(files)} frames -> *{SUFFIX_OUT}{note}')
        img_dir = osp.join(args.cityscapes_path, 'leftImg8bit', split)
        if not osp.isdir(img_dir):
            print(f'warning: {img_dir} is missing: extract leftImg8bit_trainvaltest.zip '
                  f'into {args.cityscapes_path}')
    for error in errors[:20]:
        print(f'error: {error}')
    if errors:
        print(f'{len(errors)} of {total} files failed.')
        return 1
    if total == 0:
        print(f'error: nothing converted under {gt_root}.')
        return 1
    print(f'done: {total} label maps. Check: python tools/misc/check_dataset.py '
          'configs/_base_/datasets/cityscapes_768x768.py --split val '
          f'--data-root {shlex.quote(args.cityscapes_path)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
