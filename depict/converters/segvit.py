"""Official SegViT checkpoints (zbwxp/SegVit, mmseg 0.24) -> depict (mmseg 1.x) checkpoints.

An official checkpoint is mmseg 0.x's ``{'state_dict', 'meta'}`` (and
``optimizer``): ``backbone.*`` is mmseg's ``VisionTransformer``, whose keys did
not change in mmseg 1.x, and ``decode_head.*`` the ``ATMHead``:

* ``input_proj_{s}`` / ``proj_norm_{s}`` (s = 1..stages, deepest feature first)
  -> our ``laterals.{s-1}.proj`` / ``.norm``;
* ``decoder_{s}.layers.{l}``: PyTorch ``TransformerDecoderLayer`` whose packed
  self-attention ``in_proj_weight`` (3C, C) / ``in_proj_bias`` is split into our
  ``self_attn.{q,k,v}_proj``; the attention-to-mask cross attention
  ``multihead_attn.{q,k,v,proj}`` -> ``cross_attn.{q,k,v,out}_proj``;
  ``linear1`` / ``linear2`` -> ``ffn.fc1`` / ``ffn.fc2``; ``norm1-3`` unchanged;
* ``q.weight`` (class queries) and ``class_embed`` -> ``decoder.queries`` /
  ``decoder.class_embed``;
* ``loss_decode.*`` (the criterion's ``empty_weight`` buffer) is dropped.

SegViT-Shrunk (``vit_shrink`` backbone + ``TPNATMHead``) -> our
``ShrunkVisionTransformer`` + ``ShrunkATMHead``: the backbone's query-based
downsampling adds no tensor (mmseg ViT keys again); the head's query upsampler
``decoder_{s}`` (PyTorch decoder layers: packed self- AND cross-attention, both
split into q / k / v) -> ``upsampler.stages.{s-1}``, its query grid ``q.weight``
(h·w, C) -> ``upsampler.grid`` (1, C, h, w), and the single ATM stage ``atm.*`` ->
``decoder.*``.

The tensors give every size but the head counts, the backbone layers the
decoder stages read (``out_indices``) and Shrunk's ``shrink_idx``; mmseg 0.x
keeps them in the config text of ``meta['config']``. For a checkpoint without it
(re-saved without meta), they are stated: from the official config file
(:func:`read_official_config`) or one by one (``stated=`` of
:func:`convert_segvit_checkpoint`; the tool's ``--config``, ``--num-heads``,
``--out-indices``, ``--decoder-heads``, ``--shrink-index``).

The official heads reshape the attention maps as square (``d3_to_d4``) and
resize the masks to ``img_size`` x ``img_size``: they only ever run on the
square slide windows, where our heads compute the same function.
"""
import re
from collections.abc import Mapping
from typing import Optional

from torch import Tensor

from .official import ConversionError, check_complete, dataset_meta

__all__ = ['STATED_FIELDS', 'convert_segvit_checkpoint', 'official_config_values',
           'read_official_config', 'segvit_architecture']

_LAYER_RULES = [
    (r'self_attn\.out_proj\.(weight|bias)', r'self_attn.out_proj.\1'),
    (r'multihead_attn\.q\.(weight|bias)', r'cross_attn.q_proj.\1'),
    (r'multihead_attn\.k\.(weight|bias)', r'cross_attn.k_proj.\1'),
    (r'multihead_attn\.v\.(weight|bias)', r'cross_attn.v_proj.\1'),
    (r'multihead_attn\.proj\.(weight|bias)', r'cross_attn.out_proj.\1'),
    (r'linear1\.(weight|bias)', r'ffn.fc1.\1'),
    (r'linear2\.(weight|bias)', r'ffn.fc2.\1'),
    (r'(norm[123])\.(weight|bias)', r'\1.\2'),
]
_LAYER_KEYS = [f'self_attn.{p}_proj.{t}' for p in 'qkv' for t in ('weight', 'bias')] + [
    f'{m}.{t}' for m in ('self_attn.out_proj', 'cross_attn.q_proj', 'cross_attn.k_proj',
                         'cross_attn.v_proj', 'cross_attn.out_proj', 'ffn.fc1', 'ffn.fc2', 'norm1',
                         'norm2', 'norm3') for t in ('weight', 'bias')]


