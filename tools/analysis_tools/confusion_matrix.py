"""Pixel confusion matrix of a segmentor on its test set, for mmseg 1.x.

    python tools/analysis_tools/confusion_matrix.py CONFIG CHECKPOINT --out DIR
    python tools/analysis_tools/confusion_matrix.py CONFIG PRED_DIR --out DIR [--pred-format F]

With a checkpoint, the model runs through mmseg's test loop (the config's test
pipeline, ``test_cfg`` and evaluator) with ``ConfusionMatrixMetric`` added.
With a directory, the label-map PNGs in it (as ``tools/test.py CONFIG CKPT --out
DIR`` writes them) are paired with the test set by image file name.

Writes ``DIR/confusion_matrix.png`` (normalised, class names on the axes),
``.npy`` (raw int64 counts, rows = ground truth, columns = prediction) and
``.json`` (counts, normalised matrix, per-class IoU / Acc, aAcc / mIoU / mAcc).
Why mmseg's own tool is not used: see :mod:`depict.evaluation.confusion_matrix`.
"""
import argparse
import copy
import os
import os.path as osp

import numpy as np
from mmengine.config import Config, DictAction


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Confusion matrix of a segmentor')
    parser.add_argument('config', help='test config file')
    parser.add_argument('source', help='checkpoint file, or a directory of predicted label maps')
    parser.add_argument('--out', required=True, help='output directory')
    parser.add_argument('--normalize', default='true', choices=['true', 'pred', 'all', 'none'],
                        help='plot normalisation: over ground truth rows (recall, default), '
                        'prediction columns (precision), all pixels, or raw counts')
    parser.add_argument(
        '--pred-format', default='auto', choices=['auto', 'trainid', 'cityscapes'],
        help='label maps in PRED_DIR: auto = as IoUMetric / tools/test.py --out writes them '
        '(class index, +1 for reduce_zero_label datasets such as ADE20K); trainid = class '
        'index 0..C-1; cityscapes = Cityscapes labelIds')
    parser.add_argument('--title', help='plot title')
    parser.add_argument('--work-dir', help='log directory of the test run (checkpoint mode)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. test_dataloader.dataset.data_root=...')
    return parser.parse_args()


def from_checkpoint(cfg: Config, args: argparse.Namespace) -> None:
    from mmengine.runner import Runner

    cfg.load_from = args.source
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    evaluators = cfg.test_evaluator
    evaluators = list(evaluators) if isinstance(evaluators, (list, tuple)) else [evaluators]
    cfg.test_evaluator = evaluators + [
        dict(type='ConfusionMatrixMetric', output_dir=args.out, normalize=args.normalize)]
    from depict.engine import check_data_roots
    check_data_roots(cfg, ('test_dataloader', ))
    runner = Runner.from_cfg(cfg)
    runner.test()
    metric = runner.test_evaluator.metrics[-1]
    _report(metric.matrix, metric.dataset_meta['classes'], args.out)


def _label_lut(fmt: str, reduce_zero_label: bool) -> np.ndarray:
    """Maps stored prediction values (0..255) to class indices; 255 = invalid."""
    lut = np.full(256, 255, dtype=np.int64)
    if fmt == 'cityscapes':
        from cityscapesscripts.helpers.labels import labels
        for label in labels:
            if 0 <= label.id < 256 and 0 <= label.trainId < 255:
                lut[label.id] = label.trainId
    elif fmt == 'auto' and reduce_zero_label:
        lut[1:] = np.arange(255)  # IoUMetric wrote class + 1
    else:
        lut[:] = np.arange(256)
    return lut


def from_predictions(cfg: Config, args: argparse.Namespace) -> None:
    from mmengine.registry import init_default_scope
    from PIL import Image

    init_default_scope(cfg.get('default_scope', 'mmseg'))
    from mmseg.registry import DATASETS, TRANSFORMS

    from depict.evaluation.confusion_matrix import confusion_matrix, save_confusion_matrix

    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    classes = dataset.metainfo['classes']
    num_classes = len(classes)
    load_cfg = next((t for t in cfg.test_dataloader.dataset.pipeline
                     if t['type'] == 'LoadAnnotations'), dict(type='LoadAnnotations'))
    load_annotations = TRANSFORMS.build(copy.deepcopy(load_cfg))
    lut = _label_lut(args.pred_format, bool(getattr(dataset, 'reduce_zero_label', False)))

    predictions = {}
    for root, _, files in os.walk(args.source):
        for name in files:
            if name.lower().endswith('.png'):
                predictions.setdefault(osp.splitext(name)[0], osp.join(root, name))
    if not predictions:
        raise FileNotFoundError(f'no .png label maps in {args.source}')

    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    missing = []
    for index in range(len(dataset)):
        info = copy.deepcopy(dataset.get_data_info(index))
        stem = osp.splitext(osp.basename(info['img_path']))[0]
        path = predictions.get(stem)
        if path is None:
            missing.append(stem)
            continue
        pred = np.array(Image.open(path))
        if pred.ndim != 2:
            raise ValueError(f'{path} is not a label map (shape {pred.shape}): pass the class '
                             'index PNGs of tools/test.py --out, not coloured masks')
        gt = load_annotations(info)['gt_seg_map']
        try:
            matrix += confusion_matrix(lut[pred], gt, num_classes, dataset.ignore_index)
        except ValueError as err:
            raise ValueError(f'{path}: {err} (is --pred-format={args.pred_format} right?)') from err
    if missing:
        raise FileNotFoundError(
            f'{len(missing)} of {len(dataset)} test images have no prediction in {args.source} '
            f'(expected <image name>.png, e.g. {missing[0]}.png)')
    save_confusion_matrix(matrix, classes, args.out, normalize=args.normalize, title=args.title,
                          extra=dict(config=args.config, predictions=args.source))
    _report(matrix, classes, args.out)


def _report(matrix: np.ndarray, classes, out: str) -> None:
    from depict.evaluation.confusion_matrix import matrix_metrics, normalize_matrix

    metrics = matrix_metrics(matrix)
    print(f'aAcc {metrics["aAcc"]:.2f}  mIoU {metrics["mIoU"]:.2f}  mAcc {metrics["mAcc"]:.2f}')
    recall = np.nan_to_num(normalize_matrix(matrix, 'true'))
    np.fill_diagonal(recall, 0)
    worst = np.dstack(np.unravel_index(np.argsort(recall, axis=None)[::-1], recall.shape))[0]
    print('most confused (ground truth -> prediction, share of the ground-truth pixels):')
    for gt, pred in worst[:5]:
        if recall[gt, pred] > 0:
            print(f'  {classes[gt]} -> {classes[pred]}: {100 * recall[gt, pred]:.1f}%')
    print(f'wrote {osp.join(out, "confusion_matrix.png")} (+ .npy, .json)')


def main() -> None:
    args = parse_args()
    # custom_imports registers depict. load_config, as tools/test.py: without it the
    # Runner formats the config text with yapf five times, about half of a toy run
    # (found profiling tests/test_tools/test_analysis_tools.py: 20 of 40 s in yapf).
    from depict.utils.config import load_config
    cfg = load_config(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if osp.isdir(args.source):
        from_predictions(cfg, args)
    elif osp.isfile(args.source):
        from_checkpoint(cfg, args)
    else:
        raise FileNotFoundError(f'{args.source} is neither a checkpoint file nor a directory '
                                'of predictions')


if __name__ == '__main__':
    main()
