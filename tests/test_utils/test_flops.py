"""FLOP counting (fvcore convention): the SDPA handle, an analytic ATM count,
and the full-size numbers of the SegViT paper (slow)."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS
from torch import nn

from conftest import REPO
from depict.models.layers import MultiheadAttention
from depict.utils.flops import count_segmentor_flops, flop_analyzer


class _Attend(nn.Module):

    def __init__(self, return_logits):
        super().__init__()
        self.attn = MultiheadAttention(16, 4)
        self.return_logits = return_logits

    def forward(self, query, memory):
        out = self.attn(query, memory, return_logits=self.return_logits)
        return out[0] if self.return_logits else out


def test_fused_and_explicit_attention_count_the_same():
    """SDPA is counted like q kᵀ and A v written out: Nq·Nk·(d + d_v) per head."""
    query, memory = torch.randn(2, 5, 16), torch.randn(2, 7, 16)
    fused = flop_analyzer(_Attend(False), (query, memory))
    explicit = flop_analyzer(_Attend(True), (query, memory))
    projections = 2 * (5 * 16 * 16 * 2 + 7 * 16 * 16 * 2)  # q, out on 5 tokens; k, v on 7
    products = 2 * 4 * 5 * 7 * (4 + 4)
    assert fused.total() == explicit.total() == projections + products
    assert 'aten::scaled_dot_product_attention' not in fused.unsupported_ops()


def tiny_atm(num_layers=2, classes=3, width=16, cin=24):
    init_default_scope('mmseg')
    model = MODELS.build(dict(
        type='EncoderDecoder',
        backbone=dict(type='VisionTransformer', img_size=(32, 48), patch_size=16,
                      embed_dims=cin, num_layers=2, num_heads=2, mlp_ratio=2,
                      out_indices=(0, 1), with_cls_token=False),
        decode_head=dict(type='ATMHead', in_channels=cin, channels=width,
                         num_classes=classes, in_index=(0, 1), num_layers=num_layers,
                         num_heads=2),
        test_cfg=dict(mode='whole')))
    return model


def test_atm_decoder_count_matches_the_formula():
    """Every MAC of the ATM decoder written out (fvcore: Linear in·out per row,
    LayerNorm 5 per element, bilinear upsampling 4 per output, einsum = product
    of its index sizes)."""
    L, C, d, cin, S = 2, 3, 16, 24, 2
    H, W = 32, 48
    N = (H // 16) * (W // 16)
    result = count_segmentor_flops(tiny_atm(L, C, d, cin), (H, W))
    laterals = S * (N * cin * d + 5 * N * d)
    self_attn = 4 * C * d * d + 2 * C * C * d
    cross_attn = 2 * C * d * d + 2 * N * d * d + 2 * C * N * d
    ffn = 8 * C * d * d
    layer = self_attn + cross_attn + ffn + 3 * 5 * C * d
    class_head = C * d * (C + 1)  # inference: the final prediction only
    # Upsampled masks, computed separably (upsampled_class_scores): along the
    # width (bilinear, 4 per output), then along the height (one block of
    # rows here, each reading the h source rows), then Σ_q softmax · σ.
    h = H // 16
    prediction = 4 * C * h * W + C * H * h * W + C * C * H * W
    expected = laterals + S * L * layer + class_head + prediction
    assert result.decoder == expected
    assert result.total == result.backbone + result.decoder


def test_every_head_of_the_project_counts():
    """ATM, Shrunk and mmseg's Segmenter (forward-only counters refuse query heads)."""
    for name in ('segvit/segvit_vit-toy_1xb8-2k_toy-64x64.py',
                 'segvit/segvit-shrunk_vit-toy_1xb8-2k_toy-64x64.py',
                 'segmenter/segmenter-mask_vit-toy_1xb8-2k_toy-64x64.py'):
        cfg = Config.fromfile(osp.join(REPO, 'configs', name))
        init_default_scope('mmseg')
        result = count_segmentor_flops(MODELS.build(cfg.model), (64, 48))
        assert result.backbone > 0 and result.decoder > 0, name
        assert 'GFLOPs' in result.table()


# The SegViT paper's whole-model counts (one window, multiply-accumulates).
PAPER = [('segvit_vit-l16_8xb2-160k_ade20k-640x640.py', 640, 637.9),
         ('segvit-shrunk_vit-l16_8xb2-160k_ade20k-640x640.py', 640, 373.5),
         ('segvit_vit-b16_8xb2-160k_ade20k-512x512.py', 512, 120.9),
         ('segvit_vit-l16_4xb4-80k_pascal-context-480x480.py', 480, 321.6)]


@pytest.mark.slow
@pytest.mark.parametrize('config,size,paper_gflops', PAPER, ids=[p[0] for p in PAPER])
def test_full_size_counts_match_the_paper(config, size, paper_gflops):
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'segvit', config))
    cfg.model.pretrained = None
    init_default_scope('mmseg')
    result = count_segmentor_flops(MODELS.build(cfg.model), (size, size))
    assert abs(result.total / 1e9 - paper_gflops) / paper_gflops < 0.02, result.table()
    if config.startswith('segvit_vit-l16') and size == 640:
        assert abs(result.backbone / 1e9 - 610.7) < 0.1  # ViT-L/16 alone (spec)
