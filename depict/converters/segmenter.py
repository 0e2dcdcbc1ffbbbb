"""Official Segmenter / DEPICT checkpoints -> depict (mmseg 1.x) checkpoints.

The official ``checkpoint.pth`` (rstrudel/segmenter, and DEPICT, a patch of it:
QishuaiWen/DEPICT) is a dict whose ``model`` entry is the state dict of
``segm.model.segmenter.Segmenter``: ``encoder.*`` (their ViT) and ``decoder.*``,
one of

* Segmenter's mask transformer (``decoder.proj_dec``, ``decoder.blocks.*``,
  ``decoder.proj_patch``) -> mmseg's ``SegmenterMaskTransformerHead``;
* DEPICT-SA (``decoder.net.layers.*``: MSSA on [Z; E]) -> ``DepictSAHead``;
* DEPICT-CA (``decoder.snet.*`` MSSA on Z, ``decoder.cnet.*`` MSCA on E) ->
  ``DepictCAHead``.

The encoder becomes mmseg's ``VisionTransformer`` (packed qkv = mmseg's
``in_proj``). The official encoder and decoders use PyTorch's LayerNorm
epsilon 1e-5, resize the position grid bilinearly and pad the input to a multiple of
the patch size (logits upsampled to the padded size, then cropped): a converted
model reproduces the official outputs only with ``norm_cfg.eps=1e-5``,
``interpolate_mode='bilinear'`` and ``test_cfg.pad_to_patch`` (see
:func:`required_options`, which the converter prints).
"""
import glob
import os.path as osp
import re
from typing import Optional

from torch import Tensor

from .official import (DATASETS, ConversionError, KeyMapper, check_complete,
                               dataset_meta)

__all__ = ['convert_segmenter_checkpoint', 'detect_format', 'architecture', 'read_variant',
           'apply_stated_heads',
           'check_variant', 'test_settings', 'suggest_config', 'required_options']

#: The official ViT blocks (``segm/model/blocks.py``) -> mmseg's TransformerEncoderLayer.
_BLOCK_RULES = [
    (r'norm1\.(weight|bias)', r'ln1.\1'),
    (r'norm2\.(weight|bias)', r'ln2.\1'),
    (r'attn\.qkv\.weight', 'attn.attn.in_proj_weight'),
    (r'attn\.qkv\.bias', 'attn.attn.in_proj_bias'),
    (r'attn\.proj\.(weight|bias)', r'attn.attn.out_proj.\1'),
    (r'mlp\.fc1\.(weight|bias)', r'ffn.layers.0.0.\1'),
    (r'mlp\.fc2\.(weight|bias)', r'ffn.layers.1.\1'),
]

_ENCODER_RULES = [
    (r'encoder\.cls_token', 'backbone.cls_token'),
    (r'encoder\.pos_embed', 'backbone.pos_embed'),
    (r'encoder\.patch_embed\.proj\.(weight|bias)', r'backbone.patch_embed.projection.\1'),
    *[(r'encoder\.blocks\.(\d+)\.' + src, r'backbone.layers.\1.' + dst.replace('\\1', '\\2'))
      for src, dst in _BLOCK_RULES],
    (r'encoder\.norm\.(weight|bias)', r'backbone.ln1.\1'),
    # The encoder's ImageNet classifier is not part of the segmentation model.
    (r'encoder\.head\.(weight|bias)', None),
]

