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
encoder (``encoder.backbone.patch_embed`` = HF ``embeddings``, ``blocks`` = HF
``layer``), mapped to timm's ``vit_*_patch16_dinov3_qkvb`` (same function, RoPE
included; tested): q / k / v projections -> the packed ``attn.qkv``, their q and
v biases -> ``attn.q_bias`` / ``attn.v_bias`` (timm keeps k's bias at zero, as
DINOv3), ``o_proj`` -> ``attn.proj``, ``layer_scale{1,2}.lambda1`` ->
``gamma_{1,2}``, ``mlp.up_proj`` / ``down_proj`` -> ``mlp.fc1`` / ``fc2``,
``register_tokens`` -> ``reg_token``. The zoo's DINOv3 files are deltas against
the DINOv3 weights (the official ``delta_weights``): give those weights
(``dinov3_weights``, the Hugging Face ``model.safetensors``) and they are added
back as the official code does (encoder tensors + the DINOv3 tensor; the other
parameters as stored; ``attn_mask_probs`` + its initial 1).
"""
import re
from typing import Optional

import torch
from torch import Tensor

from .official import ConversionError, dataset_meta

__all__ = ['convert_eomt_checkpoint', 'eomt_architecture', 'model_overrides', 'add_dinov3_base',
           'dinov3_to_timm', 'is_dinov3_layout']

#: timm model name by ViT width (the DINOv2 models of the official zoo).
_DINOV2 = {384: 'vit_small_patch14_reg4_dinov2', 768: 'vit_base_patch14_reg4_dinov2',
           1024: 'vit_large_patch14_reg4_dinov2', 1536: 'vit_giant_patch14_reg4_dinov2'}
#: timm model name by ViT width (the DINOv3 models; ``_qkvb`` added with q / v biases).
_DINOV3 = {384: 'vit_small_patch16_dinov3', 768: 'vit_base_patch16_dinov3',
           1024: 'vit_large_patch16_dinov3'}
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
                mlp_ratio=state_dict[_ENCODER + 'blocks.0.mlp.fc1.weight'].shape[0] / width,
                pos_grid=int(state_dict[_ENCODER + 'pos_embed'].shape[1])
                if _ENCODER + 'pos_embed' in state_dict else None,
                model_name=_DINOV2.get(int(width)))


def is_dinov3_layout(state_dict: dict[str, Tensor]) -> bool:
    """Whether the encoder is the official DINOv3 one (Hugging Face layout)."""
    return any(k.startswith(_ENCODER + 'blocks.') and '.attention.' in k for k in state_dict)


def _hf_base_key(key: str) -> Optional[str]:
    """A Hugging Face DINOv3ViTModel key -> the official EoMT encoder key (None: unused)."""
    key = key[len('model.'):] if key.startswith('model.layer.') else key
    if key.startswith('embeddings.'):
        rest = key[len('embeddings.'):]
        return None if rest == 'mask_token' else _ENCODER + 'patch_embed.' + rest
    if key.startswith('layer.'):
        return _ENCODER + 'blocks.' + key[len('layer.'):]
    if key.startswith('norm.'):
        return _ENCODER + key
    return None  # rope_embeddings.inv_freq: computed, not learned


def add_dinov3_base(state_dict: dict[str, Tensor], base: dict[str, Tensor]) -> dict[str, Tensor]:
    """Official delta weights + the DINOv3 weights -> absolute weights."""
    out = dict(state_dict)
    used = 0
    for key, value in base.items():
        target = _hf_base_key(key)
        if target is None:
            continue
        if target not in out:
            raise ConversionError(f'the DINOv3 weights hold {key} ({target} here), which the '
                                  'EoMT checkpoint lacks: not the matching DINOv3 model')
        if out[target].shape != value.shape:
            raise ConversionError(f'{key}: DINOv3 weights {tuple(value.shape)} vs EoMT '
                                  f'{tuple(out[target].shape)}: not the matching DINOv3 model')
        out[target] = out[target] + value.to(out[target].dtype)
        used += 1
    if not used:
        raise ConversionError('no DINOv3 tensor found in the base weights (expected Hugging '
                              'Face DINOv3ViTModel keys: embeddings.*, layer.*, norm.*)')
    if 'attn_mask_probs' in out:  # its initial value (1) is part of the base
        out['attn_mask_probs'] = out['attn_mask_probs'] + 1
    return out


def dinov3_to_timm(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """The official DINOv3 (Hugging Face) encoder keys -> timm Eva keys, in place of them."""
    out, attn = {}, {}
    renames = [(r'patch_embed\.cls_token', 'cls_token'),
               (r'patch_embed\.register_tokens', 'reg_token'),
               (r'patch_embed\.patch_embeddings\.(weight|bias)', r'patch_embed.proj.\1'),
               (r'blocks\.(\d+)\.attention\.o_proj\.(weight|bias)', r'blocks.\1.attn.proj.\2'),
               (r'blocks\.(\d+)\.layer_scale([12])\.lambda1', r'blocks.\1.gamma_\2'),
               (r'blocks\.(\d+)\.mlp\.up_proj\.(weight|bias)', r'blocks.\1.mlp.fc1.\2'),
               (r'blocks\.(\d+)\.mlp\.down_proj\.(weight|bias)', r'blocks.\1.mlp.fc2.\2'),
               (r'blocks\.(\d+)\.(norm[12])\.(weight|bias)', r'blocks.\1.\2.\3'),
               (r'norm\.(weight|bias)', r'norm.\1')]
    for key, value in state_dict.items():
        if not key.startswith(_ENCODER):
            out[key] = value
            continue
        rest = key[len(_ENCODER):]
        if rest.startswith('rope_embeddings.'):
            continue
        qkv = re.fullmatch(r'blocks\.(\d+)\.attention\.([qkv])_proj\.(weight|bias)', rest)
        if qkv:
            attn[(int(qkv.group(1)), qkv.group(2), qkv.group(3))] = value
            continue
        for pattern, repl in renames:
            if re.fullmatch(pattern, rest):
                out[_ENCODER + re.sub(pattern, repl, rest)] = value
                break
        else:
            raise ConversionError(f'{key}: not a DINOv3 encoder tensor this converter knows '
                                  '(gated-MLP DINOv3 models are not supported)')
    for block in sorted({b for b, _, _ in attn}):
        prefix = f'{_ENCODER}blocks.{block}.attn.'
        out[prefix + 'qkv.weight'] = torch.cat([attn[(block, n, 'weight')] for n in 'qkv'])
        k_bias = attn.get((block, 'k', 'bias'))
        if k_bias is not None and bool(k_bias.any()):
            raise ConversionError(f'block {block} has a non-zero key bias; timm\'s DINOv3 keeps '
                                  'it at zero')
        for name in 'qv':
            if (block, name, 'bias') in attn:
                out[prefix + f'{name}_bias'] = attn[(block, name, 'bias')]
    return out


def convert_eomt_checkpoint(ckpt: dict, source: str = '', num_heads: Optional[int] = None,
                            dataset: Optional[str] = None,
                            dinov3_weights: Optional[dict] = None) -> dict:
    """Converts a loaded official EoMT checkpoint to ``{'state_dict', 'meta'}``.

    Args:
        ckpt: ``torch.load`` of ``pytorch_model.bin`` (a state dict) or of a
            Lightning checkpoint (``{'state_dict': ...}``).
        source: Recorded in the meta.
        num_heads: Attention heads, when not width / 64.
        dataset: The dataset name for the meta (``ade20k``, ``cityscapes``...);
            inferred from the number of classes when None.
        dinov3_weights: The DINOv3 weights (Hugging Face ``DINOv3ViTModel``
            state dict) that a delta checkpoint of the DINOv3 zoo is relative to.

    Raises:
        ConversionError: not the official format, or unknown tensors (listed).
    """
    if not isinstance(ckpt, dict):
        raise ConversionError('not an EoMT checkpoint: expected a state dict')
    state_dict = _strip(ckpt.get('state_dict', ckpt))
    fmt = 'eomt-timm'
    if is_dinov3_layout(state_dict):
        if dinov3_weights is not None:
            state_dict = add_dinov3_base(state_dict, dinov3_weights)
        state_dict = dinov3_to_timm(state_dict)
        fmt = 'eomt-dinov3'
    elif dinov3_weights is not None:
        raise ConversionError('DINOv3 weights were given, but the checkpoint has a DINOv2 '
                              '(timm) encoder, which the zoo stores as absolute weights')
    arch = eomt_architecture(state_dict, num_heads)
    arch['format'] = fmt
    arch['delta'] = dinov3_weights is not None
    if fmt == 'eomt-dinov3':
        qkvb = _ENCODER + 'blocks.0.attn.q_bias' in state_dict
        arch['model_name'] = _DINOV3.get(arch['embed_dims'], 'vit_large_patch16_dinov3') + (
            '_qkvb' if qkvb else '')
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
                  mlp_ratio=arch['mlp_ratio'])
    # timm's ViT and Eva name the register-token count differently.
    kwargs['num_reg_tokens' if arch['format'] == 'eomt-dinov3' else 'reg_tokens'] = \
        arch['reg_tokens']
    backbone = dict(type='EoMTTimmViT', model_name=model_name, model_kwargs=kwargs,
                    num_queries=arch['num_queries'], num_blocks=arch['num_blocks'])
    grid = arch['pos_grid']
    side = int(round(((grid or 1) - 1) ** 0.5))
    if grid and side * side == grid - 1:  # a CLS entry plus a square grid
        backbone['img_size'] = side * arch['patch_size']
    head = dict(type='EoMTHead', in_channels=arch['embed_dims'],
                num_classes=arch['num_classes'], patch_size=arch['patch_size'])
    return dict(backbone=backbone, decode_head=head)

