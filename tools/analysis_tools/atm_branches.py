"""Which branch of an ATM-family head limits its mIoU: the class or the mask branch?

Usage::

    python tools/analysis_tools/atm_branches.py CONFIG CHECKPOINT [--num-images N]

SegViT's prediction is ``P[c] = Σ_q softmax(Y[q])[c] · σ(M[q])`` with the fixed
assignment query c ↔ class c, so a class is lost either because its query's
class branch ``Y`` says "no object" (or another class) or because its mask
``M`` does not cover the object. For a trained :class:`ATMHead` or
:class:`ShrunkATMHead` this runs the config's own test-time inference (whole
or slide) on the validation set twice and prints per-class IoU:

* ``predicted``: the model as it is;
* ``oracle classes``: ``Y`` replaced by the image's ground-truth classes
  (query c says "class c" if c is in the image, "no object" otherwise), so
  ``P[c] = [c in image] · σ(M[c])``: what the masks alone achieve;

and, for the class branch on its own (whole image, one forward pass): per
class, how often ``argmax Y[c]`` is right (c on images that contain c, "no
object" on the others) and the mean probability that query c gives class c on
images with and without it. A class branch that has learnt nothing about the
image gives the same probability in both columns (its class-frequency prior).

If ``oracle classes`` is far above ``predicted`` the class branch limits the
head; if both are alike the masks do. docs/toy_dataset.md ("Learning parity")
reports it for the toy ATM and Shrunk models.
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

from depict.models.layers import ATMOutputs


def oracle_class_logits(present: Tensor, num_queries: int) -> Tensor:
    """(C,) bool classes in the image -> (1, C, C+1) logits whose softmax is one-hot:
    query c on class c where c is present, else on no-object (the last column)."""
    logits = torch.full((1, num_queries, num_queries + 1), -1e4)
    index = torch.where(present, torch.arange(num_queries), num_queries)
    logits[0, torch.arange(num_queries), index] = 1e4
    return logits


@contextmanager
def class_branch_replaced(head, present: Optional[Tensor]) -> Iterator[None]:
    """Within the block the head's final class logits are the oracle's for ``present``
    (unchanged when None); the forward pass is otherwise the head's own."""
    if present is None:
        yield
        return
    forward = head.forward

    def oracle_forward(inputs):
        out = forward(inputs)
        cls_logits = oracle_class_logits(present, out.cls_logits[-1].shape[1])
        cls_logits = cls_logits.to(out.cls_logits[-1]).expand_as(out.cls_logits[-1])
        return ATMOutputs(out.cls_logits[:-1] + [cls_logits], out.mask_logits)

    head.forward = oracle_forward
    try:
        yield
    finally:
        del head.forward  # back to the class's method


def iou(intersection: np.ndarray, union: np.ndarray) -> np.ndarray:
    """Per-class IoU in %, NaN where a class never occurs (as mmseg's IoUMetric)."""
    with np.errstate(invalid='ignore', divide='ignore'):
        return 100 * intersection / union


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Class vs mask branch of an ATM head')
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
    if not isinstance(model.decode_head, BaseATMHead):
        raise SystemExit(f'{args.config}: decode_head is {type(model.decode_head).__name__}, '
                         f'not an ATM-family head (ATMHead, ShrunkATMHead)')
    load_checkpoint(model, args.checkpoint, map_location='cpu')
    model.eval()
    head = model.decode_head
    num_classes = head.num_classes
    dataset = DATASETS.build(cfg.val_dataloader.dataset)
    count = len(dataset) if args.num_images is None else min(args.num_images, len(dataset))
    stats = {name: np.zeros((2, num_classes)) for name in ('predicted', 'oracle classes')}
    # Class-branch accuracy: [correct, total] on images with / without the class.
    with_class, without_class = np.zeros((2, num_classes)), np.zeros((2, num_classes))
    # Mean softmax(Y[c])[c] on images with / without class c.
    prob_with, prob_without = np.zeros(num_classes), np.zeros(num_classes)
    for index in range(count):
        item = dataset[index]
        data = model.data_preprocessor(dict(inputs=[item['inputs']],
                                            data_samples=[item['data_samples']]), False)
        label = item['data_samples'].gt_sem_seg.data[0]  # (H, W), ignore = 255
        valid = label != head.ignore_index
        present = torch.zeros(num_classes, dtype=torch.bool)
        present[label[valid].unique().long()] = True
        for name, oracle in (('predicted', None), ('oracle classes', present)):
            with torch.no_grad(), class_branch_replaced(head, oracle):
                pred = model.predict(data['inputs'], data['data_samples'])[0].pred_sem_seg.data[0]
            for c in range(num_classes):
                p, g = (pred == c) & valid, (label == c) & valid
                stats[name][0, c] += (p & g).sum().item()
                stats[name][1, c] += (p | g).sum().item()
        # The class branch on the whole image (one window): argmax of each query.
        with torch.no_grad():
            cls_logits = head(model.extract_feat(data['inputs'])).cls_logits[-1][0]
        choice = cls_logits.argmax(-1)  # (C,) class (or C: no object) per query
        own = cls_logits.softmax(-1).diagonal()  # (C,) query c's probability of class c
        for c in range(num_classes):
            tally = with_class if present[c] else without_class
            (prob_with if present[c] else prob_without)[c] += own[c].item()
            tally[0, c] += int(choice[c] == (c if present[c] else num_classes))
            tally[1, c] += 1
    classes = dataset.metainfo['classes']
    predicted, oracle = (iou(*stats[name]) for name in ('predicted', 'oracle classes'))
    print(f'{count} validation images, {type(head).__name__}')
    print('| class | IoU predicted | IoU oracle classes | images with / without it '
          '| argmax Y[c] right, with / without | mean p(c) of query c, with / without |')
    print('|---|---|---|---|---|---|')
    with np.errstate(invalid='ignore', divide='ignore'):
        right = with_class[0] / with_class[1], without_class[0] / without_class[1]
        prob = prob_with / with_class[1], prob_without / without_class[1]
    for c, name in enumerate(classes):
        print(f'| {name} | {predicted[c]:.2f} | {oracle[c]:.2f} '
              f'| {int(with_class[1, c])} / {int(without_class[1, c])} '
              f'| {right[0][c]:.2f} / {right[1][c]:.2f} | {prob[0][c]:.2f} / {prob[1][c]:.2f} |')
    print(f'| mIoU | {np.nanmean(predicted):.2f} | {np.nanmean(oracle):.2f} | | | |')


if __name__ == '__main__':
    main()