_DECODER_RULES = {
    'segmenter': [
        (r'decoder\.cls_emb', 'decode_head.cls_emb'),
        (r'decoder\.proj_dec\.(weight|bias)', r'decode_head.dec_proj.\1'),
        (r'decoder\.proj_patch', 'decode_head.patch_proj.weight'),
        (r'decoder\.proj_classes', 'decode_head.classes_proj.weight'),
        *[(r'decoder\.blocks\.(\d+)\.' + src, r'decode_head.layers.\1.' + dst.replace('\\1', '\\2'))
          for src, dst in _BLOCK_RULES],
        (r'decoder\.(decoder_norm|mask_norm)\.(weight|bias)', r'decode_head.\1.\2'),
    ],
    'depict-sa': [
        (r'decoder\.cls_emb', 'decode_head.cls_emb'),
        (r'decoder\.net\.layers\.(\d+)\.norm\.(weight|bias)', r'decode_head.layers.\1.norm.\2'),
        (r'decoder\.net\.layers\.(\d+)\.fn\.proj', r'decode_head.layers.\1.attn.proj'),
        (r'decoder\.net\.layers\.(\d+)\.fn\.step_size', r'decode_head.layers.\1.attn.eta'),
        (r'decoder\.(decoder_norm|mask_norm)\.(weight|bias)', r'decode_head.\1.\2'),
    ],
    'depict-ca': [
        (r'decoder\.cls_emb', 'decode_head.cls_emb'),
        (r'decoder\.snet\.layers\.(\d+)\.norm\.(weight|bias)', r'decode_head.layers.\1.norm.\2'),
        (r'decoder\.snet\.layers\.(\d+)\.fn\.proj', r'decode_head.layers.\1.attn.proj'),
        (r'decoder\.snet\.layers\.(\d+)\.fn\.step_size', r'decode_head.layers.\1.attn.eta'),
        (r'decoder\.cnet\.layers\.(\d+)\.norm\.(weight|bias)',
         r'decode_head.cross_layers.\1.norm.\2'),
        (r'decoder\.cnet\.layers\.(\d+)\.fn\.proj', r'decode_head.cross_layers.\1.attn.proj'),
        (r'decoder\.cnet\.layers\.(\d+)\.fn\.step_size', r'decode_head.cross_layers.\1.attn.eta'),
        (r'decoder\.snorm\.(weight|bias)', r'decode_head.patch_norm.\1'),
        (r'decoder\.cnorm\.(weight|bias)', r'decode_head.class_norm.\1'),
        (r'decoder\.mask_norm\.(weight|bias)', r'decode_head.mask_norm.\1'),
    ],
}

#: The official code hard-codes the subspace dimension p of DEPICT's operators
#: (``model/decoder.py``: 100 for MSSA, 50 for MSCA), so K = rows of U / p.
DEPICT_HEAD_DIMS, DEPICT_CROSS_HEAD_DIMS = 100, 50

#: Decoder key -> format, checked in this order.
_SIGNATURES = [
    ('decoder.proj_dec.weight', 'segmenter'),
    ('decoder.net.layers.0.fn.proj', 'depict-sa'),
    ('decoder.snet.layers.0.fn.proj', 'depict-ca'),
]


def _state_dict(ckpt: dict) -> dict[str, Tensor]:
    if not isinstance(ckpt, dict) or 'model' not in ckpt:
        found = sorted(ckpt)[:8] if isinstance(ckpt, dict) else type(ckpt).__name__
        raise ConversionError(
            f'not an official Segmenter / DEPICT checkpoint: expected a dict with a "model" '
            f'entry (the Segmenter state dict), found {found}. SegViT checkpoints '
            '(state_dict + meta) go through tools/model_converters/segvit2mmseg.py.')
    return ckpt['model']


def detect_format(state_dict: dict[str, Tensor]) -> str:
    """'segmenter', 'depict-sa' or 'depict-ca', from the decoder's keys."""
    if 'encoder.dist_token' in state_dict:
        raise ConversionError(
            'the encoder is a distilled DeiT (encoder.dist_token): mmseg\'s VisionTransformer '
            'has no distillation token, so the DeiT Segmenter models (Seg-B\u2020) are not '
            'supported; use the ViT ones.')
    for key, fmt in _SIGNATURES:
        if key in state_dict:
            return fmt
    if 'decoder.head.weight' in state_dict:
        raise ConversionError('the decoder is Segmenter\'s linear decoder (decoder.head): '
                              'no config here uses it; only the mask transformer converts.')
    decoder_keys = sorted(k for k in state_dict if k.startswith('decoder.'))[:6]
    raise ConversionError(
        'cannot tell the decoder: none of ' + ', '.join(k for k, _ in _SIGNATURES)
        + f' is present (decoder keys: {decoder_keys}).')


