"""Converts timm / AugReg ViT checkpoints to mmseg's ``VisionTransformer`` keys.

Two source layouts are understood:

* **timm state dicts** (``.pth``, ``.bin``, ``.safetensors``; e.g. the Hugging
  Face hub's ``timm/vit_*_patch16_384.augreg_in21k_ft_in1k`` files): keys
  ``patch_embed.proj``, ``blocks.N.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}``,
  ``norm``, ``cls_token``, ``pos_embed``;
* **JAX/Flax ``.npz`` releases** (the AugReg checkpoints of ``vit_jax``, under
  ``gs://vit_models/augreg/``, and the ``big_vision`` layout): keys such as
  ``Transformer/encoderblock_N/MultiHeadDotProductAttention_1/query/kernel``
  with JAX's (in, out) kernel layout. They are first rearranged into the timm
  layout (:func:`npz_to_timm`), so there is one mapping to mmseg.

mmseg's ``VisionTransformer`` names (what :func:`timm_to_mmseg` produces):
``patch_embed.projection``, ``layers.N.ln1``, ``layers.N.attn.attn.in_proj_{weight,bias}``
(the fused q/k/v projection of ``nn.MultiheadAttention``, same row order as
timm's ``qkv``), ``layers.N.attn.attn.out_proj``, ``layers.N.ln2``,
``layers.N.ffn.layers.0.0`` (fc1), ``layers.N.ffn.layers.1`` (fc2), ``ln1``
(the final norm), ``cls_token``, ``pos_embed``.

The position embedding can be resized to the segmentation crop
(:func:`resize_pos_embed`): bicubic on the patch grid, CLS position kept,
``align_corners=False`` and no anti-aliasing, i.e. exactly what mmseg's
``VisionTransformer.resize_pos_embed`` does with ``interpolate_mode='bicubic'``.

Two pitfalls this module guards against:

* mmseg 1.x's ``VisionTransformer`` defaults to ``patch_bias=False``; timm and
  AugReg ViTs have a patch-embedding bias, so a config must set
  ``patch_bias=True`` or the bias is silently dropped (non-strict loading) and
  the features change. The converted checkpoint's ``meta['backbone_cfg']``
  lists the flags the backbone needs.
* ``mmseg.apis.init_model`` and ``MMSegInferencer`` read ``checkpoint['meta']``;
  :func:`convert_vit_checkpoint` always writes one.
"""
import math
import os.path as osp
import re
import warnings
from collections.abc import Mapping
from typing import Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    'convert_vit_checkpoint', 'load_vit_source', 'npz_to_timm', 'resize_pos_embed',
    'timm_to_mmseg'
]

Tensor = torch.Tensor

# timm keys with no counterpart in a segmentation backbone (classifier).
_DROPPED_PREFIXES = ('head.', 'head_drop.', 'pre_logits.')
# timm features mmseg's VisionTransformer does not implement: refuse, do not drop silently.
_UNSUPPORTED = {
    'dist_token': 'a distillation token (DeiT-distilled)',
    'reg_token': 'register tokens',
    '.ls1.': 'layer scale',
    '.ls2.': 'layer scale',
    '.q_norm.': 'q/k normalisation',
    '.k_norm.': 'q/k normalisation',
    '.norm.weight': 'a norm inside the attention/MLP block',
    'attn_pool.': 'attention pooling',
}


# ---------------------------------------------------------------------------
# Source loading
# ---------------------------------------------------------------------------

def _unwrap_state_dict(obj: Mapping) -> dict:
    """The tensor dict inside a timm / DeiT / mmengine style checkpoint."""
    for key in ('state_dict', 'model', 'module'):
        if key in obj and isinstance(obj[key], Mapping):
            obj = obj[key]
            break
    state = {}
    for key, value in obj.items():
        if not isinstance(value, (Tensor, np.ndarray)):
            continue
        key = re.sub(r'^(module\.|backbone\.)', '', key)
        state[key] = torch.as_tensor(value)
    return state


