"""EoMT: backbones (timm DINOv2 / DINOv3 / EVA-02, mmseg ViT), head, loss, segmentor, hook.

The official float64 parity (logits, losses, gradients) is in
tests/test_converters/test_eomt2mmseg.py; here the pieces' own contracts.
"""
import itertools

import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from depict.engine.eomt_hooks import EoMTMaskAnnealingHook, mask_probability
from depict.models.backbones import EoMTFeatures
from depict.models.backbones.eomt_vit import EoMTQueriesMixin
from depict.models.losses.mask2former_loss import (Mask2FormerLoss, hungarian_match,
                                                   semantic_segments)

K = 3
BACKBONES = {
    'dinov2': (dict(type='EoMTTimmViT', model_name='vit_small_patch14_reg4_dinov2',
                    img_size=64, model_kwargs=dict(patch_size=16, embed_dim=32, depth=3,
                                                   num_heads=2)), 32, 16),
    'dinov3': (dict(type='EoMTTimmViT', model_name='vit_small_patch16_dinov3', img_size=64,
                    model_kwargs=dict(embed_dim=32, depth=3, num_heads=2)), 32, 16),
    'eva02': (dict(type='EoMTTimmViT', model_name='eva02_tiny_patch14_224', img_size=56,
                   model_kwargs=dict(embed_dim=32, depth=3, num_heads=2)), 32, 14),
    'mmseg-vit': (dict(type='EoMTVisionTransformer', img_size=64, patch_size=16, embed_dims=32,
                       num_layers=3, num_heads=2), 32, 16),
}


def build(name, num_points=40, **backbone):
    init_default_scope('mmseg')
    cfg, width, patch = BACKBONES[name]
    cfg = dict(cfg, **dict(dict(num_queries=5, num_blocks=2), **backbone))
    model = MODELS.build(ConfigDict(
        type='EoMTEncoderDecoder', data_preprocessor=dict(type='SegDataPreProcessor'),
        backbone=cfg, decode_head=dict(type='EoMTHead', in_channels=width, num_classes=K,
                                       patch_size=patch,
                                       loss_decode=dict(type='Mask2FormerLoss',
                                                        num_points=num_points)),
        test_cfg=dict(mode='whole')))
    return model


def samples(batch, h, w):
    out = []
    for _ in range(batch):
        label = torch.randint(0, K, (1, h, w))
        label[:, :3] = 255
        sample = SegDataSample(metainfo=dict(img_shape=(h, w), pad_shape=(h, w),
                                             ori_shape=(h, w)))
        sample.gt_sem_seg = PixelData(data=label)
        out.append(sample)
    return out


@pytest.mark.parametrize('name', list(BACKBONES))
def test_train_and_predict_every_backbone(name):
    """Non-square input; every parameter gets a gradient with masks on; eval reads the
    last block only and predicts K scores per pixel."""
    torch.manual_seed(0)
    model = build(name).train()
    model.backbone.attn_mask_probs.fill_(0.5)
    x = torch.randn(2, 3, 48, 80)
    losses = model.loss(x, samples(2, 48, 80))
    assert {'decode.p0.loss_cls', 'decode.p1.loss_dice', 'decode.loss_mask'} <= set(losses)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing
    model.eval()
    with torch.no_grad():
        feats = model.extract_feat(x)
        assert isinstance(feats, EoMTFeatures) and len(feats.queries) == 1
        scores = model.encode_decode(x, [dict(img_shape=(48, 80))] * 2)
    assert scores.shape == (2, K, 48, 80)
    # Σ_c P[c] ≤ Q: class probabilities (no-object dropped) times sigmoids.
    assert float(scores.min()) >= 0 and float(scores.sum(1).max()) <= 5


