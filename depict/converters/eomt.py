"""Official EoMT checkpoints (tue-mps/eomt) -> depict (mmseg 1.x) checkpoints.

A released EoMT file (``pytorch_model.bin``, or a Lightning ``.ckpt`` with a
``state_dict``) holds the Lightning module's tensors:

* ``network.encoder.backbone.*``: the timm ViT (DINOv2 models:
  ``vit_*_patch14_reg4_dinov2`` built with patch size 16) -> our
  :class:`~depict.models.backbones.EoMTTimmViT`'s ``backbone.model.*``, its
  final norm ``norm.*`` -> ``backbone.norm.*``;
* ``network.q.weight`` (the queries) -> ``backbone.queries.weight``;
  ``network.attn_mask_probs`` (the annealed probabilities) ->
  ``backbone.attn_mask_probs``;
* ``network.class_head`` / ``mask_head`` / ``upscale`` ->
  ``decode_head.class_head`` / ``mask_head`` / ``upscale`` (same layouts);
* dropped: ``network.encoder.pixel_mean`` / ``pixel_std`` (ImageNet statistics
  in [0, 1] units; the mmseg data preprocessor normalises with the same values
  in [0, 255] units) and the criterion's ``empty_weight``.

The DINOv3 models of the official zoo run a Hugging Face ``DINOv3ViTModel``
encoder and are released as deltas against the DINOv3 weights; their layout
is recognised and refused with that explanation (not converted yet).
"""
import re
from typing import Optional

from torch import Tensor

from .official import ConversionError, dataset_meta

__all__ = ['convert_eomt_checkpoint', 'eomt_architecture', 'model_overrides']

#: timm model name by ViT width (the DINOv2 models of the official zoo).
_DINOV2 = {384: 'vit_small_patch14_reg4_dinov2', 768: 'vit_base_patch14_reg4_dinov2',
           1024: 'vit_large_patch14_reg4_dinov2', 1536: 'vit_giant_patch14_reg4_dinov2'}
_PREFIX = 'network.'
_ENCODER = 'encoder.backbone.'


