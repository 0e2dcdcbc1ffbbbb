"""Tiny segmentors for the export tests: every decode head of the project on
every backbone it is exported with (random weights, 64x64 toy sizes).

``build(decoder, backbone)`` starts from the decoder's toy config and swaps
its backbone for a tiny one of the given kind (the toy configs themselves are
the ``'toy'`` backbone: the Fused ViT, Shrunk's ViT for the Shrunk head and the
two-pathway ViT for representation separation).
"""
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmseg.registry import MODELS

from conftest import wire_pyramid_head

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOY = {
    'segmenter': 'configs/segmenter/segmenter-mask_vit-toy_1xb8-2k_toy-64x64.py',
    'depict-sa': 'configs/depict/depict-sa_vit-toy_1xb8-2k_toy-64x64.py',
    'depict-ca': 'configs/depict/depict-ca_vit-toy_1xb8-2k_toy-64x64.py',
    'atm': 'configs/segvit/segvit_vit-toy_1xb8-2k_toy-64x64.py',
    'shrunk': 'configs/segvit/segvit-shrunk_vit-toy_1xb8-2k_toy-64x64.py',
    'repsep': 'configs/repsep/repsep_vit-toy_1xb8-2k_toy-64x64.py',
    # EoMT: queries inside the ViT's last blocks, a segmentor of its own; its
    # toy config (EoMTVisionTransformer) is its only backbone here.
    'eomt': 'configs/eomt/eomt_vit-toy_1xb8-2k_toy-64x64.py',
}
#: Decoders built into their backbone: exported on their own toy backbone only.
OWN_BACKBONE = {'eomt'}
#: Plain ViTs at the toy width / depth; patch size in the last entry.
TIMM = {
    'dinov2': ('vit_small_patch14_reg4_dinov2', 7),
    'eva02': ('eva02_tiny_patch14_224', 7),
    'dinov3': ('vit_small_patch16_dinov3', 8),
}
BACKBONES = ('toy', 'mmseg-vit', 'dinov2', 'eva02', 'dinov3', 'beit', 'swin')
SWIN_WIDTHS = [16, 32, 64, 128]


def toy_config(decoder: str) -> Config:
    return Config.fromfile(osp.join(REPO, TOY[decoder]))


def _plain_vit_backbone(kind: str, out_indices, final_norm: bool, cfg: Config) -> dict:
    if kind == 'mmseg-vit':
        # mmseg's ViT as it computes (depict's subclass with mmcv's attention;
        # mmseg's own class keeps a size branch on its position embedding).
        return dict(cfg.model.backbone, fused_attn=False, final_norm=final_norm,
                    out_indices=out_indices)
    if kind in TIMM:
        name, patch = TIMM[kind]
        return dict(type='TimmViT', model_name=name, img_size=(64, 64),
                    out_indices=out_indices, final_norm=final_norm,
                    model_kwargs=dict(embed_dim=64, depth=4, num_heads=2, patch_size=patch))
    if kind == 'beit':
        return dict(type='BEiT', img_size=(64, 64), patch_size=8, embed_dims=64, num_layers=4,
                    num_heads=2, mlp_ratio=4, qv_bias=True, init_values=0.1,
                    norm_cfg=dict(type='LN', eps=1e-6), out_indices=out_indices,
                    final_norm=final_norm)
    raise KeyError(kind)


def build(decoder: str, backbone: str = 'toy'):
    """The tiny segmentor (eval mode, initialised from ``torch.manual_seed(0)``)."""
    torch.manual_seed(0)
    cfg = toy_config(decoder)
    head = cfg.model.decode_head
    if backbone == 'two-pathway-swin':
        # Representation separation's pyramid: the two-pathway Swin.
        if decoder != 'repsep':
            raise ValueError('two-pathway-swin is the backbone of representation separation')
        cfg.model.backbone = dict(type='TwoPathwaySwinTransformer', local_channels=8,
                                  embed_dims=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4),
                                  window_size=2, out_indices=(0, 1, 2, 3))
        wire_pyramid_head(head, decoder, SWIN_WIDTHS)
    elif backbone == 'two-pathway-mit':
        # The same pathway on MiT (SegFormer); its stages' widths 16, 32, 32, 64.
        if decoder != 'repsep':
            raise ValueError('two-pathway-mit is a backbone of representation separation')
        cfg.model.backbone = dict(type='TwoPathwayMixVisionTransformer', local_channels=8,
                                  embed_dims=16, num_stages=4, num_layers=[1, 1, 1, 1],
                                  num_heads=[1, 2, 2, 4], patch_sizes=[7, 3, 3, 3],
                                  sr_ratios=[8, 4, 2, 1], out_indices=(0, 1, 2, 3))
        wire_pyramid_head(head, decoder, [16, 32, 32, 64])
    elif backbone == 'swin':
        # depict's Swin (the two-pathway class without its local pathway is
        # mmseg's Swin, its size branches removed). Window 2: at the 64x64
        # export every grid (16, 8, 4, 2) is a multiple of it, the case where a
        # branch on the padding would be frozen to "none".
        cfg.model.backbone = dict(type='TwoPathwaySwinTransformer', with_local_pathway=False,
                                  embed_dims=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4),
                                  window_size=2, out_indices=(0, 1, 2, 3))
        wire_pyramid_head(head, decoder, SWIN_WIDTHS)
    elif backbone != 'toy':
        out_indices = tuple(cfg.model.backbone.out_indices)
        final_norm = bool(cfg.model.backbone.get('final_norm', True))
        cfg.model.backbone = _plain_vit_backbone(backbone, out_indices, final_norm, cfg)
        if decoder == 'shrunk':
            patch = TIMM[backbone][1] if backbone in TIMM else 8
            head.query_grid = (64 // patch, 64 // patch)
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(cfg.model)
        model.init_weights()
    return model.eval()
