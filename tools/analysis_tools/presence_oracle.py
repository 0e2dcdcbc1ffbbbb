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
from typing import Iterator, NamedTuple, Optional, Sequence

import numpy as np
import torch
from mmengine.config import DictAction
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


class PresenceReport(NamedTuple):
    """Per-class results over the validation images (arrays of length C).

    The class-branch fields are None for heads other than SegViT's.
    """
    predicted: np.ndarray  # IoU %, the model as it is
    oracle: np.ndarray  # IoU %, absent classes removed
    images_with: np.ndarray  # images that contain the class / that do not
    images_without: np.ndarray
    right_with: Optional[np.ndarray] = None  # share of argmax Y[c] == c on images with c
    right_without: Optional[np.ndarray] = None  # share of argmax Y[c] == no object, without c
    prob_with: Optional[np.ndarray] = None  # mean softmax(Y[c])[c] on images with c
    prob_without: Optional[np.ndarray] = None  # the same on images without c

    @property
    def miou(self) -> tuple[float, float]:
        """(predicted, presence oracle) mIoU over the classes that occur."""
        return float(np.nanmean(self.predicted)), float(np.nanmean(self.oracle))


@torch.no_grad()
def presence_report(model, dataset, num_images: Optional[int] = None) -> PresenceReport:
    """Runs ``model`` (eval mode, the config's test-time inference) over the first
    ``num_images`` of ``dataset`` (default: all), with and without the oracle."""
    from depict.models.decode_heads.atm_head import BaseATMHead
    head = model.decode_head
    is_atm = isinstance(head, BaseATMHead)
    num_classes = head.num_classes
    count = len(dataset) if num_images is None else min(num_images, len(dataset))
    stats = {name: np.zeros((2, num_classes)) for name in ('predicted', 'oracle')}
    # Per class: [right, images] with / without the class; summed p(c) of query c.
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
            with absent_classes_removed(head, oracle):
                pred = model.predict(data['inputs'], data['data_samples'])[0].pred_sem_seg.data[0]
            for c in range(num_classes):
                p, g = (pred == c) & valid, (label == c) & valid
                stats[name][0, c] += (p & g).sum().item()
                stats[name][1, c] += (p | g).sum().item()
        for c in range(num_classes):
            (with_class if present[c] else without_class)[1, c] += 1
        if is_atm:
            cls_logits = head(model.extract_feat(data['inputs'])).cls_logits[-1][0]
            choice = cls_logits.argmax(-1)  # (C,) class (or C: no object) per query
            own = cls_logits.softmax(-1).diagonal()  # (C,) query c's probability of class c
            for c in range(num_classes):
                tally, prob = ((with_class, prob_with) if present[c]
                               else (without_class, prob_without))
                tally[0, c] += int(choice[c] == (c if present[c] else num_classes))
                prob[c] += own[c].item()
    branch = {}
    if is_atm:
        with np.errstate(invalid='ignore', divide='ignore'):
            branch = dict(right_with=with_class[0] / with_class[1],
                          right_without=without_class[0] / without_class[1],
                          prob_with=prob_with / with_class[1],
                          prob_without=prob_without / without_class[1])
    return PresenceReport(iou(*stats['predicted']), iou(*stats['oracle']), with_class[1],
                          without_class[1], **branch)


def format_report(report: PresenceReport, classes: Sequence[str]) -> str:
    """The report as a Markdown table, one row per class, then the mIoUs."""
    header = '| class | IoU predicted | IoU presence oracle |'
    atm = report.prob_with is not None
    if atm:
        header += (' images with / without it | argmax Y[c] right, with / without '
                   '| mean p(c) of query c, with / without |')
    lines = [header, '|---' * (header.count('|') - 1) + '|']
    for c, name in enumerate(classes):
        row = f'| {name} | {report.predicted[c]:.2f} | {report.oracle[c]:.2f} |'
        if atm:
            row += (f' {int(report.images_with[c])} / {int(report.images_without[c])} '
                    f'| {report.right_with[c]:.2f} / {report.right_without[c]:.2f} '
                    f'| {report.prob_with[c]:.2f} / {report.prob_without[c]:.2f} |')
        lines.append(row)
    predicted, oracle = report.miou
    lines.append(f'| mIoU | {predicted:.2f} | {oracle:.2f} |' + (' | | |' if atm else ''))
    return '\n'.join(lines)


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
    from mmseg.apis import init_model
    from mmseg.registry import DATASETS

    from depict.utils.config import load_config
    cfg = load_config(args.config)
    model = init_model(cfg, args.checkpoint, device='cpu', cfg_options=args.cfg_options)
    dataset = DATASETS.build(cfg.val_dataloader.dataset)
    report = presence_report(model, dataset, args.num_images)
    count = int(report.images_with[0] + report.images_without[0])
    print(f'{count} validation images, {type(model.decode_head).__name__}')
    print(format_report(report, dataset.metainfo['classes']))


if __name__ == '__main__':
    main()
