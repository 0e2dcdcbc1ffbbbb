"""PASCAL Context: 60-class label PNGs from the official release's ``.mat`` files.

Usage::

    python tools/dataset_converters/pascal_context.py data/VOCdevkit data/pascal_context

* ``data/VOCdevkit``: PASCAL VOC 2010, ``VOCtrainval_03-May-2010.tar``
  extracted (``VOCdevkit/VOC2010/JPEGImages``, ``ImageSets/Main``).
* ``data/pascal_context``: the PASCAL Context release: ``trainval.tar.gz``
  extracted (``trainval/<image id>.mat``, one uint16 ``LabelMap`` per image
  in the full 459-class label space), with ``labels.txt`` (459 lines
  ``"<id>: <name>"``) and ``59_labels.txt`` (the 59 benchmark classes) beside.

Writes ``VOC2010/SegmentationClassContext/<image id>.png`` (uint8: 0 =
background, i.e. every class outside the 59; 1..59 in mmseg's
``PascalContextDataset`` class order, which is the order of the classes' ids
in ``labels.txt``) and ``VOC2010/ImageSets/SegmentationContext/{train,val}.txt``.
The 59-class setting (``PascalContextDataset59``) reads the same PNGs with
``reduce_zero_label=True``.

Why this route: mmseg's converter reads ``trainval_merged.json`` through the
PASCAL-in-Detail API, which was never released on PyPI (the PyPI package named
``detail`` is an unrelated project) and has to be built from its GitHub
sources. The ``.mat`` files of the official release carry the same full
annotation and only need scipy.

Splits: by default VOC 2010's own ``ImageSets/Main/{train,val}.txt``, the
split the PASCAL Context paper annotated (4998 train / 5105 val images). The
Detail API's split, which mmseg's and Segmenter's preparations (via
PyTorch-Encoding) use, drops three of those images (4996 / 5104); pass
``--split-dir DIR`` with that split's ``train.txt`` / ``val.txt`` to use it
exactly.
"""
import argparse
import os
import os.path as osp
import re
import shlex
import sys
from multiprocessing import Pool
from typing import Optional

import numpy as np
from PIL import Image

#: Ids of the 59 benchmark classes in the release's ``labels.txt``, sorted;
#: class k (1..59) of the benchmark is the k-th of them (mmseg's
#: ``PascalContextDataset`` order: aeroplane, bag, bed, ...). The same table
#: underlies mmseg's Detail-based converter.
CONTEXT_59_IDS = (
    2, 9, 18, 19, 22, 23, 25, 31, 33, 34, 44, 45, 46, 59, 65, 68, 72, 80, 85, 98, 104,
    105, 113, 115, 144, 158, 159, 162, 187, 189, 207, 220, 232, 258, 259, 260, 284, 295,
    296, 308, 324, 326, 347, 349, 354, 355, 360, 366, 368, 397, 415, 416, 420, 424, 427,
    440, 445, 454, 458)
#: ``59_labels.txt`` spells three classes differently from ``labels.txt``
#: (FCN's PASCAL Context loader resolves them the same way).
SPELLINGS = {'diningtable': 'table', 'bedcloth': 'bedclothes', 'clothes': 'cloth'}
NUM_FULL_CLASSES = 459
OFFICIAL_SIZES = dict(train=(4998, 4996), val=(5105, 5104))


def read_label_file(path: str) -> dict[int, str]:
    """``"<id>: <name>"`` lines -> {id: name}."""
    names = {}
    with open(path) as f:
        for line in f:
            match = re.match(r'\s*(\d+)\s*:\s*(.+?)\s*$', line)
            if match:
                names[int(match.group(1))] = match.group(2)
    if not names:
        raise ValueError(f'{path}: no "<id>: <name>" lines')
    return names


def benchmark_ids(labels_txt: Optional[str], labels59_txt: Optional[str]) -> tuple[int, ...]:
    """The 59 class ids, cross-checked against the release's label files.

    Raises:
        ValueError: the files name other classes than the benchmark's.
    """
    if labels_txt is None or labels59_txt is None:
        return CONTEXT_59_IDS
    full = read_label_file(labels_txt)
    by_name = {name: class_id for class_id, name in full.items()}
    ids = []
    for name in read_label_file(labels59_txt).values():
        name = SPELLINGS.get(name, name)
        if name not in by_name:
            raise ValueError(f'{labels59_txt}: class {name!r} is not in {labels_txt}')
        ids.append(by_name[name])
    if tuple(sorted(ids)) != CONTEXT_59_IDS:
        raise ValueError(
            f'{labels59_txt} + {labels_txt} give the class ids {sorted(ids)}, not the '
            f'benchmark\'s 59 ({list(CONTEXT_59_IDS)}). Are these the PASCAL Context '
            'release files? Remove them to use the built-in table.')
    return CONTEXT_59_IDS


def build_lut(ids: tuple[int, ...]) -> np.ndarray:
    lut = np.zeros(65536, np.uint8)  # LabelMap is uint16
    for rank, class_id in enumerate(sorted(ids), 1):
        lut[class_id] = rank
    return lut