def load_vit_source(src: str) -> tuple[dict, str, dict]:
    """Reads a ViT checkpoint in any supported layout.

    Args:
        src: A local ``.npz``, ``.safetensors``, ``.pth`` / ``.pt`` / ``.bin``
            file, or ``timm:<model name>`` to let timm download the pretrained
            weights (needs network access and ``huggingface_hub``).

    Returns:
        ``(state_dict in timm layout, source format, info)``; ``info`` has the
        timm model name and its patch grid when the source is ``timm:<name>``.
    """
    if src.startswith('timm:'):
        import timm
        name = src[len('timm:'):]
        model = timm.create_model(name, pretrained=True, num_classes=0)
        state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        return state, 'timm', dict(timm_model=name, grid=list(model.patch_embed.grid_size))
    if not osp.isfile(src):
        raise FileNotFoundError(f'{src} does not exist. Pass a downloaded .npz / .safetensors / '
                                '.pth / .bin file, or timm:<model name> to download through timm.')
    ext = osp.splitext(src)[1].lower()
    if ext == '.npz':
        with np.load(src, allow_pickle=False) as arrays:
            return npz_to_timm({k: arrays[k] for k in arrays.files}), 'npz', {}
    if ext == '.safetensors':
        from safetensors.torch import load_file
        return _unwrap_state_dict(load_file(src)), 'timm', {}
    # A downloaded file must not be able to run code: the same safe loader
    # (weights_only + allow-list, foreign globals named) as every other path.
    from ..compat.safe_unpickling import load_checkpoint_safely
    return _unwrap_state_dict(load_checkpoint_safely(src, map_location='cpu')), 'timm', {}


# ---------------------------------------------------------------------------
# JAX .npz -> timm layout
# ---------------------------------------------------------------------------

def _npz_prefix(arrays: Mapping[str, np.ndarray]) -> str:
    for prefix in ('', 'opt/target/', 'params/', 'params/img/'):
        if f'{prefix}embedding/kernel' in arrays:
            return prefix
    raise KeyError('not a ViT .npz checkpoint: no embedding/kernel (tried the vit_jax and '
                   f'big_vision layouts); first keys: {sorted(arrays)[:8]}')


