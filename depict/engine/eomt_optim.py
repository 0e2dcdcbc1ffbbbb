"""EoMT's optimiser recipe (tue-mps/eomt ``training/lightning_module.py``,
``two_stage_warmup_poly_schedule.py``) in mmengine's terms.

**Parameter groups** (:class:`EoMTOptimWrapperConstructor`), AdamW with one
weight decay for every parameter (the official groups have no exclusions):

* ViT block i of L: ``lr · decay_rate^(L−1−i)`` (layer-wise decay 0.8 for
  DINOv2; the last block at the base rate);
* ViT embeddings (patch embedding, CLS / register tokens, position embedding):
  the rate of block 0, ``lr · decay_rate^(L−1)``;
* the ViT's final norm, the queries and the readout head: ``lr``;
* ``decay_query_blocks=False`` (the official ``llrd_l2_enabled=False``, or any
  ``lr_mult ≠ 1``, as the DINOv3 config) puts the last ``num_blocks`` blocks at
  ``lr`` too. (The official ``lr_mult`` has no other effect on the rates: its
  branch sits behind the same condition as the decay's and never runs.)

Each group is marked ``vit=True`` for the ViT's parameters (queries excluded)
so :class:`TwoStageWarmupPolyLR` can schedule the two kinds apart:

* new parameters: linear warm-up ``0 → lr`` over ``warmup_iters[0]``, then
  poly decay (power 0.9) to 0 at ``total_iters``;
* ViT parameters: lr 0 for ``warmup_iters[0]`` (the new parts settle first),
  linear warm-up over ``warmup_iters[1]``, then poly decay to 0 at
  ``total_iters``. Official values: (500, 1000) for DINOv2, (2000, 3000) for
  DINOv3.
"""
import re
from typing import Optional, Sequence

from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.optim.scheduler.param_scheduler import INF, _ParamScheduler
from mmseg.registry import OPTIM_WRAPPER_CONSTRUCTORS, PARAM_SCHEDULERS
from torch import nn

__all__ = ['EoMTOptimWrapperConstructor', 'TwoStageWarmupPolyLR', 'eomt_lr_scale']

_BLOCK = re.compile(r'^backbone\.(?:model\.blocks|layers)\.(\d+)\.')
_FINAL_NORM = ('backbone.norm.', 'backbone.ln1.')


def eomt_lr_scale(name: str, depth: int, num_blocks: int, decay_rate: float,
                  decay_query_blocks: bool = True) -> tuple[float, bool]:
    """``(lr factor, is a ViT parameter)`` of one parameter by the official rule."""
    if not name.startswith('backbone.') or name.startswith('backbone.queries'):
        return 1.0, False
    if name.startswith(_FINAL_NORM):
        return 1.0, True
    block = _BLOCK.match(name)
    if block is None:  # embeddings: the rate of block 0
        return decay_rate**(depth - 1), True
    index = int(block.group(1))
    if not decay_query_blocks and index >= depth - num_blocks:
        return 1.0, True
    return decay_rate**(depth - 1 - index), True


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class EoMTOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """The official EoMT parameter groups (see the module docstring).

    ``paramwise_cfg`` keys: ``decay_rate`` (0.8), ``decay_query_blocks`` (True).
    Works with :class:`~depict.models.backbones.EoMTTimmViT` (``model.blocks``)
    and :class:`~depict.models.backbones.EoMTVisionTransformer` (``layers``).
    Frozen parameters are in no group.
    """

    def add_params(self, params: list, module: nn.Module, prefix: str = '',
                   is_dcn_module: Optional[bool] = None) -> None:
        cfg = self.paramwise_cfg
        decay_rate = float(cfg.get('decay_rate', 0.8))
        decay_query_blocks = bool(cfg.get('decay_query_blocks', True))
        backbone = getattr(module, 'backbone', None)
        if backbone is None or not hasattr(backbone, 'num_blocks'):
            raise TypeError('EoMTOptimWrapperConstructor needs an EoMT backbone '
                            '(EoMTTimmViT or EoMTVisionTransformer)')
        depth, num_blocks = len(backbone.blocks), backbone.num_blocks
        groups: dict = {}
        for name, param in module.named_parameters():
            if not param.requires_grad:
                continue
            scale, vit = eomt_lr_scale(name, depth, num_blocks, decay_rate, decay_query_blocks)
            key = (round(scale, 12), vit)
            if key not in groups:
                groups[key] = dict(params=[], param_names=[], lr=scale * self.base_lr,
                                   lr_scale=scale, vit=vit, weight_decay=self.base_wd)
            groups[key]['params'].append(param)
            groups[key]['param_names'].append(name)
        print_log(f'EoMT parameter groups (layer decay {decay_rate} over {depth} blocks): ' +
                  ', '.join(f'{"vit" if g["vit"] else "new"} x{g["lr_scale"]:.3g} '
                            f'({len(g["params"])} tensors)' for g in groups.values()),
                  logger='current')
        params.extend(groups.values())


@PARAM_SCHEDULERS.register_module()
class TwoStageWarmupPolyLR(_ParamScheduler):
    """EoMT's learning-rate schedule, per group (see the module docstring).

    Groups with ``vit=True`` (set by :class:`EoMTOptimWrapperConstructor`) get
    the delayed warm-up; all others the plain one.

    Args:
        optimizer: The optimizer (wrapper).
        total_iters: Iterations of the run (the poly decay ends there).
        warmup_iters: (new parameters' warm-up, ViT's warm-up after it).
        power: Poly exponent (0.9).
        begin, end, last_step, by_epoch, verbose: As mmengine's schedulers
            (iteration-based only).
    """

    def __init__(self, optimizer, *, total_iters: int,
                 warmup_iters: Sequence[int] = (500, 1000), power: float = 0.9,
                 begin: int = 0, end: int = INF, last_step: int = -1,
                 by_epoch: bool = False, verbose: bool = False) -> None:
        if by_epoch:
            raise ValueError('TwoStageWarmupPolyLR counts iterations: set by_epoch=False')
        if len(warmup_iters) != 2 or min(warmup_iters) < 0:
            raise ValueError(f'warmup_iters must be two non-negative counts, got {warmup_iters}')
        if total_iters <= sum(warmup_iters):
            raise ValueError(f'total_iters={total_iters} must exceed the warm-ups {warmup_iters}')
        self.total_iters = int(total_iters)
        self.warmup_iters = tuple(int(w) for w in warmup_iters)
        self.power = power
        super().__init__(optimizer, 'lr', begin=begin, end=end, last_step=last_step,
                         by_epoch=by_epoch, verbose=verbose)

    def factor(self, step: int, vit: bool) -> float:
        """The lr factor at ``step`` (iterations done) for a ViT or a new group."""
        new_warmup, vit_warmup = self.warmup_iters
        if not vit:
            if new_warmup > 0 and step < new_warmup:
                return step / new_warmup
            done = max(0, step - new_warmup)
            return max(0.0, 1 - done / max(1, self.total_iters - new_warmup))**self.power
        if step < new_warmup:
            return 0.0
        if step < new_warmup + vit_warmup:
            return (step - new_warmup) / vit_warmup
        done = max(0, step - new_warmup - vit_warmup)
        return max(0.0, 1 - done / max(1, self.total_iters - new_warmup - vit_warmup))**self.power

    def _get_value(self) -> list:
        return [group['initial_lr'] * self.factor(self.last_step, group.get('vit', False))
                for group in self.optimizer.param_groups]