def convert_one(job: tuple[str, str, np.ndarray]) -> str:
    """(.mat path, .png path, lut) -> '' or an error message."""
    from scipy.io import loadmat

    mat_path, png_path, lut = job
    try:
        label_map = loadmat(mat_path)['LabelMap']
    except Exception as err:  # corrupt or not a context .mat
        return f'{mat_path}: cannot read LabelMap ({err})'
    if label_map.ndim != 2 or label_map.max() > NUM_FULL_CLASSES:
        return (f'{mat_path}: LabelMap of shape {label_map.shape} with max '
                f'{label_map.max()} is not a 459-class label map')
    Image.fromarray(lut[label_map.astype(np.int64)]).save(png_path)
    return ''


def read_split(path: str) -> list[str]:
    with open(path) as f:
        return [line.split()[0] for line in f if line.strip()]


def _find(context: str, name: str) -> Optional[str]:
    for folder in (context, osp.dirname(osp.abspath(context))):
        if osp.isfile(osp.join(folder, name)):
            return osp.join(folder, name)
    return None


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='PASCAL Context label PNGs from the release\'s trainval/*.mat files')
    parser.add_argument('devkit_path', help='the VOCdevkit folder (VOC2010 inside)')
    parser.add_argument('context_path', help='folder with trainval/*.mat (trainval.tar.gz), '
                        'labels.txt and 59_labels.txt')
    parser.add_argument('-o', '--out-dir', help='label PNG folder (default: '
                        'VOCdevkit/VOC2010/SegmentationClassContext)')
    parser.add_argument('--split-dir', help='folder with train.txt / val.txt to use instead '
                        'of VOC2010/ImageSets/Main (e.g. the Detail split, 4996/5104)')
    parser.add_argument('--nproc', type=int, default=1, help='worker processes')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    voc = osp.join(args.devkit_path, 'VOC2010')
    mat_dir = osp.join(args.context_path, 'trainval')
    problems = []
    if not osp.isdir(osp.join(voc, 'JPEGImages')):
        problems.append(f'{voc}/JPEGImages is missing: extract VOCtrainval_03-May-2010.tar '
                        f'so that {args.devkit_path} is its VOCdevkit folder')
    if not osp.isdir(mat_dir):
        problems.append(f'{mat_dir} is missing: extract trainval.tar.gz (PASCAL Context) '
                        f'into {args.context_path}')
    split_dir = args.split_dir or osp.join(voc, 'ImageSets', 'Main')
    for split in ('train', 'val'):
        if not osp.isfile(osp.join(split_dir, f'{split}.txt')):
            problems.append(f'{split_dir}/{split}.txt is missing')
    if problems:
        print('\n'.join(f'error: {p}' for p in problems))
        return 1

    labels_txt = _find(args.context_path, 'labels.txt')
    labels59_txt = _find(args.context_path, '59_labels.txt')
    if labels_txt is None or labels59_txt is None:
        print('note: labels.txt / 59_labels.txt not found next to trainval/: using the '
              'built-in table of the 59 class ids without cross-checking it')
    try:
        lut = build_lut(benchmark_ids(labels_txt, labels59_txt))
    except ValueError as err:
        print(f'error: {err}')
        return 1

    out_dir = args.out_dir or osp.join(voc, 'SegmentationClassContext')
    list_dir = osp.join(voc, 'ImageSets', 'SegmentationContext')
    os.makedirs(out_dir, exist_ok=True)
    os.makedirs(list_dir, exist_ok=True)
    errors = []
    for split in ('train', 'val'):
        ids = sorted(read_split(osp.join(split_dir, f'{split}.txt')))
        jobs, missing = [], []
        for image_id in ids:
            mat = osp.join(mat_dir, f'{image_id}.mat')
            if not osp.isfile(mat):
                missing.append(f'{mat} (listed in {split}.txt) is missing')
            elif not osp.isfile(osp.join(voc, 'JPEGImages', f'{image_id}.jpg')):
                missing.append(f'{voc}/JPEGImages/{image_id}.jpg is missing')
            else:
                jobs.append((mat, osp.join(out_dir, f'{image_id}.png'), lut))
        if args.nproc > 1:
            with Pool(args.nproc) as pool:
                results = pool.map(convert_one, jobs, chunksize=32)
        else:
            results = [convert_one(job) for job in jobs]
        errors += missing + [r for r in results if r]
        with open(osp.join(list_dir, f'{split}.txt'), 'w') as f:
            f.writelines(f'{image_id}\n' for image_id in ids)
        sizes = OFFICIAL_SIZES[split]
        note = '' if len(ids) in sizes else \
            f' (official: {sizes[0]} VOC 2010 / {sizes[1]} Detail)'
        print(f'{split}: {len(jobs)} of {len(ids)} images -> {out_dir}{note}')
    for error in errors[:20]:
        print(f'error: {error}')
    if errors:
        print(f'{len(errors)} problems; the split lists were written anyway.')
        return 1
    print('done. Check: python tools/misc/check_dataset.py '
          'configs/_base_/datasets/pascal_context.py --split val '
          f'--data-root {shlex.quote(voc)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