def npz_to_timm(arrays: Mapping[str, np.ndarray]) -> dict:
    """Rearranges a JAX ViT ``.npz`` (vit_jax / AugReg or big_vision) into timm keys.

    JAX stores dense kernels as (in, out), attention kernels as
    (D, heads, head_dim) for q/k/v and (heads, head_dim, D) for the output,
    and the patch convolution as (kh, kw, C_in, D); PyTorch wants (out, in)
    and (D, C_in, kh, kw).
    """
    p = _npz_prefix(arrays)
    big_vision = p.startswith('params/') or f'{p}pos_embedding' in arrays
    stacked = f'{p}Transformer/encoderblock/LayerNorm_0/scale' in arrays
    # vit_jax numbers the sub-modules of a block LayerNorm_0, MHDPA_1, LayerNorm_2,
    # MlpBlock_3; big_vision LayerNorm_0, MHDPA_0, LayerNorm_1, MlpBlock_0.
    mha, mlp, ln2 = (0, 0, 1) if big_vision else (1, 3, 2)

    def get(key: str, layer: Optional[int] = None) -> np.ndarray:
        value = np.asarray(arrays[key], dtype=np.float32)
        return value[layer] if layer is not None else value

    t = torch.from_numpy
    out = {
        # (kh, kw, C_in, D) -> (D, C_in, kh, kw)
        'patch_embed.proj.weight': t(get(f'{p}embedding/kernel').transpose(3, 2, 0, 1).copy()),
        'patch_embed.proj.bias': t(get(f'{p}embedding/bias')),
    }
    if f'{p}cls' in arrays:
        out['cls_token'] = t(get(f'{p}cls')).reshape(1, 1, -1)
    pos_key = (f'{p}pos_embedding' if big_vision else
               f'{p}Transformer/posembed_input/pos_embedding')
    pos = t(get(pos_key))
    out['pos_embed'] = pos.reshape(1, -1, pos.shape[-1])  # (1, [1 +] N, D)
    if f'{p}Transformer/encoder_norm/scale' in arrays:
        out['norm.weight'] = t(get(f'{p}Transformer/encoder_norm/scale'))
        out['norm.bias'] = t(get(f'{p}Transformer/encoder_norm/bias'))

    if stacked:  # big_vision "scan" layout: one entry per key, layers on axis 0
        num_layers = arrays[f'{p}Transformer/encoderblock/LayerNorm_0/scale'].shape[0]
    else:
        block = re.compile(rf'{re.escape(p)}Transformer/encoderblock_(\d+)/')
        num_layers = len({m.group(1) for key in arrays if (m := block.match(key))})
    for i in range(num_layers):
        blk, idx = ((f'{p}Transformer/encoderblock/', i) if stacked else
                    (f'{p}Transformer/encoderblock_{i}/', None))
        att = f'{blk}MultiHeadDotProductAttention_{mha}/'
        dst = f'blocks.{i}.'
        out[dst + 'norm1.weight'] = t(get(f'{blk}LayerNorm_0/scale', idx))
        out[dst + 'norm1.bias'] = t(get(f'{blk}LayerNorm_0/bias', idx))
        # q/k/v kernels become the rows of timm's fused (3D, D) qkv:
        # (D, heads, head_dim) -> (D, heads * head_dim) -> (heads * head_dim, D)
        qkv = [get(f'{att}{n}/kernel', idx) for n in ('query', 'key', 'value')]
        out[dst + 'attn.qkv.weight'] = torch.cat(
            [t(k.reshape(k.shape[0], -1).T.copy()) for k in qkv])
        out[dst + 'attn.qkv.bias'] = torch.cat(
            [t(get(f'{att}{n}/bias', idx).reshape(-1)) for n in ('query', 'key', 'value')])
        # out kernel (heads, head_dim, D) -> (D, heads * head_dim)
        kernel = get(f'{att}out/kernel', idx)
        out[dst + 'attn.proj.weight'] = t(kernel.reshape(-1, kernel.shape[-1]).T.copy())
        out[dst + 'attn.proj.bias'] = t(get(f'{att}out/bias', idx))
        out[dst + 'norm2.weight'] = t(get(f'{blk}LayerNorm_{ln2}/scale', idx))
        out[dst + 'norm2.bias'] = t(get(f'{blk}LayerNorm_{ln2}/bias', idx))
        for r in range(2):
            out[dst + f'mlp.fc{r + 1}.weight'] = t(
                get(f'{blk}MlpBlock_{mlp}/Dense_{r}/kernel', idx).T.copy())
            out[dst + f'mlp.fc{r + 1}.bias'] = t(get(f'{blk}MlpBlock_{mlp}/Dense_{r}/bias', idx))
    return out


# ---------------------------------------------------------------------------
# timm layout -> mmseg layout
# ---------------------------------------------------------------------------

_BLOCK_RENAMES = (
    ('norm1.', 'ln1.'),
    ('attn.qkv.weight', 'attn.attn.in_proj_weight'),
    ('attn.qkv.bias', 'attn.attn.in_proj_bias'),
    ('attn.proj.', 'attn.attn.out_proj.'),
    ('norm2.', 'ln2.'),
    ('mlp.fc1.', 'ffn.layers.0.0.'),
    ('mlp.fc2.', 'ffn.layers.1.'),
)


def timm_to_mmseg(state_dict: Mapping[str, Tensor]) -> dict:
    """Renames a timm ViT state dict to mmseg ``VisionTransformer`` keys.

    The classifier (``head``, ``pre_logits``) is dropped. Tensors are not
    changed (see :func:`convert_vit_checkpoint` for the position embedding).

    Raises:
        ValueError: a key has no counterpart in mmseg's ``VisionTransformer``
            (layer scale, register tokens, ...), naming the keys.
    """
    out, unknown = {}, []
    for key, value in state_dict.items():
        if key.startswith(_DROPPED_PREFIXES):
            continue
        if key.startswith('fc_norm.'):
            warnings.warn('the source has fc_norm (a norm after global pooling) and no '
                          'per-token final norm: set final_norm=False in the backbone')
            continue
        match = re.match(r'blocks\.(\d+)\.(.+)$', key)
        if match:
            rest = match.group(2)
            for old, new in _BLOCK_RENAMES:
                if rest.startswith(old):
                    out[f'layers.{match.group(1)}.{new}{rest[len(old):]}'] = value
                    break
            else:
                unknown.append(key)
        elif key.startswith('patch_embed.proj.'):
            out[key.replace('patch_embed.proj.', 'patch_embed.projection.')] = value
        elif key.startswith('norm.'):
            out['ln1.' + key[len('norm.'):]] = value
        elif key.startswith('norm_pre.'):
            out['ln_pre.' + key[len('norm_pre.'):]] = value
        elif key in ('cls_token', 'pos_embed'):
            out[key] = value
        else:
            unknown.append(key)
    if unknown:
        reasons = sorted({why for key in unknown
                          for pattern, why in _UNSUPPORTED.items() if pattern in key})
        reason = (f' ({", ".join(reasons)} not supported by mmseg\'s VisionTransformer)'
                  if reasons else '')
        raise ValueError(
            f'cannot map {len(unknown)} key(s) to mmseg\'s VisionTransformer: '
            f'{", ".join(sorted(unknown)[:6])}{" ..." if len(unknown) > 6 else ""}'
            + reason
            + '. Only plain ViTs (timm VisionTransformer without layer scale, register or '
            'distillation tokens) can be converted.')
    return out