def _count(keys, pattern: str) -> int:
    found = {int(m.group(1)) for k in keys if (m := re.match(pattern, k))}
    return max(found) + 1 if found else 0


#: What the tensors of an official checkpoint do not tell: mmseg 0.x keeps it in
#: the config text of ``meta['config']``; without it (a checkpoint re-saved
#: without meta), it is stated with :func:`read_official_config` or explicitly.
STATED_FIELDS = ('num_heads', 'out_indices', 'decoder_heads', 'shrink_index')
#: How a user states each field on the command line (for error messages).
_OPTIONS = dict(num_heads='--num-heads', out_indices='--out-indices',
                decoder_heads='--decoder-heads', shrink_index='--shrink-index')


def _config_int(config: str, section: str, name: str) -> Optional[int]:
    """``name=N`` inside ``section=dict(...)`` of an mmseg 0.x config dump (text)."""
    start = config.find(f'{section}=dict(')
    if start < 0:
        return None
    match = re.search(rf'\b{name}=(\d+)', config[start:])
    return int(match.group(1)) if match else None


def _config_indices(config: str) -> Optional[tuple[int, ...]]:
    start = config.find('backbone=dict(')
    match = re.search(r'\bout_indices=[\[(]([\d,\s]+)[\])]', config[max(start, 0):])
    return tuple(int(i) for i in match.group(1).split(',') if i.strip()) if match else None


def _meta_config_values(config: str) -> dict:
    """The :data:`STATED_FIELDS` found in the config text mmseg 0.x stores in the meta."""
    if not config:
        return {}
    values = dict(num_heads=_config_int(config, 'backbone', 'num_heads'),
                  out_indices=_config_indices(config),
                  decoder_heads=_config_int(config, 'decode_head', 'num_heads'),
                  shrink_index=_config_int(config, 'backbone', 'shrink_idx'))
    return {k: v for k, v in values.items() if v is not None}


def official_config_values(model: Mapping) -> dict:
    """The :data:`STATED_FIELDS` of an official config's ``model`` dict (mmseg 0.x
    names: ``backbone.num_heads`` / ``out_indices`` / ``shrink_idx``,
    ``decode_head.num_heads``); fields the config does not set are left out."""
    backbone, head = model.get('backbone') or {}, model.get('decode_head') or {}
    values = dict(num_heads=backbone.get('num_heads'), out_indices=backbone.get('out_indices'),
                  decoder_heads=head.get('num_heads'), shrink_index=backbone.get('shrink_idx'))
    if values['out_indices'] is not None:
        indices = values['out_indices']
        values['out_indices'] = tuple(int(i) for i in (
            indices if isinstance(indices, (list, tuple)) else [indices]))
    return {k: v for k, v in values.items() if v is not None}


def read_official_config(path: str) -> dict:
    """The :data:`STATED_FIELDS` of an official SegViT config file (zbwxp/SegVit
    ``configs/segvit/...py``), with its ``_base_`` files and variables resolved.

    Raises:
        ConversionError: the file cannot be read as an mmseg config, or has no ``model``.
    """
    from mmengine.config import Config
    try:
        cfg = Config.fromfile(path, import_custom_modules=False)
    except Exception as err:  # a missing _base_ file, a syntax error...
        raise ConversionError(
            f'cannot read the official config {path} ({type(err).__name__}: {err}); its '
            '_base_ files must be where it names them, as in a clone of zbwxp/SegVit') from None
    if not isinstance(cfg.get('model'), Mapping):
        raise ConversionError(f'{path} has no model dict: not an official SegViT config')
    return official_config_values(cfg.model)