@pytest.mark.parametrize('name', ['dinov2', 'mmseg-vit'])
def test_annealed_training_forward_equals_inference(name):
    """With every P_l = 0 (annealing done) training attends without masks, as inference."""
    torch.manual_seed(0)
    model = build(name)
    x = torch.randn(1, 3, 48, 64)
    model.eval()
    with torch.no_grad():
        cls_eval, masks_eval = model.decode_head(model.extract_feat(x))
        model.train()
        model.backbone.attn_mask_probs.zero_()
        cls_train, masks_train = model.decode_head(model.extract_feat(x))
    assert len(cls_train) == 3
    torch.testing.assert_close(cls_train[-1], cls_eval[-1])
    torch.testing.assert_close(masks_train[-1], masks_eval[-1])


@pytest.mark.parametrize('name', list(BACKBONES))
def test_mask_orientation(name):
    """A keep-mask that hides every patch from the queries makes the queries' block
    output independent of the patches (True = attend, for every backbone)."""
    torch.manual_seed(0)
    backbone = build(name).backbone
    backbone.eval()  # mmseg ViT.train() returns None
    with torch.no_grad():  # DINOv2/v3 LayerScale starts at 1e-5: make the blocks count
        for key, param in backbone.named_parameters():
            if 'gamma' in key:
                param.fill_(1.0)
    x, grid, rope = backbone.embed_tokens(torch.randn(1, 3, 48, 64))
    start, q = backbone.num_prefix_tokens, backbone.num_queries
    queries = torch.randn(1, q, x.shape[-1])
    tokens = torch.cat([x[:, :start], queries, x[:, start:]], dim=1)
    rope = EoMTQueriesMixin._rope_with_queries(rope, q)
    keep = torch.ones(1, tokens.shape[1], tokens.shape[1], dtype=torch.bool)
    keep[:, start:start + q, start + q:] = False
    other = tokens.clone()
    other[:, start + q:] += torch.randn_like(other[:, start + q:])
    with torch.no_grad():
        out = backbone.run_block(0, tokens, keep, rope)
        out_other = backbone.run_block(0, other, keep, rope)
        free = backbone.run_block(0, other, None, rope)
    torch.testing.assert_close(out[:, start:start + q], out_other[:, start:start + q])
    assert not torch.allclose(free[:, start:start + q], out[:, start:start + q])


def test_rope_identity_for_queries():
    """Queries get the identity rotation (no position) in timm's RoPE application."""
    from timm.layers import apply_rot_embed_cat
    rope = torch.randn(6, 8)
    padded = EoMTQueriesMixin._rope_with_queries(rope, 3)
    x = torch.randn(2, 2, 9, 4)
    for half in (False, True):
        rotated = apply_rot_embed_cat(x, padded, half=half)
        torch.testing.assert_close(rotated[:, :, :3], x[:, :, :3])
        torch.testing.assert_close(rotated[:, :, 3:], apply_rot_embed_cat(x[:, :, 3:], rope,
                                                                          half=half))


def test_attention_mask_and_random_dropping():
    backbone = build('dinov2').backbone
    logits = torch.randn(2, 5, 8, 12)  # stride 4 of a 2x3 grid
    start = backbone.num_prefix_tokens
    tokens = start + 5 + 6
    keep = backbone._attention_mask(logits, (2, 3), tokens, torch.tensor(1.0))
    inside = torch.nn.functional.interpolate(logits, (2, 3), mode='bilinear').flatten(2) > 0
    assert torch.equal(keep[:, start:start + 5, start + 5:], inside)
    keep[:, start:start + 5, start + 5:] = True
    assert keep.all()  # nothing else is masked
    torch.manual_seed(0)
    dropped = backbone._attention_mask(logits, (2, 3), tokens, torch.tensor(0.5))
    torch.manual_seed(0)
    unmasked = torch.rand(2, 5) > 0.5
    rows = dropped[:, start:start + 5, start + 5:]
    assert rows[unmasked].all()
    assert torch.equal(rows[~unmasked], inside[~unmasked])


def test_masked_training_needs_the_readout():
    model = build('dinov2').train()
    with pytest.raises(ValueError, match='EoMTEncoderDecoder'):
        model.backbone(torch.randn(1, 3, 32, 32))
    model.backbone.masked_attn = False
    feats = model.backbone(torch.randn(1, 3, 32, 32))
    assert len(feats.queries) == 1


