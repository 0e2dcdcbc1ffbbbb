"""Score Cityscapes predictions with the official pixel-level evaluator.

Usage::

    python tools/misc/eval_cityscapes.py PRED_DIR data/cityscapes/gtFine/val

PRED_DIR holds one label-id PNG per frame, named ``<city>_<seq>_<frame>*.png``
(``tools/test.py --out`` writes ``*_leftImg8bit.png``). Prints the per-class
IoU, the class mIoU (the number papers report), iIoU and the category scores,
computed by cityscapesscripts' ``evalPixelLevelSemanticLabeling`` (through
:func:`depict.evaluation.evaluate_official`, which makes it run on numpy >= 2.4).
"""
import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description='Official Cityscapes pixel-level scores')
    parser.add_argument('pred_dir', help='folder of <city>_<seq>_<frame>*.png label-id maps')
    parser.add_argument('gt_dir', help='a gtFine split folder, e.g. data/cityscapes/gtFine/val')
    parser.add_argument('--no-instance-level', action='store_true', help='skip iIoU')
    args = parser.parse_args(argv)

    from depict.evaluation.cityscapes import evaluate_folder
    scores = evaluate_folder(args.pred_dir, args.gt_dir,
                             instance_level=not args.no_instance_level)
    for name, iou in scores['class_iou'].items():
        if iou == iou:  # NaN: a class neither in the ground truth nor predicted
            print(f'{name:<14} {100 * iou:6.2f}')
    for key in ('mIoU', 'iIoU', 'mIoU_category', 'iIoU_category'):
        print(f'{key:<14} {100 * scores[key]:6.2f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
