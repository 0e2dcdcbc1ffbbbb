"""FLOP counting (fvcore convention): the SDPA handle, hand counts of every
head's multiply-accumulates at toy sizes, and the full-size numbers of the SegViT
paper (slow)."""
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


def vit_layer_flops(tokens, d, mlp_ratio=4):
    """One pre-norm ViT block on ``tokens`` tokens: two LNs (5 per element),
    q/k/v and output projections, attention (T²·2d over the heads), the MLP."""
    return 2 * 5 * tokens * d + 4 * tokens * d * d + 2 * tokens * tokens * d \
        + 2 * mlp_ratio * tokens * d * d


def post_norm_layer_flops(queries, keys, d, ffn_ratio=4):
    """One :class:`PostNormDecoderLayer` (``queries`` tokens, ``keys`` memory
    tokens of width d): self-attention, cross-attention (q, out on the queries;
    k, v on the memory; logits and A·v), FFN, three LNs."""
    self_attn = 4 * queries * d * d + 2 * queries * queries * d
    cross_attn = 2 * queries * d * d + 2 * keys * d * d + 2 * queries * keys * d
    ffn = 2 * ffn_ratio * queries * d * d
    return self_attn + cross_attn + ffn + 3 * 5 * queries * d


def atm_prediction_flops(classes, h, size):
    """ATM's prediction at ``size`` from (C, h, w) masks, computed separably
    (upsampled_class_scores): along the width (bilinear, 4 per output), then
    along the height (one block of rows here, each reading the h source rows),
    then Σ_q softmax · σ."""
    H, W = size
    return 4 * classes * h * W + classes * H * h * W + classes * classes * H * W


def test_atm_decoder_count_matches_the_formula():
    """Every MAC of the ATM decoder written out (fvcore: Linear in·out per row,
    LayerNorm 5 per element, bilinear upsampling 4 per output, einsum = product
    of its index sizes)."""
    L, C, d, cin, S = 2, 3, 16, 24, 2
    H, W = 32, 48
    N = (H // 16) * (W // 16)
    result = count_segmentor_flops(tiny_atm(L, C, d, cin), (H, W))
    laterals = S * (N * cin * d + 5 * N * d)
    class_head = C * d * (C + 1)  # inference: the final prediction only
    expected = (laterals + S * L * post_norm_layer_flops(C, N, d) + class_head
                + atm_prediction_flops(C, H // 16, (H, W)))
    assert result.decoder == expected
    assert result.total == result.backbone + result.decoder


def _toy_counts(name, size):
    cfg = Config.fromfile(osp.join(REPO, 'configs', name))
    init_default_scope('mmseg')
    return count_segmentor_flops(MODELS.build(cfg.model), size)


def test_every_head_of_the_project_counts():
    """The toy configs of ATM, Shrunk and mmseg's Segmenter (forward-only
    counters refuse query heads), every MAC written out at 64x48.

    Toy ViT: d = 64, 4 blocks, 2 heads, MLP ratio 4, 8-pixel patches: an 8x6
    grid, N = 48 patches + CLS; C = 8 classes. Not counted (fvcore): element-wise
    ops, the norms of F.normalize, and the bicubic resizing of position
    embeddings and of Shrunk's query grid.
    """
    H, W, d, C = 64, 48, 64, 8
    h, N = 8, 48
    patch_embed = 3 * 8 * 8 * d * N  # the stride-8 convolution
    vit = patch_embed + 4 * vit_layer_flops(N + 1, d) + 5 * (N + 1) * d  # + final LN
    class_head = C * d * (C + 1)
    prediction = atm_prediction_flops(C, h, (H, W))

    # SegViT (ATM): three levels (blocks 1, 2, 3), 3 layers each, masks accumulate.
    result = _toy_counts('segvit/segvit_vit-toy_1xb8-2k_toy-64x64.py', (H, W))
    laterals = 3 * (N * d * d + 5 * N * d)
    assert result.backbone == vit
    assert result.decoder == laterals + 9 * post_norm_layer_flops(C, N, d) + class_head \
        + prediction
    assert result.total == result.backbone + result.decoder
    assert 'GFLOPs' in result.table()

    # SegViT Shrunk: QD at block 2 (its queries: a 4x3 grid + CLS, its keys all
    # 49 tokens), block 3 on 13 tokens; the head reads blocks 1 (8x6) and 3 (4x3).
    result = _toy_counts('segvit/segvit-shrunk_vit-toy_1xb8-2k_toy-64x64.py', (H, W))
    q, k = 4 * 3 + 1, N + 1
    query_downsample = (5 * k * d + 5 * q * d  # LN of keys and of queries
                        + q * d * d + 2 * k * d * d  # q; k and v
                        + 2 * q * k * d + q * d * d  # attention; output projection
                        + 5 * q * d + 8 * q * d * d)  # LN, MLP
    assert result.backbone == patch_embed + 2 * vit_layer_flops(k, d) + query_downsample \
        + vit_layer_flops(q, d) + 5 * q * d
    late = 4 * 3
    laterals = N * d * d + 5 * N * d + late * d * d + 5 * late * d
    upsampler = 3 * post_norm_layer_flops(N, N, d) + 3 * post_norm_layer_flops(N, late, d)
    atm = 3 * post_norm_layer_flops(C, N, d)  # one stage on the 8x6 grid
    assert result.decoder == laterals + upsampler + atm + class_head + prediction

    # Segmenter's mask transformer (mmseg): 2 blocks on N + C tokens.
    result = _toy_counts('segmenter/segmenter-mask_vit-toy_1xb8-2k_toy-64x64.py', (H, W))
    tokens = N + C
    projections = N * d * d + N * d * d + C * d * d  # dec_proj, patch_proj, classes_proj
    masks = N * C * d + 5 * N * C  # n(Z) n(E)ᵀ, LN over the classes
    upsample = 4 * C * H * W  # mmseg's bilinear resize to the input
    assert result.backbone == vit
    assert result.decoder == projections + 2 * vit_layer_flops(tokens, d) + 5 * tokens * d \
        + masks + upsample


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