def test_bad_configs():
    with pytest.raises(ValueError, match='num_blocks'):
        build('dinov2', num_blocks=9)
    with pytest.raises(ValueError, match='final_norm'):
        build('dinov2', final_norm=False)
    assert len(build('dinov2', out_indices=(1, )).backbone.blocks) == 3  # no effect
    init_default_scope('mmseg')
    with pytest.raises(TypeError, match='EoMT backbone'):
        MODELS.build(dict(type='EoMTHead', in_channels=8, num_classes=2)).forward(
            [torch.randn(1, 8, 2, 2)])


def test_slide_inference_on_non_square_windows():
    """Slide scores = the average of each window's own prediction (edge windows too)."""
    torch.manual_seed(0)
    model = build('dinov2').eval()
    model.test_cfg = ConfigDict(mode='slide', crop_size=(32, 48), stride=(24, 40))
    x = torch.randn(1, 3, 48, 80)
    meta = [dict(img_shape=(48, 80), ori_shape=(48, 80), pad_shape=(48, 80))]
    from depict.models.segmentors import slide_windows
    with torch.no_grad():
        scores = model.inference(x, meta)
        total = torch.zeros(1, K, 48, 80)
        count = torch.zeros(1, 1, 48, 80)
        for y1, y2, x1, x2 in slide_windows(48, 80, (32, 48), (24, 40)):
            total[:, :, y1:y2, x1:x2] += model.encode_decode(
                x[:, :, y1:y2, x1:x2], [dict(img_shape=(y2 - y1, x2 - x1))])
            count[:, :, y1:y2, x1:x2] += 1
    torch.testing.assert_close(scores, total / count)


# -- loss ------------------------------------------------------------------
@pytest.mark.parametrize('shape', [(4, 4), (6, 3), (5, 1), (3, 0)])
def test_hungarian_match_is_minimal(shape):
    torch.manual_seed(shape[0] * 7 + shape[1])
    cost = torch.rand(shape, dtype=torch.float64)
    rows, cols = hungarian_match(cost)
    assert len(rows) == min(shape)
    best = min((sum(float(cost[r, c]) for r, c in zip(perm, range(shape[1])))
                for perm in itertools.permutations(range(shape[0]), shape[1])), default=0.0)
    assert abs(float(cost[rows, cols].sum()) - best) < 1e-12


def test_hungarian_match_nan_and_inf_last():
    cost = torch.tensor([[float('nan'), 1.0], [0.5, float('inf')], [0.2, 0.3]])
    rows, cols = hungarian_match(cost)
    pairs = set(zip(rows.tolist(), cols.tolist()))
    assert pairs == {(1, 0), (2, 1)}


def test_semantic_segments():
    seg = torch.tensor([[[2, 2, 255], [0, 2, 0]]])
    (labels, masks), = semantic_segments(seg, 3, 255)
    assert labels.tolist() == [0, 2]
    assert masks.tolist() == [[[0, 0, 0], [1, 0, 1]], [[1, 1, 0], [0, 1, 0]]]
    with pytest.raises(ValueError, match='reduce_zero_label'):
        semantic_segments(seg, 2, 255)


def test_loss_weights_empty_targets_and_autocast():
    torch.manual_seed(0)
    loss = Mask2FormerLoss(num_points=16)
    cls = [torch.randn(2, 4, K + 1, requires_grad=True) for _ in range(2)]
    masks = [torch.randn(2, 4, 6, 6, requires_grad=True) for _ in range(2)]
    seg = torch.randint(0, K, (2, 24, 24))
    seg[1] = 255  # no segment in image 1
    out = loss(cls, masks, semantic_segments(seg, K, 255))
    assert set(out) == {'p0.loss_cls', 'p0.loss_mask', 'p0.loss_dice', 'loss_cls',
                        'loss_mask', 'loss_dice'}
    sum(out.values()).backward()
    assert all(t.grad is not None for t in cls + masks)
    # No segment anywhere: class loss only, mask losses zero but in the graph.
    empty = loss(cls, masks, semantic_segments(torch.full((2, 8, 8), 255), K, 255))
    assert float(empty['loss_mask']) == 0 and empty['loss_mask'].requires_grad
    with torch.autocast('cpu', dtype=torch.bfloat16):
        half = loss([c.bfloat16() for c in cls], [m.bfloat16() for m in masks],
                    semantic_segments(seg, K, 255))
    assert all(v.dtype == torch.float32 for v in half.values())