def _source_grid(num_positions: int,
                 source_grid: Optional[Sequence[int]]) -> tuple[int, tuple[int, int]]:
    """(number of prefix positions, (h, w)) of a stored position embedding.

    Without ``source_grid`` the grid is taken to be square: ``1 + g*g``
    positions hold a CLS position, ``g*g`` positions do not (timm
    ``no_embed_class``). Anything else needs ``source_grid``.
    """
    if source_grid is not None:
        h, w = (int(v) for v in source_grid)
        prefix = num_positions - h * w
        if prefix not in (0, 1):
            raise ValueError(f'source_grid {h}x{w} does not fit a pos_embed of {num_positions} '
                             'positions (expected h*w or 1 + h*w)')
        return prefix, (h, w)
    side = math.isqrt(num_positions - 1)
    if side * side == num_positions - 1:
        return 1, (side, side)
    side = math.isqrt(num_positions)
    if side * side == num_positions:
        return 0, (side, side)
    raise ValueError(f'cannot infer the patch grid of a pos_embed with {num_positions} positions: '
                     'pass the source grid (--source-grid H W)')


def resize_pos_embed(pos_embed: Tensor, new_grid: Sequence[int],
                     old_grid: Optional[Sequence[int]] = None, mode: str = 'bicubic',
                     num_prefix_tokens: int = 1) -> Tensor:
    """Resizes a (1, prefix + h*w, D) position embedding to another patch grid.

    The prefix (CLS) positions are kept as they are; the grid part is
    interpolated with ``align_corners=False`` and no anti-aliasing, in float32,
    as mmseg's ``VisionTransformer.resize_pos_embed`` does at run time.

    Args:
        pos_embed: (1, num_prefix_tokens + h*w, D).
        new_grid: (new_h, new_w) patches.
        old_grid: (h, w) of the stored grid; inferred as a square if omitted.
        mode: ``F.interpolate`` mode.
        num_prefix_tokens: positions before the grid (1 for the CLS token).
    """
    prefix, grid = pos_embed[:, :num_prefix_tokens], pos_embed[:, num_prefix_tokens:]
    if old_grid is None:
        side = math.isqrt(grid.shape[1])
        if side * side != grid.shape[1]:
            raise ValueError(f'pos_embed has {grid.shape[1]} grid positions, not a square: '
                             'pass old_grid=(h, w)')
        old_grid = (side, side)
    old_h, old_w = old_grid
    new_h, new_w = new_grid
    if (old_h, old_w) == (new_h, new_w):
        return pos_embed
    dtype = pos_embed.dtype
    # (1, h*w, D) -> (1, D, h, w)
    grid = grid.float().reshape(1, old_h, old_w, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(new_h, new_w), mode=mode, align_corners=False)
    # (1, D, H', W') -> (1, H'*W', D)
    grid = grid.flatten(2).transpose(1, 2).to(dtype)
    return torch.cat([prefix, grid], dim=1)


def _to_pair(size: Union[int, Sequence[int], None]) -> Optional[tuple[int, int]]:
    if size is None:
        return None
    if isinstance(size, int):
        return (size, size)
    size = tuple(int(s) for s in size)
    return size * 2 if len(size) == 1 else size[:2]