def _count(state_dict: dict, pattern: str) -> int:
    indices = {int(m.group(1)) for k in state_dict if (m := re.match(pattern, k))}
    return max(indices) + 1 if indices else 0


def architecture(state_dict: dict[str, Tensor]) -> dict:
    """Sizes read from the tensors (heads: the official rules, see notes)."""
    fmt = detect_format(state_dict)
    width = state_dict['encoder.cls_token'].shape[-1]
    patch = state_dict['encoder.patch_embed.proj.weight'].shape[-1]
    grid = state_dict['encoder.pos_embed'].shape[1] - 1
    side = int(round(grid ** 0.5))
    if side * side != grid:
        raise ConversionError(f'the position embedding has {grid} patch positions, not a '
                              'square grid: the official ViT trains on square crops')
    arch = dict(format=fmt, embed_dims=width,
                num_layers=_count(state_dict, r'encoder\.blocks\.(\d+)\.'),
                # Not stored in the tensors: the official ViT-T/S/B/L use width / 64 heads.
                num_heads=max(width // 64, 1), patch_size=patch, img_size=side * patch,
                num_classes=state_dict['decoder.cls_emb'].shape[1])
    if fmt == 'segmenter':
        arch.update(decoder_layers=_count(state_dict, r'decoder\.blocks\.(\d+)\.'),
                    # segm/model/factory.py: n_heads = d_model // 64.
                    decoder_heads=max(width // 64, 1))
    elif fmt == 'depict-sa':
        inner = state_dict['decoder.net.layers.0.fn.proj'].shape[0]
        arch.update(decoder_layers=_count(state_dict, r'decoder\.net\.layers\.(\d+)\.'),
                    decoder_heads=inner // DEPICT_HEAD_DIMS, head_dims=DEPICT_HEAD_DIMS)
    else:
        inner = state_dict['decoder.snet.layers.0.fn.proj'].shape[0]
        cross_inner = state_dict['decoder.cnet.layers.0.fn.proj'].shape[0]
        arch.update(decoder_layers=_count(state_dict, r'decoder\.snet\.layers\.(\d+)\.'),
                    decoder_heads=inner // DEPICT_HEAD_DIMS, head_dims=DEPICT_HEAD_DIMS,
                    cross_layers=_count(state_dict, r'decoder\.cnet\.layers\.(\d+)\.'),
                    cross_heads=cross_inner // DEPICT_CROSS_HEAD_DIMS,
                    cross_head_dims=DEPICT_CROSS_HEAD_DIMS)
    return arch


def read_variant(path: str) -> dict:
    """Reads the authors' ``variant.yml`` (written by ``yaml.dump``: tuples tagged)."""
    import yaml

    class _Loader(yaml.SafeLoader):
        """SafeLoader plus the one python tag yaml.dump writes here: tuples."""

    _Loader.add_constructor('tag:yaml.org,2002:python/tuple',
                            lambda loader, node: tuple(loader.construct_sequence(node)))
    with open(path) as f:
        variant = yaml.load(f, Loader=_Loader)
    if not isinstance(variant, dict) or 'net_kwargs' not in variant:
        raise ConversionError(f'{path} is not an official variant.yml (no net_kwargs)')
    return variant


def _side(value) -> int:
    if isinstance(value, (list, tuple)):
        if len(set(value)) != 1:
            raise ConversionError(f'non-square image_size {value} in the variant')
        return int(value[0])
    return int(value)


def check_variant(arch: dict, variant: dict) -> None:
    """Compares the tensors' architecture with ``variant.yml``; a mismatch names the field."""
    net = variant['net_kwargs']
    decoder = net.get('decoder', {})
    fields = [
        ('net_kwargs.d_model', net.get('d_model'), arch['embed_dims'], 'width'),
        ('net_kwargs.n_layers', net.get('n_layers'), arch['num_layers'], 'depth'),
        ('net_kwargs.patch_size', net.get('patch_size'), arch['patch_size'], 'patch size'),
        ('net_kwargs.image_size', _side(net['image_size']) if 'image_size' in net else None,
         arch['img_size'], 'image size (position grid x patch)'),
        ('net_kwargs.n_cls', net.get('n_cls'), arch['num_classes'], 'number of classes'),
        ('net_kwargs.decoder.n_layers', decoder.get('n_layers'), arch['decoder_layers'],
         'decoder layers'),
    ]
    if arch['format'] != 'segmenter':  # DEPICT's config.yml sets K explicitly
        fields.append(('net_kwargs.decoder.n_heads', decoder.get('n_heads'),
                       arch['decoder_heads'], 'decoder heads K (rows of U / p)'))
    for name, stated, found, what in fields:
        if stated is not None and int(stated) != int(found):
            raise ConversionError(
                f'variant.yml {name} = {stated} but the checkpoint\'s {what} is {found}: '
                'the variant does not describe this checkpoint')
    if net.get('distilled'):
        raise ConversionError('variant.yml net_kwargs.distilled = true: DeiT backbones with a '
                              'distillation token are not supported')
    # Heads cannot be read from the tensors: take the variant's.
    if net.get('n_heads'):
        if arch['embed_dims'] % int(net['n_heads']):
            raise ConversionError(f'variant.yml net_kwargs.n_heads = {net["n_heads"]} does not '
                                  f'divide the width {arch["embed_dims"]}')
        arch['num_heads'] = int(net['n_heads'])
    if decoder.get('n_heads') and arch['format'] == 'segmenter':
        arch['decoder_heads'] = int(decoder['n_heads'])


#: Official per-dataset test sizes (segm/config.yml, ``dataset.<name>.im_size``).
OFFICIAL_IM_SIZE = {'ade20k': 512, 'pascal_context': 520, 'cityscapes': 1024}


def test_settings(arch: dict, variant: Optional[dict]) -> dict:
    """The official evaluation's sizes (``segm/eval/miou.py``).

    miou.py resizes the image to the dataset's ``im_size`` (short side), takes
    ``window_size = crop_size`` of the variant (the training crop) and
    ``window_stride = crop_size - 32``; ``inference`` then upsamples a view
    whose short side is below the window to the window size.
    """
    crop = arch['img_size']
    dataset = None
    if variant is not None:
        kwargs = variant.get('dataset_kwargs', {})
        crop = int(kwargs.get('crop_size', crop))
        dataset = kwargs.get('dataset')
    if dataset is None:  # no variant: the official dataset with this many classes
        dataset = next((name for name in OFFICIAL_IM_SIZE
                        if DATASETS[name][1] == arch['num_classes']), None)
    im_size = OFFICIAL_IM_SIZE.get(dataset, crop)
    return dict(dataset=dataset, test_short_side=max(im_size, crop), resize_short_side=im_size,
                window_size=crop, window_stride=crop - 32)


_SIZE_NAMES = {192: 't', 384: 's', 768: 'b', 1024: 'l'}
_CONFIG_DIRS = {'segmenter': ('segmenter', 'segmenter-mask'), 'depict-sa': ('depict', 'depict-sa'),
                'depict-ca': ('depict', 'depict-ca')}
_CONFIG_DATASETS = {'ade20k': 'ade20k', 'pascal_context': 'pascal-context',
                    'cityscapes': 'cityscapes'}


def suggest_config(arch: dict, dataset: Optional[str], root: str = '.') -> Optional[str]:
    """The config here that matches the checkpoint (None when there is none)."""
    size = _SIZE_NAMES.get(arch['embed_dims'])
    if size is None or dataset not in _CONFIG_DATASETS:
        return None
    folder, prefix = _CONFIG_DIRS[arch['format']]
    res = arch['img_size']
    pattern = osp.join(root, 'configs', '**',
                       f'{prefix}_vit-{size}{arch["patch_size"]}_*_{_CONFIG_DATASETS[dataset]}-'
                       f'{res}x{res}.py')
    found = sorted(glob.glob(pattern, recursive=True))
    return osp.relpath(found[0], root) if found else None


def required_options(arch: dict) -> list[str]:
    """``--cfg-options`` that make a config compute the official function."""
    return ['model.backbone.norm_cfg.eps=1e-05', "model.backbone.interpolate_mode=bilinear",
            f'model.test_cfg.pad_to_patch={arch["patch_size"]}']


def model_overrides(arch: dict) -> dict:
    """The model fields (mmseg config) of this architecture, as nested dicts."""
    backbone = dict(img_size=(arch['img_size'], arch['img_size']), patch_size=arch['patch_size'],
                    embed_dims=arch['embed_dims'], num_layers=arch['num_layers'],
                    num_heads=arch['num_heads'], mlp_ratio=4, patch_bias=True, final_norm=True,
                    with_cls_token=True, out_indices=-1,
                    norm_cfg=dict(type='LN', eps=1e-5, requires_grad=True),
                    interpolate_mode='bilinear')
    head = dict(in_channels=arch['embed_dims'], num_classes=arch['num_classes'],
                num_layers=arch['decoder_layers'], num_heads=arch['decoder_heads'])
    if arch['format'] == 'segmenter':
        head.update(type='SegmenterMaskTransformerHead', channels=arch['embed_dims'],
                    embed_dims=arch['embed_dims'])
    else:
        head.update(head_dims=arch['head_dims'], norm_eps=1e-5)
        if arch['format'] == 'depict-sa':
            head.update(type='DepictSAHead')
        else:
            head.update(type='DepictCAHead', num_cross_layers=arch['cross_layers'],
                        cross_num_heads=arch['cross_heads'],
                        cross_head_dims=arch['cross_head_dims'])
    return dict(backbone=backbone, decode_head=head)


def apply_stated_heads(arch: dict, num_heads: Optional[int] = None,
                       decoder_heads: Optional[int] = None) -> None:
    """Head counts stated by the user (what ``variant.yml`` says otherwise):
    they are not in the tensors. DEPICT's decoder heads are (they are the rows
    of its projections), so ``decoder_heads`` applies to Segmenter only."""
    if num_heads is not None:
        if num_heads < 1 or arch['embed_dims'] % num_heads:
            raise ConversionError(f'--num-heads {num_heads} does not divide the encoder width '
                                  f'{arch["embed_dims"]}')
        arch['num_heads'] = int(num_heads)
    if decoder_heads is not None:
        if arch['format'] != 'segmenter':
            if decoder_heads != arch['decoder_heads']:
                raise ConversionError(
                    f'--decoder-heads {decoder_heads}, but this {arch["format"]} checkpoint\'s '
                    f'projections have {arch["decoder_heads"]} heads (DEPICT\'s heads are in '
                    'the tensors)')
            return
        if decoder_heads < 1 or arch['embed_dims'] % decoder_heads:
            raise ConversionError(f'--decoder-heads {decoder_heads} does not divide the decoder '
                                  f'width {arch["embed_dims"]}')
        arch['decoder_heads'] = int(decoder_heads)


def convert_segmenter_checkpoint(ckpt: dict, variant: Optional[dict] = None,
                                 source: str = '', num_heads: Optional[int] = None,
                                 decoder_heads: Optional[int] = None) -> dict:
    """Converts a loaded official checkpoint; returns ``{'state_dict', 'meta'}``.

    Args:
        ckpt: The loaded official ``checkpoint.pth``.
        variant: Its ``variant.yml`` (:func:`read_variant`), if available:
            checked against the tensors, and the source of the head counts.
        source: Where it came from (written into the meta).
        num_heads, decoder_heads: Head counts of the encoder and of Segmenter's
            mask transformer, stated explicitly (they are not in the tensors);
            they take precedence over ``variant``. Without either, the
            official rule width / 64 applies.

    Raises:
        ConversionError: not the official format, an unknown or missing tensor
            (all listed), or a ``variant`` or stated head count that contradicts
            the tensors (the field named).
    """
    state_dict = _state_dict(ckpt)
    arch = architecture(state_dict)
    if variant is not None:
        check_variant(arch, variant)
    apply_stated_heads(arch, num_heads, decoder_heads)
    fmt = arch['format']
    mapper = KeyMapper(_ENCODER_RULES + _DECODER_RULES[fmt])

    def transform(src: str, dst: str, value: Tensor) -> Tensor:
        # proj_patch / proj_classes multiply from the right (x @ P); nn.Linear
        # computes x @ W^T, so W = P^T.
        if src in ('decoder.proj_patch', 'decoder.proj_classes'):
            return value.t().contiguous()
        return value

    converted = mapper(state_dict, transform)
    expected = _expected_keys(arch)
    check_complete(converted, expected, fmt)
    extra = sorted(set(converted) - set(expected))
    if extra:
        raise ConversionError(f'unexpected tensors after conversion: {", ".join(extra)}')
    settings = test_settings(arch, variant)
    meta = dataset_meta(settings['dataset'], arch['num_classes'])
    return dict(
        state_dict=converted,
        meta=dict(
            dataset_meta=dict(classes=meta['classes'], palette=meta['palette']),
            classes=meta['classes'], palette=meta['palette'],
            converter='tools/model_converters/segmenter2mmseg.py',
            source=source, source_format=fmt, architecture=arch, official_test=settings))


def _expected_keys(arch: dict) -> list[str]:
    """Every key the matching depict model has (for the missing-key check)."""
    keys = ['backbone.cls_token', 'backbone.pos_embed', 'backbone.patch_embed.projection.weight',
            'backbone.patch_embed.projection.bias', 'backbone.ln1.weight', 'backbone.ln1.bias']
    block = ['ln1.weight', 'ln1.bias', 'attn.attn.in_proj_weight', 'attn.attn.in_proj_bias',
             'attn.attn.out_proj.weight', 'attn.attn.out_proj.bias', 'ln2.weight', 'ln2.bias',
             'ffn.layers.0.0.weight', 'ffn.layers.0.0.bias', 'ffn.layers.1.weight',
             'ffn.layers.1.bias']
    keys += [f'backbone.layers.{i}.{k}' for i in range(arch['num_layers']) for k in block]
    head = ['decode_head.cls_emb', 'decode_head.mask_norm.weight', 'decode_head.mask_norm.bias']
    layer = ['norm.weight', 'norm.bias', 'attn.proj', 'attn.eta']
    if arch['format'] == 'segmenter':
        head += ['decode_head.dec_proj.weight', 'decode_head.dec_proj.bias',
                 'decode_head.patch_proj.weight', 'decode_head.classes_proj.weight',
                 'decode_head.decoder_norm.weight', 'decode_head.decoder_norm.bias']
        head += [f'decode_head.layers.{i}.{k}' for i in range(arch['decoder_layers'])
                 for k in block]
    else:
        head += [f'decode_head.layers.{i}.{k}' for i in range(arch['decoder_layers'])
                 for k in layer]
        if arch['format'] == 'depict-sa':
            head += ['decode_head.decoder_norm.weight', 'decode_head.decoder_norm.bias']
        else:
            head += [f'decode_head.cross_layers.{i}.{k}' for i in range(arch['cross_layers'])
                     for k in layer]
            head += ['decode_head.patch_norm.weight', 'decode_head.patch_norm.bias',
                     'decode_head.class_norm.weight', 'decode_head.class_norm.bias']
    return keys + head
