"""COCO-Stuff-10K / 164K: write the ``*_labelTrainIds.png`` mmseg's ``COCOStuffDataset`` reads.

Usage::

    python tools/dataset_converters/coco_stuff.py 10k data/coco_stuff10k [--nproc 8]
    python tools/dataset_converters/coco_stuff.py 164k data/coco_stuff164k [--nproc 8]

* 10K: ``data/coco_stuff10k`` is where ``cocostuff-10k-v1.1.zip`` was extracted
  (``images/``, ``annotations/*.mat``, ``imageLists/``). Writes
  ``images/{train2014,test2014}/*.jpg`` (copies) and
  ``annotations/{train2014,test2014}/*_labelTrainIds.png`` with 0 = unlabeled
  and 1..171 the classes (the dataset base sets ``reduce_zero_label=True``).
* 164K: ``data/coco_stuff164k`` holds ``images/{train,val}2017`` (COCO 2017)
  and ``annotations/{train,val}2017/*.png`` (``stuffthingmaps_trainval2017.zip``).
  Writes ``*_labelTrainIds.png`` beside them: 0..170, 255 = unlabeled.

The per-file conversion is mmseg's own (``tools/dataset_converters/
coco_stuff10k.py`` / ``coco_stuff164k.py``, installed under ``mmseg/.mim``:
their id -> train-id tables and ``convert_to_trainID``); this script replaces
their ``main``, which asserts the full release size (10 000 / 123 287 files)
and so refuses any subset (a partial download, a miniature release), and
copies the 164K images again when ``-o`` is given. Here a count that differs
from the official split is a warning, as in ``tools/misc/check_dataset.py``.
Needs ``scipy`` (10K ``.mat`` files).
"""
import argparse
import functools
import glob
import os
import importlib.util
import os.path as osp
import sys
from multiprocessing import Pool

#: Official split sizes: {version: {output split: count}}.
OFFICIAL_SIZES = {'10k': dict(train2014=9000, test2014=1000),
                  '164k': dict(train2017=118287, val2017=5000)}


def mmseg_converter(version: str) -> dict:
    """The namespace of mmseg's converter module for ``version`` (10k / 164k),
    registered in ``sys.modules`` so that worker processes can pickle its functions."""
    import mmseg
    path = osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools', 'dataset_converters',
                    f'coco_stuff{version}.py')
    if not osp.exists(path):
        raise FileNotFoundError(f'mmseg\'s converter is not installed at {path}')
    name = f'_mmseg_coco_stuff{version}'
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return vars(sys.modules[name])


def _convert_10k(pair, convert, root, out_dir, is_train):
    convert(pair, in_img_dir=osp.join(root, 'images'), in_ann_dir=osp.join(root, 'annotations'),
            out_img_dir=osp.join(out_dir, 'images'), out_mask_dir=osp.join(out_dir, 'annotations'),
            is_train=is_train)


def _run(fn, items, nproc):
    if nproc > 1:
        with Pool(nproc) as pool:
            pool.map(fn, items, chunksize=16)
    else:
        for item in items:
            fn(item)


def _report(version: str, split: str, count: int) -> None:
    official = OFFICIAL_SIZES[version][split]
    note = '' if count == official else f' (the official {split} split has {official})'
    print(f'{split}: {count} label maps -> *_labelTrainIds.png{note}')


def convert_10k(root: str, out_dir: str, nproc: int) -> int:
    if not osp.isfile(osp.join(root, 'imageLists', 'train.txt')):
        print(f'error: {root}/imageLists/train.txt does not exist. Extract '
              f'cocostuff-10k-v1.1.zip into {root} (images/, annotations/, imageLists/).')
        return 1
    mod = mmseg_converter('10k')
    train, test = mod['generate_coco_list'](root)
    missing = [m for _, m in train + test if not osp.isfile(osp.join(root, 'annotations', m))]
    if missing:
        print(f'error: {len(missing)} annotation(s) listed in imageLists/ are missing from '
              f'{root}/annotations, e.g. {missing[:3]}')
        return 1
    for sub in ('images', 'annotations'):
        for split in ('train2014', 'test2014'):
            os.makedirs(osp.join(out_dir, sub, split), exist_ok=True)
    for pairs, split, is_train in ((train, 'train2014', True), (test, 'test2014', False)):
        _run(functools.partial(_convert_10k, convert=mod['convert_to_trainID'], root=root,
                               out_dir=out_dir, is_train=is_train), pairs, nproc)
        _report('10k', split, len(pairs))
    return 0


def convert_164k(root: str, out_dir: str, nproc: int) -> int:
    mod = mmseg_converter('164k')
    found = False
    for split, is_train in (('train2017', True), ('val2017', False)):
        files = sorted(f for f in glob.glob(osp.join(root, 'annotations', split, '*.png'))
                       if '_labelTrainIds' not in f)
        if not files:
            print(f'warning: no *.png under {osp.join(root, "annotations", split)}: extract '
                  f'stuffthingmaps_trainval2017.zip into {osp.join(root, "annotations")}')
            continue
        found = True
        os.makedirs(osp.join(out_dir, 'annotations', split), exist_ok=True)
        _run(functools.partial(mod['convert_to_trainID'],
                               out_mask_dir=osp.join(out_dir, 'annotations'), is_train=is_train),
             files, nproc)
        _report('164k', split, len(files))
        if not osp.isdir(osp.join(out_dir, 'images', split)):
            print(f'warning: {osp.join(out_dir, "images", split)} is missing: extract COCO '
                  f'{split}.zip into {osp.join(out_dir, "images")} (the dataset reads it there)')
    if not found:
        print(f'error: no stuff maps under {root}/annotations/{{train,val}}2017')
        return 1
    return 0


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Prepare COCO-Stuff-10K or 164K for mmseg')
    parser.add_argument('version', choices=['10k', '164k'])
    parser.add_argument('coco_path', help='where the release was extracted')
    parser.add_argument('-o', '--out-dir', help='output root (default: coco_path)')
    parser.add_argument('--nproc', type=int, default=1, help='worker processes')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    out_dir = args.out_dir or args.coco_path
    if args.version == '10k':
        return convert_10k(args.coco_path, out_dir, args.nproc)
    return convert_164k(args.coco_path, out_dir, args.nproc)


if __name__ == '__main__':
    sys.exit(main())