def convert_vit_checkpoint(src: Union[str, Mapping], *,
                           img_size: Union[int, Sequence[int], None] = None,
                           interpolation: str = 'bicubic',
                           source_grid: Optional[Sequence[int]] = None,
                           source_name: Optional[str] = None) -> dict:
    """Converts a timm / AugReg ViT to an mmseg backbone checkpoint.

    Args:
        src: A path or ``timm:<name>`` (see :func:`load_vit_source`), or an
            already loaded timm-layout state dict.
        img_size: Resize the position embedding to this image size (int or
            (H, W)); ``None`` keeps the stored grid. mmseg resizes a square
            grid to the config's ``img_size`` when loading, so ``None`` works
            for any square crop.
        interpolation: Interpolation of the position-embedding grid.
        source_grid: (h, w) patch grid of the stored position embedding; only
            needed for non-square grids (square ones are inferred).
        source_name: Recorded in ``meta['source']`` (defaults to the path).

    Returns:
        ``{'state_dict': ..., 'meta': ...}`` ready for ``torch.save``; load it
        with ``model.pretrained`` / ``backbone.init_cfg=dict(type='Pretrained', ...)``.
        ``meta`` holds only plain Python values (``weights_only``-loadable).
    """
    info = {}
    if isinstance(src, Mapping):
        state, fmt = dict(src), 'timm'
    else:
        state, fmt, info = load_vit_source(src)
        source_name = source_name or src
    source_grid = source_grid or info.get('grid')
    state = timm_to_mmseg(state)
    if 'patch_embed.projection.weight' not in state or 'pos_embed' not in state:
        raise ValueError('the source has no patch embedding / position embedding: not a ViT')
    weight = state['patch_embed.projection.weight']  # (D, C_in, p, p)
    embed_dims, in_channels, patch_h, patch_w = weight.shape
    if patch_h != patch_w:
        raise ValueError(f'non-square patches {patch_h}x{patch_w} are not supported by mmseg')
    num_layers = len({k.split('.')[1] for k in state if k.startswith('layers.')})
    pos = state['pos_embed']  # (1, [1 +] h*w, D)
    prefix, src_grid = _source_grid(pos.shape[1], source_grid)
    if prefix == 0:
        # No CLS position stored (timm no_embed_class: CLS gets no position);
        # mmseg always adds one, so a zero CLS position is equivalent.
        pos = torch.cat([pos.new_zeros(1, 1, pos.shape[-1]), pos], dim=1)
    size = _to_pair(img_size)
    grid = src_grid if size is None else (size[0] // patch_h, size[1] // patch_w)
    state['pos_embed'] = resize_pos_embed(pos, grid, src_grid, interpolation)
    hidden = state['layers.0.ffn.layers.0.0.weight'].shape[0] if num_layers else 4 * embed_dims
    meta = dict(
        converter='depict.converters.vit',
        source=osp.basename(str(source_name)) if source_name else None,
        source_format=fmt,
        timm_model=info.get('timm_model'),
        img_size=[grid[0] * patch_h, grid[1] * patch_w],
        grid=list(grid),
        source_grid=list(src_grid),
        pos_embed_interpolation=interpolation,
        # The mmseg VisionTransformer arguments these weights need.
        backbone_cfg=dict(
            type='VisionTransformer',
            img_size=[grid[0] * patch_h, grid[1] * patch_w],
            patch_size=int(patch_h),
            in_channels=int(in_channels),
            embed_dims=int(embed_dims),
            num_layers=int(num_layers),
            # An int when exact: mmseg builds Linear(d, mlp_ratio * d), which needs an int.
            mlp_ratio=hidden // embed_dims if hidden % embed_dims == 0 else hidden / embed_dims,
            patch_bias='patch_embed.projection.bias' in state,
            qkv_bias='layers.0.attn.attn.in_proj_bias' in state,
            pre_norm='ln_pre.weight' in state,
            final_norm='ln1.weight' in state,
            with_cls_token=True,
            interpolate_mode=interpolation),
    )
    if 'cls_token' not in state:
        # mmseg always holds a CLS token; a model trained without one must not use it.
        state['cls_token'] = weight.new_zeros(1, 1, embed_dims)
        meta['backbone_cfg']['with_cls_token'] = False
        warnings.warn('the source has no CLS token: use with_cls_token=False in the backbone')
    return dict(state_dict=state, meta=meta)