# -- annealing hook ---------------------------------------------------------
def test_mask_probability_schedule():
    assert mask_probability(5, 10, 20, 0.9) == 1.0
    assert mask_probability(20, 10, 20, 0.9) == 0.0
    assert mask_probability(15, 10, 20, 0.9) == pytest.approx(0.5**0.9)
    # DINOv3 recipe: block 0 starts at 0 with P = 1.
    assert mask_probability(0, 0, 3000, 0.9) == 1.0


class _Runner:
    def __init__(self, model, iteration):
        from mmengine.logging import MessageHub
        self.model, self.iter = model, iteration
        self.message_hub = MessageHub.get_instance('eomt-test')


def test_hook_sets_probabilities_and_checkpoint_restores_them():
    model = build('dinov2')
    hook = EoMTMaskAnnealingHook(start_iters=[10, 20], end_iters=[20, 30])
    hook.before_train(_Runner(model, 0))
    hook.before_train_iter(_Runner(model, 25), 0)
    expected = [0.0, 0.5**0.9]
    torch.testing.assert_close(model.backbone.attn_mask_probs, torch.tensor(expected))
    # The probabilities travel in the state dict: a resumed model starts from them.
    resumed = build('dinov2')
    resumed.load_state_dict(model.state_dict())
    torch.testing.assert_close(resumed.backbone.attn_mask_probs, torch.tensor(expected))
    with pytest.raises(ValueError, match='one start/end'):
        EoMTMaskAnnealingHook(start_iters=[1], end_iters=[2]).before_train(_Runner(model, 0))
    with pytest.raises(ValueError, match='exceed'):
        EoMTMaskAnnealingHook(start_iters=[5, 5], end_iters=[5, 9])


# -- optimiser recipe --------------------------------------------------------
#: (ViT group, new group) lr at steps 0..39 of the official TwoStageWarmupPolySchedule
#: (tue-mps/eomt) with warm-ups (5, 10), 40 steps, power 0.9, base lr 1.
OFFICIAL_LRS = [
    (0, 0.0), (0, 0.2), (0, 0.4), (0, 0.6), (0, 0.8), (0.0, 1.0), (0.1, 0.974248588875),
    (0.2, 0.948421315312), (0.3, 0.92251564596), (0.4, 0.896528880884), (0.5, 0.870458136859),
    (0.6, 0.844300328394), (0.7, 0.818052146051), (0.8, 0.79171003159), (0.9, 0.765270149325),
    (1.0, 0.73872835295), (0.963926921259, 0.712080146905), (0.927703178563, 0.685320641126),
    (0.891321546089, 0.658444497691), (0.854774106027, 0.631445867489),
    (0.818052146051, 0.604318314479), (0.781146035668, 0.577054724342),
    (0.744045075768, 0.549647193342), (0.706737313724, 0.522086891735),
    (0.669209313658, 0.494363894057), (0.631445867489, 0.466466965667),
    (0.593429626471, 0.438383290554), (0.555140624049, 0.410098118859),
    (0.516555647015, 0.381594302326), (0.477647389843, 0.352851669589),
    (0.438383290554, 0.323846166192), (0.398723883569, 0.294548637791),
    (0.358620391631, 0.264923051243), (0.318011062767, 0.234923788618),
    (0.276815317197, 0.204491323344), (0.234923788618, 0.173544863434),
    (0.192179909437, 0.141968747968), (0.148341655498, 0.10958418684),
    (0.102986663484, 0.076079168291), (0.055189186458, 0.040769816813)]


