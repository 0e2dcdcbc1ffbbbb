"""Layer-wise learning-rate decay for plain ViTs (mmseg's ViT/BEiT/MAE, depict's TimmViT).

BEiT / ViT-Adapter / MAE fine-tune plain ViTs for segmentation with AdamW and
a learning rate that decays geometrically from the top of the network into
the backbone. mmseg 1.2.2 ships ``LearningRateDecayOptimizerConstructor`` (and
its deprecated alias ``LayerDecayOptimizerConstructor``) for that, but it does
not work for ``VisionTransformer`` or subclasses of it:

* it raises ``NotImplementedError`` unless the backbone's class name contains
  ``BEiT``, ``MAE`` or ``ConvNeXt``;
* its no-weight-decay rule compares full names (``backbone.pos_embed``) with
  bare ones (``pos_embed``, ``cls_token``), so position embeddings and the CLS
  token are weight-decayed.

:class:`ViTLayerDecayOptimWrapperConstructor` groups parameters by ViT depth
from mmseg's parameter names (``backbone.patch_embed``, ``backbone.cls_token``,
``backbone.pos_embed`` → id 0; ``backbone.layers.<i>`` → id i+1; everything
else, i.e. the final norm, any new backbone modules such as the local pathway,
and the decode head → id num_layers+1), and scales the learning rate by
``decay_rate ** (num_layers + 1 − id)``.

Frozen parameters (``requires_grad=False``, e.g. a backbone's
``frozen_stages``) are left out of the optimizer by both constructors here:
:class:`TrainableOptimWrapperConstructor` is mmengine's default constructor
restricted to the trainable parameters (mmengine's own passes
``model.parameters()``, frozen ones included, when there is no
``paramwise_cfg``, and warns once per frozen tensor otherwise).
"""
import inspect
import logging
from typing import Optional

from mmengine.logging import MMLogger, print_log
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from mmseg.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS, OPTIMIZERS
from torch import nn

__all__ = ['vit_layer_id', 'ViTLayerDecayOptimWrapperConstructor',
           'TrainableOptimWrapperConstructor']


def _log_frozen(module: nn.Module) -> None:
    """One line instead of mmengine's warning per frozen tensor."""
    frozen = [param for param in module.parameters() if not param.requires_grad]
    if frozen:
        numel = sum(param.numel() for param in frozen)
        print_log(f'{len(frozen)} frozen parameter tensors ({numel / 1e6:.2f} M values, '
                  'requires_grad=False) are left out of the optimizer', logger='current')


class _DropFrozenWarnings(logging.Filter):
    """Drops mmengine's per-tensor "... is skipped since its requires_grad=False"."""

    def filter(self, record: logging.LogRecord) -> bool:
        return 'is skipped since its requires_grad=False' not in record.getMessage()


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class TrainableOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """mmengine's ``DefaultOptimWrapperConstructor`` over trainable parameters only.

    The same groups and ``paramwise_cfg`` rules as mmengine's, but parameters
    with ``requires_grad=False`` (frozen backbone stages) are never handed to
    the optimizer, with or without ``paramwise_cfg``. They would get no
    gradient and so not move either way; leaving them out keeps them out of
    the optimizer's state and its state dict, and makes a wrongly frozen
    parameter visible (logged count) instead of silently carried.

    Example::

        model = dict(backbone=dict(frozen_stages=24))
        optim_wrapper = dict(
            type='OptimWrapper', constructor='TrainableOptimWrapperConstructor',
            optimizer=dict(type='AdamW', lr=6e-5, weight_decay=0.01))
    """

    def __call__(self, model: nn.Module) -> OptimWrapper:
        if self.paramwise_cfg:
            return super().__call__(model)  # groups from add_params (below)
        if hasattr(model, 'module'):
            model = model.module
        _log_frozen(model)
        optimizer_cfg = self.optimizer_cfg.copy()
        optimizer_cls = optimizer_cfg['type']
        if isinstance(optimizer_cls, str):
            with OPTIMIZERS.switch_scope_and_registry(None) as registry:
                optimizer_cls = registry.get(optimizer_cls)
        # The first argument takes the parameters (``params`` for torch's optimizers).
        first_arg = next(iter(inspect.signature(optimizer_cls).parameters))
        optimizer_cfg[first_arg] = [p for p in model.parameters() if p.requires_grad]
        optimizer = OPTIMIZERS.build(optimizer_cfg)
        wrapper_cfg = self.optim_wrapper_cfg.copy()
        wrapper_cfg.setdefault('type', 'OptimWrapper')
        return OPTIM_WRAPPERS.build(wrapper_cfg, default_args=dict(optimizer=optimizer))

    def add_params(self, params: list, module: nn.Module, prefix: str = '',
                   is_dcn_module: Optional[bool] = None) -> None:
        if prefix:  # mmengine's recursion into children
            return super().add_params(params, module, prefix, is_dcn_module)
        _log_frozen(module)
        logger, quiet = MMLogger.get_current_instance(), _DropFrozenWarnings()
        logger.addFilter(quiet)
        try:
            super().add_params(params, module, prefix, is_dcn_module)
        finally:
            logger.removeFilter(quiet)

