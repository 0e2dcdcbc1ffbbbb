"""How much mIoU does a model lose to classes it predicts that are not in the image?

Usage::

    python tools/analysis_tools/presence_oracle.py CONFIG CHECKPOINT [--num-images N]

Runs the config's own test-time inference (whole or slide) on the validation
set twice and prints per-class IoU:

* ``predicted``: the model as it is;
* ``presence oracle``: the same scores, with the classes that are absent from
  the image's ground truth removed before the argmax. Every decoder gets the
  same information, so the gain compares decoders fairly: a decoder whose
  class decisions are already right gains little.

For SegViT heads (:class:`ATMHead`, :class:`ShrunkATMHead`) it also reports
their class branch on its own. Their prediction is
``P[c] = Σ_q softmax(Y[q])[c] · σ(M[q])`` with the fixed assignment query c ↔
class c; per class it prints how often ``argmax Y[c]`` is right (c on images
that contain c, "no object" on the others, one whole-image forward pass) and
the mean probability that query c gives class c on images with and without c.
A class branch that has learnt nothing about the image gives the same
probability in both columns (its class-frequency prior), and then the masks
``σ(M[c])`` alone decide between classes. docs/toy_dataset.md ("Learning
parity") reports it for the toy models.
"""
import argparse
from contextlib import contextmanager
from typing import Iterator, Optional

import numpy as np
import torch
from mmengine.config import DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint
from torch import Tensor

# Below any score a decode head gives (logits, or ATM's scores in [0, Q]); finite,
# so that summing slide windows cannot give NaN.
ABSENT_SCORE = -1e4


@contextmanager
def absent_classes_removed(head, present: Optional[Tensor]) -> Iterator[None]:
    """Within the block the head's predicted scores (B, C, H, W) of the classes not
    in ``present`` (C,) are ``ABSENT_SCORE``; unchanged when ``present`` is None."""
    if present is None:
        yield
        return
    predict = head.predict

    def oracle_predict(*args, **kwargs) -> Tensor:
        scores = predict(*args, **kwargs)
        return scores.masked_fill(~present.to(scores.device)[None, :, None, None], ABSENT_SCORE)

    head.predict = oracle_predict
    try:
        yield
    finally:
        del head.predict  # back to the class's method


def iou(intersection: np.ndarray, union: np.ndarray) -> np.ndarray:
    """Per-class IoU in %, NaN where a class never occurs (as mmseg's IoUMetric)."""
    with np.errstate(invalid='ignore', divide='ignore'):
        return 100 * intersection / union


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='mIoU with a ground-truth class-presence oracle')
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--num-images', type=int, default=None,
                        help='first N validation images (default: all)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. '
                        'val_dataloader.dataset.data_root=...')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    from depict.utils.config import load_config
    cfg = load_config(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    from mmseg.registry import DATASETS, MODELS

    from depict.models.decode_heads.atm_head import BaseATMHead
    cfg.model.pretrained = None
    model = MODELS.build(cfg.model)
    load_checkpoint(model, args.checkpoint, map_location='cpu')
    model.eval()
    head = model.decode_head
    is_atm = isinstance(head, BaseATMHead)
    num_classes = head.num_classes
    dataset = DATASETS.build(cfg.val_dataloader.dataset)
    count = len(dataset) if args.num_images is None else min(args.num_images, len(dataset))
    stats = {name: np.zeros((2, num_classes)) for name in ('predicted', 'oracle')}
    # ATM class branch, per class: [right, images] with / without the class, and
    # the summed probability that query c gives class c.
    with_class, without_class = np.zeros((2, num_classes)), np.zeros((2, num_classes))
    prob_with, prob_without = np.zeros(num_classes), np.zeros(num_classes)
    for index in range(count):
        item = dataset[index]
        data = model.data_preprocessor(dict(inputs=[item['inputs']],
                                            data_samples=[item['data_samples']]), False)
        label = item['data_samples'].gt_sem_seg.data[0]  # (H, W), ignore = 255
        valid = label != head.ignore_index
        present = torch.zeros(num_classes, dtype=torch.bool)
        present[label[valid].unique().long()] = True
        for name, oracle in (('predicted', None), ('oracle', present)):
            with torch.no_grad(), absent_classes_removed(head, oracle):
                pred = model.predict(data['inputs'], data['data_samples'])[0].pred_sem_seg.data[0]
            for c in range(num_classes):
                p, g = (pred == c) & valid, (label == c) & valid
                stats[name][0, c] += (p & g).sum().item()
                stats[name][1, c] += (p | g).sum().item()
        if is_atm:
            with torch.no_grad():
                cls_logits = head(model.extract_feat(data['inputs'])).cls_logits[-1][0]
            choice = cls_logits.argmax(-1)  # (C,) class (or C: no object) per query
            own = cls_logits.softmax(-1).diagonal()  # (C,) query c's probability of class c
            for c in range(num_classes):
                tally, prob = ((with_class, prob_with) if present[c]
                               else (without_class, prob_without))
                tally[0, c] += int(choice[c] == (c if present[c] else num_classes))
                tally[1, c] += 1
                prob[c] += own[c].item()
    classes = dataset.metainfo['classes']
    predicted, oracle = iou(*stats['predicted']), iou(*stats['oracle'])
    print(f'{count} validation images, {type(head).__name__}')
    header = '| class | IoU predicted | IoU presence oracle |'
    if is_atm:
        header += (' images with / without it | argmax Y[c] right, with / without '
                   '| mean p(c) of query c, with / without |')
    print(header)
    print('|---' * (header.count('|') - 1) + '|')
    with np.errstate(invalid='ignore', divide='ignore'):
        right = with_class[0] / with_class[1], without_class[0] / without_class[1]
        prob = prob_with / with_class[1], prob_without / without_class[1]
    for c, name in enumerate(classes):
        row = f'| {name} | {predicted[c]:.2f} | {oracle[c]:.2f} |'
        if is_atm:
            row += (f' {int(with_class[1, c])} / {int(without_class[1, c])} '
                    f'| {right[0][c]:.2f} / {right[1][c]:.2f} '
                    f'| {prob[0][c]:.2f} / {prob[1][c]:.2f} |')
        print(row)
    print(f'| mIoU | {np.nanmean(predicted):.2f} | {np.nanmean(oracle):.2f} |'
          + (' | | |' if is_atm else ''))


if __name__ == '__main__':
    main()