def _strip(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """Keys without ``network.`` and torch.compile's ``._orig_mod``."""
    out = {}
    for key, value in state_dict.items():
        key = key.replace('._orig_mod', '')
        if key.startswith('criterion.'):
            continue  # the loss's empty_weight buffer
        out[key[len(_PREFIX):] if key.startswith(_PREFIX) else key] = value
    return out


def eomt_architecture(state_dict: dict[str, Tensor], num_heads: Optional[int] = None) -> dict:
    """Sizes read from the tensors (``num_heads``: given, else width / 64 as every
    DINOv2 / DINOv3 ViT of the official zoo)."""
    keys = set(state_dict)
    if any(k.startswith(_ENCODER + 'blocks.') and '.attention.' in k for k in keys):
        raise ConversionError(
            'this is a DINOv3 EoMT checkpoint (Hugging Face DINOv3ViTModel encoder, released '
            'as deltas against the DINOv3 weights); its conversion is not supported yet. '
            'DINOv2 checkpoints (timm encoder) convert.')
    needed = ('q.weight', 'class_head.weight', _ENCODER + 'patch_embed.proj.weight',
              'attn_mask_probs')
    missing = [k for k in needed if k not in state_dict]
    if missing:
        raise ConversionError(f'not an EoMT checkpoint: {", ".join(missing)} missing (expected '
                              'the network.* tensors of tue-mps/eomt)')
    num_queries, width = state_dict['q.weight'].shape
    depth = 1 + max(int(m.group(1)) for k in keys
                    if (m := re.match(re.escape(_ENCODER) + r'blocks\.(\d+)\.', k)))
    patch = tuple(state_dict[_ENCODER + 'patch_embed.proj.weight'].shape[-2:])
    reg = state_dict.get(_ENCODER + 'reg_token')
    heads = num_heads or width // 64
    if heads < 1:
        raise ConversionError(f'width {width} is under 64: give the number of attention heads '
                              '(--num-heads)')
    if width % heads:
        raise ConversionError(f'num_heads={heads} does not divide the width {width}')
    return dict(format='eomt-timm', embed_dims=int(width), depth=depth, num_heads=heads,
                patch_size=int(patch[0]), num_queries=int(num_queries),
                num_blocks=int(state_dict['attn_mask_probs'].numel()),
                num_classes=int(state_dict['class_head.weight'].shape[0]) - 1,
                num_upscale=1 + max(int(m.group(1)) for k in keys
                                    if (m := re.match(r'upscale\.(\d+)\.', k))),
                reg_tokens=0 if reg is None else int(reg.shape[1]),
                pos_grid=int(state_dict[_ENCODER + 'pos_embed'].shape[1])
                if _ENCODER + 'pos_embed' in state_dict else None,
                model_name=_DINOV2.get(int(width)))


def convert_eomt_checkpoint(ckpt: dict, source: str = '', num_heads: Optional[int] = None,
                            dataset: Optional[str] = None) -> dict:
    """Converts a loaded official EoMT checkpoint to ``{'state_dict', 'meta'}``.

    Args:
        ckpt: ``torch.load`` of ``pytorch_model.bin`` (a state dict) or of a
            Lightning checkpoint (``{'state_dict': ...}``).
        source: Recorded in the meta.
        num_heads: Attention heads, when not width / 64.
        dataset: The dataset name for the meta (``ade20k``, ``cityscapes``...);
            inferred from the number of classes when None.

    Raises:
        ConversionError: not the official format, or unknown tensors (listed).
    """
    if not isinstance(ckpt, dict):
        raise ConversionError('not an EoMT checkpoint: expected a state dict')
    state_dict = _strip(ckpt.get('state_dict', ckpt))
    arch = eomt_architecture(state_dict, num_heads)
    out, unknown = {}, []
    for key, value in state_dict.items():
        if key in ('encoder.pixel_mean', 'encoder.pixel_std'):
            continue  # normalisation: the data preprocessor's
        if key.startswith(_ENCODER + 'norm.'):
            out['backbone.norm.' + key[len(_ENCODER + 'norm.'):]] = value
        elif key.startswith(_ENCODER):
            out['backbone.model.' + key[len(_ENCODER):]] = value
        elif key == 'q.weight':
            out['backbone.queries.weight'] = value
        elif key == 'attn_mask_probs':
            out['backbone.attn_mask_probs'] = value
        elif re.match(r'(class_head|mask_head|upscale)\.', key):
            out['decode_head.' + key] = value
        else:
            unknown.append(key)
    if unknown:
        raise ConversionError(f'{len(unknown)} key(s) of the official checkpoint have no '
                              f'counterpart here: {", ".join(sorted(unknown))}; nothing was '
                              'written.')
    info = dataset_meta(dataset, arch['num_classes'])
    return dict(state_dict=out, meta=dict(
        dataset_meta=dict(classes=info['classes'], palette=info['palette']),
        classes=info['classes'], palette=info['palette'],
        converter='tools/model_converters/eomt2mmseg.py', source=source,
        source_format=arch['format'], architecture=arch))


def model_overrides(arch: dict) -> dict:
    """Model fields (mmseg config) for this architecture, as nested dicts.

    The timm model is built with the checkpoint's sizes (``model_kwargs``), so
    it loads strictly whatever the zoo entry; ``img_size`` is the official
    training size (the square position grid of the checkpoint).
    """
    model_name = arch['model_name'] or 'vit_large_patch14_reg4_dinov2'
    kwargs = dict(patch_size=arch['patch_size'], embed_dim=arch['embed_dims'],
                  depth=arch['depth'], num_heads=arch['num_heads'],
                  reg_tokens=arch['reg_tokens'])
    backbone = dict(type='EoMTTimmViT', model_name=model_name, model_kwargs=kwargs,
                    num_queries=arch['num_queries'], num_blocks=arch['num_blocks'])
    grid = arch['pos_grid']
    side = int(round(((grid or 1) - 1) ** 0.5))
    if grid and side * side == grid - 1:  # a CLS entry plus a square grid
        backbone['img_size'] = side * arch['patch_size']
    head = dict(type='EoMTHead', in_channels=arch['embed_dims'],
                num_classes=arch['num_classes'], patch_size=arch['patch_size'])
    return dict(backbone=backbone, decode_head=head)

