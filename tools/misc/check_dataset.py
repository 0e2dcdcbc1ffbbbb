"""Check a prepared dataset before a long run.

Usage::

    python tools/misc/check_dataset.py CONFIG [--split train|val|test]
        [--data-root DIR] [--max-images N] [--nproc N] [--cfg-options ...]

CONFIG is any config with dataloaders: a decoder config or a dataset base
(``configs/_base_/datasets/cityscapes_768x768.py``). The dataset is built from
the config exactly as training builds it, then checked for

* layout: ``data_root``, the image / label folders and the ``ann_file`` exist;
* pairing: every image has its label map and, without an ``ann_file``, every
  label map its image;
* counts: the number of samples against the official split size (a warning);
* label values: after ``label_map`` / ``reduce_zero_label``, every value is a
  class index or the ignore index; single-channel label maps of the image's size;
* unreadable images or label maps;
* with a model in the config: ``model.decode_head.num_classes`` against the
  dataset's classes.

The rules are those every run applies (``depict/datasets/checker.py``).

Every problem is printed with example files and how to fix it. Exits with 1 if
there are errors (warnings alone exit with 0).
"""
import argparse
import sys

from mmengine.config import Config, DictAction


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Check a prepared dataset')
    parser.add_argument('config', help='config file with train/val/test dataloaders')
    parser.add_argument('--split', choices=['train', 'val', 'test'], default='val',
                        help='which dataloader to check (default: val)')
    parser.add_argument('--data-root', help='override the dataset\'s data_root')
    parser.add_argument('--max-images', type=int,
                        help='decode only this many evenly spaced samples (quick check)')
    parser.add_argument('--nproc', type=int, default=1, help='worker processes')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)  # imports `custom_imports` (depict) if any
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    # The checker is a helper of the package; dataset classes are registered by
    # mmseg itself and, for depict's own, by the config's custom_imports.
    from depict.datasets.checker import check_dataset
    report = check_dataset(cfg, args.split, data_root=args.data_root,
                           max_images=args.max_images, nproc=args.nproc)
    print(report.format())
    return 1 if report.errors else 0


if __name__ == '__main__':
    sys.exit(main())