def test_two_stage_warmup_matches_official_schedule():
    from mmengine.optim import OptimWrapper

    from depict.engine.eomt_optim import TwoStageWarmupPolyLR
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in range(2)]
    optimizer = torch.optim.AdamW([dict(params=[params[0]], lr=1.0, vit=True),
                                   dict(params=[params[1]], lr=1.0, vit=False)])
    wrapper = OptimWrapper(optimizer)
    scheduler = TwoStageWarmupPolyLR(wrapper, total_iters=40, warmup_iters=(5, 10))
    for vit_lr, new_lr in OFFICIAL_LRS:
        assert optimizer.param_groups[0]['lr'] == pytest.approx(vit_lr, abs=1e-9)
        assert optimizer.param_groups[1]['lr'] == pytest.approx(new_lr, abs=1e-9)
        optimizer.step()
        scheduler.step()


@pytest.mark.parametrize('name', ['dinov2', 'mmseg-vit'])
def test_official_parameter_groups(name):
    from mmengine.optim import build_optim_wrapper
    model = build(name)
    wrapper = build_optim_wrapper(model, dict(
        type='OptimWrapper', constructor='EoMTOptimWrapperConstructor',
        optimizer=dict(type='AdamW', lr=1.0, weight_decay=0.05),
        paramwise_cfg=dict(decay_rate=0.5)))
    rate = {n: g['lr'] for g in wrapper.optimizer.param_groups for n in g['param_names']}
    vit = {n: g['vit'] for g in wrapper.optimizer.param_groups for n in g['param_names']}
    assert all(g['weight_decay'] == 0.05 for g in wrapper.optimizer.param_groups)
    blocks = 'model.blocks' if name != 'mmseg-vit' else 'layers'
    embed = 'model.patch_embed.proj.weight' if name != 'mmseg-vit' \
        else 'patch_embed.projection.weight'
    norm = 'norm.weight' if name != 'mmseg-vit' else 'ln1.weight'
    # 3 blocks: block i at 0.5^(2-i), embeddings as block 0, final norm / queries / head at 1.
    assert rate[f'backbone.{blocks}.0.norm1.weight' if name != 'mmseg-vit'
                else 'backbone.layers.0.ln1.weight'] == 0.25
    assert rate[f'backbone.{blocks}.2.mlp.fc1.weight' if name != 'mmseg-vit'
                else 'backbone.layers.2.ffn.layers.0.0.weight'] == 1.0
    assert rate[f'backbone.{embed}'] == 0.25
    assert rate[f'backbone.{norm}'] == 1.0 and vit[f'backbone.{norm}']
    assert rate['backbone.queries.weight'] == 1.0 and not vit['backbone.queries.weight']
    assert rate['decode_head.class_head.weight'] == 1.0
    assert not vit['decode_head.mask_head.0.weight']
    assert len(rate) == sum(1 for _ in model.parameters())


# -- cost accounting -------------------------------------------------------------
def test_flops_count_the_queries_as_eomt_cost():
    """The backbone is counted as the plain ViT; the queries' share of the blocks and
    the queries' parameters go to the decoder."""
    from depict.models.backbones import TimmViT
    from depict.utils.flops import count_segmentor_flops, flop_analyzer
    torch.manual_seed(0)
    model = build('dinov2')
    counts = count_segmentor_flops(model, (48, 64))
    cfg = BACKBONES['dinov2'][0]
    plain = TimmViT(model_name=cfg['model_name'], img_size=cfg['img_size'],
                    model_kwargs=cfg['model_kwargs'])
    plain.eval()
    plain_flops = flop_analyzer(plain, (torch.randn(1, 3, 48, 64), )).total()
    assert counts.backbone == plain_flops
    assert counts.decoder == counts.total - plain_flops > 0
    queries = model.backbone.queries.weight.numel()
    head = sum(p.numel() for p in model.decode_head.parameters())
    assert counts.decoder_params == head + queries
    assert counts.backbone_params == sum(p.numel() for p in plain.parameters())
