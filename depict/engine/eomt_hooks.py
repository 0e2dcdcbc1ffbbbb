"""EoMT's mask annealing (Kerssies et al., CVPR 2025, Sec. 3.3) as an mmengine hook.

Masked attention helps early training but costs inference time, so EoMT
anneals it away: block l of the last L₂ applies its attention mask to each
query with probability ``P_l``, which stays 1 until iteration ``start_l``,
decays as ``(1 − (t − start_l) / (end_l − start_l))^power`` and is 0 from
``end_l`` on (the official schedule, ``power`` = the lr schedule's poly power
0.9). The official configs stagger the blocks: the first of the last four is
annealed first (ADE20K 512, DINOv2-L: starts 6520, 13040, 19560, 26080; ends
13040, 19560, 26080, 32600).

The probabilities live in the backbone's ``attn_mask_probs`` buffer, so every
checkpoint holds the ones of its iteration and a resumed run continues from
them; the hook recomputes them from the iteration before each step anyway
(the schedule is a function of the iteration), exactly as the official code
sets them after each step for the next one.
"""
from typing import Optional, Sequence

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS

__all__ = ['EoMTMaskAnnealingHook', 'mask_probability']


def mask_probability(iteration: int, start: int, end: int, power: float) -> float:
    """``P`` at ``iteration``: 1 before ``start``, 0 from ``end``, poly in between."""
    if iteration < start:
        return 1.0
    if iteration >= end:
        return 0.0
    return (1.0 - (iteration - start) / (end - start))**power


@HOOKS.register_module()
class EoMTMaskAnnealingHook(Hook):
    """Sets the EoMT backbone's ``attn_mask_probs`` before every training step.

    Args:
        start_iters: Per block of the last L₂, the iteration its annealing starts.
        end_iters: Per block, the iteration from which its mask is off.
        power: Poly exponent (0.9).
    """
    priority = 'HIGH'

    def __init__(self, *, start_iters: Sequence[int], end_iters: Sequence[int],
                 power: float = 0.9) -> None:
        if len(start_iters) != len(end_iters):
            raise ValueError(f'start_iters {list(start_iters)} and end_iters {list(end_iters)} '
                             'need one entry per query block each')
        bad = [(s, e) for s, e in zip(start_iters, end_iters) if e <= s]
        if bad:
            raise ValueError(f'each end_iter must exceed its start_iter; got {bad}')
        self.start_iters = [int(s) for s in start_iters]
        self.end_iters = [int(e) for e in end_iters]
        self.power = power

    @staticmethod
    def _backbone(runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        backbone = getattr(model, 'backbone', None)
        if backbone is None or not hasattr(backbone, 'attn_mask_probs'):
            raise TypeError('EoMTMaskAnnealingHook needs an EoMT backbone (EoMTTimmViT or '
                            'EoMTVisionTransformer) with attn_mask_probs; remove the hook '
                            'from custom_hooks for other models.')
        return backbone

    def probabilities(self, iteration: int) -> list[float]:
        """Every block's ``P`` at ``iteration``."""
        return [mask_probability(iteration, s, e, self.power)
                for s, e in zip(self.start_iters, self.end_iters)]

    def before_train(self, runner) -> None:
        backbone = self._backbone(runner)
        if len(self.start_iters) != backbone.num_blocks:
            raise ValueError(f'EoMTMaskAnnealingHook has {len(self.start_iters)} schedules for '
                             f'{backbone.num_blocks} query blocks (backbone.num_blocks); give '
                             'one start/end iteration per block.')

    def before_train_iter(self, runner, batch_idx: int, data_batch: Optional[dict] = None
                          ) -> None:
        backbone = self._backbone(runner)
        probs = self.probabilities(runner.iter)
        with torch.no_grad():
            backbone.attn_mask_probs.copy_(torch.tensor(probs))
        for index, prob in enumerate(probs):
            runner.message_hub.update_scalar(f'train/attn_mask_prob_{index}', prob)