def segvit_architecture(state_dict: dict[str, Tensor], meta: Optional[dict],
                        stated: Optional[Mapping] = None,
                        sources: Optional[dict] = None) -> dict:
    """Sizes from the tensors; what they do not tell (:data:`STATED_FIELDS`) from
    ``stated``, else the config text mmseg 0.x keeps in ``meta['config']``, else
    the official values (heads: width / 64 in the ViT, 32-dim heads in the
    decoder; ``out_indices`` and ``shrink_index`` of the official depths).

    Args:
        state_dict: The official ``state_dict``.
        meta: The official ``meta`` (may lack ``config``, or be None).
        stated: Values that take precedence over the meta, e.g. from
            :func:`read_official_config` or the command line.
        sources: If given, filled with where each stated field came from
            (``'stated'``, ``'meta config'`` or ``'official default'``).

    Raises:
        ConversionError: not an official SegViT checkpoint, or a stated / found
            value that does not fit the tensors (the message names the option).
    """
    keys = list(state_dict)
    if 'decode_head.q.weight' not in state_dict or 'decode_head.input_proj_1.weight' not in \
            state_dict:
        head = sorted(k for k in keys if k.startswith('decode_head.'))[:6]
        raise ConversionError(f'not an official SegViT ATMHead checkpoint (decode_head keys: '
                              f'{head})')
    stated = {k: v for k, v in (stated or {}).items() if v is not None}
    if unknown := sorted(set(stated) - set(STATED_FIELDS)):
        raise ValueError(f'unknown stated field(s) {unknown}; known: {STATED_FIELDS}')
    from_meta = _meta_config_values((meta or {}).get('config', '') or '')
    shrunk = 'decode_head.atm.q.weight' in state_dict
    width = state_dict['backbone.pos_embed'].shape[-1]
    depth = _count(keys, r'backbone\.layers\.(\d+)\.')
    # input_proj_ is 1-based: _count gives max index + 1.
    stages = _count(keys, r'decode_head\.input_proj_(\d+)\.') - 1
    queries = state_dict['decode_head.atm.q.weight' if shrunk else 'decode_head.q.weight']
    channels = queries.shape[1]
    defaults = dict(
        num_heads=max(width // 64, 1),
        out_indices=({24: (7, 23)} if shrunk else {24: (7, 15, 23), 12: (5, 7, 11)}).get(depth),
        # Both official configs use 32-dim heads (ViT-L: 512 / 16, ViT-B: 384 / 12).
        decoder_heads=max(channels // 32, 1),
        shrink_index=8 if shrunk and depth == 24 else None)
    resolved = {}
    for field in STATED_FIELDS:
        for origin, values in (('stated', stated), ('meta config', from_meta),
                               ('official default', defaults)):
            if values.get(field) is not None:
                resolved[field] = values[field]
                if sources is not None:
                    sources[field] = origin
                break
    if sources is not None and not shrunk:
        sources.pop('shrink_index', None)
    no_config = ('' if from_meta else '; the meta has no config (a checkpoint re-saved '
                 'without it?)')
    how = 'state it with {option} (or --config OFFICIAL_CONFIG.py)'
    out_indices = resolved.get('out_indices')
    if out_indices is None or len(out_indices) != stages:
        raise ConversionError(
            f'cannot tell which backbone layers the {stages} decoder stages read (out_indices '
            f'{out_indices}, backbone depth {depth}){no_config}: state them with '
            f'--out-indices and {stages} layer indices (or --config OFFICIAL_CONFIG.py)')
    out_indices = tuple(int(i) for i in out_indices)
    if any(not 0 <= i < depth for i in out_indices):
        raise ConversionError(f'out_indices {out_indices} outside the {depth} backbone layers; '
                              + how.format(option='--out-indices'))
    for field, size, what in (('num_heads', width, 'backbone width'),
                              ('decoder_heads', channels, 'decoder width')):
        if size % int(resolved[field]):
            raise ConversionError(f'{field} = {resolved[field]} does not divide the {what} '
                                  f'{size}; ' + how.format(option=_OPTIONS[field]))
    arch = dict(
        format='segvit-shrunk' if shrunk else 'segvit-atm',
        embed_dims=width, num_layers=depth, num_heads=int(resolved['num_heads']),
        patch_size=state_dict['backbone.patch_embed.projection.weight'].shape[-1],
        grid=state_dict['backbone.pos_embed'].shape[1],
        out_indices=out_indices,
        num_stages=stages,
        decoder_layers=_count(keys, r'decode_head\.decoder_1\.layers\.(\d+)\.'))
    arch.update(channels=channels, num_classes=queries.shape[0],
                decoder_heads=int(resolved['decoder_heads']))
    if shrunk:
        side = int(round(state_dict['decode_head.q.weight'].shape[0] ** 0.5))
        if side * side != state_dict['decode_head.q.weight'].shape[0]:
            raise ConversionError('the Shrunk query grid q.weight is not a square number of '
                                  'queries')
        shrink_index = resolved.get('shrink_index')
        if shrink_index is None or not 0 < int(shrink_index) < depth:
            raise ConversionError(
                f'cannot tell after which of the {depth} backbone layers Shrunk downsamples '
                f'(shrink_idx {shrink_index}){no_config}; '
                + how.format(option='--shrink-index'))
        arch.update(query_grid=(side, side), shrink_index=int(shrink_index))
    return arch


def _decoder_layer(rest: str, prefix: str, value: Tensor, out: dict) -> bool:
    """One official decoder-layer tensor into ``out``; False if ``rest`` is unknown."""
    if p := re.fullmatch(r'(self_attn|multihead_attn)\.in_proj_(weight|bias)', rest):
        # Packed (3C, ...) = [W_q; W_k; W_v] as in nn.MultiheadAttention.
        attn = 'self_attn' if p.group(1) == 'self_attn' else 'cross_attn'
        for name, chunk in zip('qkv', value.chunk(3, dim=0)):
            out[f'{prefix}{attn}.{name}_proj.{p.group(2)}'] = chunk.contiguous()
        return True
    if p := re.fullmatch(r'multihead_attn\.out_proj\.(weight|bias)', rest):
        out[f'{prefix}cross_attn.out_proj.{p.group(1)}'] = value
        return True
    for pattern, repl in _LAYER_RULES:
        if re.fullmatch(pattern, rest):
            out[prefix + re.sub(pattern, repl, rest)] = value
            return True
    return False


def convert_segvit_checkpoint(ckpt: dict, source: str = '',
                              stated: Optional[Mapping] = None) -> dict:
    """Converts a loaded official SegViT (ATM) checkpoint to ``{'state_dict', 'meta'}``.

    Args:
        ckpt: The loaded official checkpoint.
        source: Where it came from (written into the meta).
        stated: What the tensors do not tell (:data:`STATED_FIELDS`), taking
            precedence over the checkpoint's ``meta['config']``; see
            :func:`segvit_architecture`.

    Raises:
        ConversionError: not the official format, or an unknown / missing
            tensor (all listed).
    """
    if not isinstance(ckpt, dict) or 'state_dict' not in ckpt:
        raise ConversionError('not an mmseg 0.x checkpoint: expected a dict with "state_dict" '
                              '(Segmenter / DEPICT checkpoints go through segmenter2mmseg.py)')
    state_dict, meta = ckpt['state_dict'], ckpt.get('meta') or {}
    sources = {}
    arch = segvit_architecture(state_dict, meta, stated, sources)
    shrunk = arch['format'] == 'segvit-shrunk'
    # Shrunk: decoder_{s} is the query upsampler and atm.* the ATM stage.
    stage_root = 'decode_head.upsampler' if shrunk else 'decode_head.decoder'
    atm = 'decode_head.atm.' if shrunk else 'decode_head.'
    out, unknown = {}, []
    for key, value in state_dict.items():
        if key.startswith('backbone.'):
            out[key] = value  # mmseg 0.x ViT keys == mmseg 1.x ViT keys
        elif '.loss_decode.' in key:
            continue  # loss buffers (the criterion's empty_weight)
        elif key == atm + 'q.weight':
            out['decode_head.decoder.queries.weight'] = value
        elif m := re.fullmatch(re.escape(atm) + r'class_embed\.(weight|bias)', key):
            out[f'decode_head.decoder.class_embed.{m.group(1)}'] = value
        elif shrunk and key == 'decode_head.q.weight':
            # (h*w, C), row-major over the grid -> (1, C, h, w).
            h, w = arch['query_grid']
            out['decode_head.upsampler.grid'] = value.t().reshape(1, -1, h, w).contiguous()
        elif m := re.fullmatch(r'decode_head\.(input_proj|proj_norm)_(\d+)\.(weight|bias)', key):
            part = 'proj' if m.group(1) == 'input_proj' else 'norm'
            out[f'decode_head.laterals.{int(m.group(2)) - 1}.{part}.{m.group(3)}'] = value
        elif m := re.fullmatch(r'decode_head\.decoder_(\d+)\.layers\.(\d+)\.(.+)', key):
            prefix = f'{stage_root}.stages.{int(m.group(1)) - 1}.{m.group(2)}.'
            if not _decoder_layer(m.group(3), prefix, value, out):
                unknown.append(key)
        elif shrunk and (m := re.fullmatch(r'decode_head\.atm\.decoder_1\.layers\.(\d+)\.(.+)',
                                           key)):
            if not _decoder_layer(m.group(2), f'decode_head.decoder.stages.0.{m.group(1)}.',
                                  value, out):
                unknown.append(key)
        else:
            unknown.append(key)
    if unknown:
        raise ConversionError(f'{len(unknown)} key(s) of the official checkpoint have no '
                              f'counterpart here: {", ".join(sorted(unknown))}; nothing was '
                              'written.')
    expected = ['decode_head.decoder.queries.weight', 'decode_head.decoder.class_embed.weight',
                'decode_head.decoder.class_embed.bias']
    for s in range(arch['num_stages']):
        expected += [f'decode_head.laterals.{s}.{p}.{t}' for p in ('proj', 'norm')
                     for t in ('weight', 'bias')]
        expected += [f'{stage_root}.stages.{s}.{j}.{k}'
                     for j in range(arch['decoder_layers']) for k in _LAYER_KEYS]
    if shrunk:
        expected.append('decode_head.upsampler.grid')
        atm_layers = _count(state_dict, r'decode_head\.atm\.decoder_1\.layers\.(\d+)\.')
        expected += [f'decode_head.decoder.stages.0.{j}.{k}' for j in range(atm_layers)
                     for k in _LAYER_KEYS]
    check_complete(out, expected, 'SegViT')
    classes = meta.get('CLASSES')
    if classes is not None and len(classes) == arch['num_classes']:
        palette = meta.get('PALETTE') or dataset_meta(None, arch['num_classes'])['palette']
        info = dict(classes=tuple(classes), palette=[list(map(int, c)) for c in palette])
    else:
        info = dataset_meta(None, arch['num_classes'])
    return dict(state_dict=out, meta=dict(
        dataset_meta=dict(classes=info['classes'], palette=info['palette']),
        classes=info['classes'], palette=info['palette'],
        converter='tools/model_converters/segvit2mmseg.py', source=source,
        source_format=arch['format'], architecture=arch, architecture_sources=sources))


def model_overrides(arch: dict) -> dict:
    """Model fields (mmseg config) for this architecture, as nested dicts."""
    side = int(round((arch['grid'] - 1) ** 0.5)) * arch['patch_size']
    backbone = dict(img_size=(side, side), patch_size=arch['patch_size'],
                    embed_dims=arch['embed_dims'], num_layers=arch['num_layers'],
                    num_heads=arch['num_heads'], out_indices=tuple(arch['out_indices']),
                    final_norm=False, with_cls_token=False, patch_bias=True)
    head = dict(type='ATMHead', in_channels=arch['embed_dims'], channels=arch['channels'],
                num_classes=arch['num_classes'], in_index=tuple(range(arch['num_stages'])),
                num_layers=arch['decoder_layers'], num_heads=arch['decoder_heads'])
    if arch['format'] == 'segvit-shrunk':
        backbone.update(type='ShrunkVisionTransformer', shrink_index=arch['shrink_index'])
        head.update(type='ShrunkATMHead', query_grid=tuple(arch['query_grid']))
    return dict(backbone=backbone, decode_head=head)