_NO_DECAY = ('pos_embed', 'cls_token', 'cls_emb', 'reg_token', 'dist_token',
             'relative_position_bias_table')


_EMBEDDINGS = ('patch_embed.', 'cls_token', 'pos_embed', 'reg_token', 'dist_token')


def vit_layer_id(name: str, num_layers: int) -> int:
    """Depth id of a parameter of a segmentor whose backbone is a plain ViT.

    Understands mmseg's ``VisionTransformer``, ``BEiT`` and ``MAE``
    (``backbone.layers.<i>``, ``backbone.patch_embed``...) and depict's
    ``TimmViT`` (``backbone.model.blocks.<i>``, ``backbone.model.patch_embed``,
    ``backbone.model.reg_token``...).
    """
    for prefix, blocks in (('backbone.', 'layers'), ('backbone.model.', 'blocks')):
        if not name.startswith(prefix):
            continue
        rest = name[len(prefix):]
        if rest.startswith(_EMBEDDINGS):
            return 0
        if rest.startswith(blocks + '.'):
            return int(rest.split('.')[1]) + 1
    return num_layers + 1


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class ViTLayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """AdamW-style parameter groups with layer-wise lr decay for mmseg ViTs.

    ``paramwise_cfg`` keys:

    * ``decay_rate`` (required): per-layer lr factor, e.g. 0.9;
    * ``num_layers`` (optional): transformer depth; read from
      ``model.backbone.layers`` when omitted;
    * ``no_decay_names`` (optional): parameter base names without weight
      decay, besides every 1-D parameter (norms, biases, SASM scale); default
      ``('pos_embed', 'cls_token', 'cls_emb', 'reg_token', 'dist_token',
      'relative_position_bias_table')`` (the last: BEiT's relative position
      biases, without weight decay as in BEiT's own fine-tuning).

    Backbones: mmseg's ``VisionTransformer`` (and subclasses), ``BEiT``,
    ``MAE`` and depict's ``TimmViT``; the depth is read from
    ``model.backbone.layers`` (``TimmViT.layers`` are its kept timm blocks).
    Frozen parameters (``requires_grad=False``) are in no group.

    Example::

        optim_wrapper = dict(
            type='OptimWrapper', constructor='ViTLayerDecayOptimWrapperConstructor',
            optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
            paramwise_cfg=dict(decay_rate=0.9))
    """

    def add_params(self, params: list, module: nn.Module, prefix: str = '',
                   is_dcn_module: Optional[bool] = None) -> None:
        cfg = self.paramwise_cfg
        if 'decay_rate' not in cfg:
            raise KeyError('ViTLayerDecayOptimWrapperConstructor needs paramwise_cfg.decay_rate '
                           '(e.g. paramwise_cfg=dict(decay_rate=0.9))')
        decay_rate = float(cfg['decay_rate'])
        num_layers = cfg.get('num_layers')
        if num_layers is None:
            layers = getattr(getattr(module, 'backbone', None), 'layers', None)
            if layers is None:
                raise ValueError('Cannot infer the ViT depth: the model has no backbone.layers; '
                                 'set paramwise_cfg.num_layers')
            num_layers = len(layers)
        no_decay_names = tuple(cfg.get('no_decay_names', _NO_DECAY))
        _log_frozen(module)
        groups: dict = {}
        for name, param in module.named_parameters():
            if not param.requires_grad:
                continue
            layer_id = vit_layer_id(name, num_layers)
            no_decay = param.ndim == 1 or name.endswith('.bias') \
                or name.rsplit('.', 1)[-1] in no_decay_names
            key = f'layer_{layer_id}_{"no_decay" if no_decay else "decay"}'
            if key not in groups:
                scale = decay_rate**(num_layers + 1 - layer_id)
                groups[key] = dict(params=[], param_names=[], lr=scale * self.base_lr,
                                   lr_scale=scale, group_name=key,
                                   weight_decay=0.0 if no_decay else self.base_wd)
            groups[key]['params'].append(param)
            groups[key]['param_names'].append(name)
        summary = ', '.join(f'{k}: lr x{v["lr_scale"]:.3g} ({len(v["params"])} tensors)'
                            for k, v in sorted(groups.items(), key=lambda kv: kv[1]['lr_scale']))
        print_log(f'layer-wise lr decay {decay_rate} over {num_layers} layers: {summary}',
                  logger='current')
        params.extend(groups.values())
