"""ATMHead: shapes (square, non-square, slide edge crops), the prediction rule,
mask accumulation, gradients everywhere, DDP without unused parameters."""
import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from depict.models.decode_heads import ATMHead

C = 5


def build_head(**overrides):
    cfg = dict(type='ATMHead', in_channels=[24, 32, 40], channels=32, num_classes=C,
               num_heads=4, num_layers=2)
    cfg.update(overrides)
    head = MODELS.build(cfg)
    head.init_weights()
    return head


def features(batch, h, w):
    return [torch.randn(batch, c, h, w) for c in (24, 32, 40)]


def samples(batch, h, w):
    out = []
    for _ in range(batch):
        label = torch.randint(0, C, (1, h, w))
        label[:, :2, :3] = 255
        sample = SegDataSample(metainfo=dict(img_shape=(h, w), pad_shape=(h, w)))
        sample.gt_sem_seg = PixelData(data=label)
        out.append(sample)
    return out


@pytest.mark.parametrize('hw', [(4, 4), (3, 5), (5, 3), (7, 2)])
def test_forward_and_predict_shapes(hw):
    head = build_head().train()
    cls_logits, mask_logits = head(features(2, *hw))
    assert len(cls_logits) == len(mask_logits) == 3  # one prediction per stage
    assert all(c.shape == (2, C, C + 1) for c in cls_logits)
    assert all(m.shape == (2, C, *hw) for m in mask_logits)
    head.eval()  # inference computes the final prediction only
    with torch.no_grad():
        cls_logits, mask_logits = head(features(2, *hw))
    assert [c.shape for c in cls_logits] == [(2, C, C + 1)]
    assert [m.shape for m in mask_logits] == [(2, C, *hw)]
    img = (hw[0] * 16, hw[1] * 16)
    out = head.predict(features(2, *hw), [dict(img_shape=img, pad_shape=img)] * 2, {})
    assert out.shape == (2, C, *img)


def test_prediction_rule_and_score_spaces():
    """P[c] = Σ_q softmax(Y)[q, c] σ(↑M[q]); log_prob is its log (same arg max)."""
    head = build_head().eval()
    feats = features(1, 3, 5)
    metas = [dict(img_shape=torch.Size((30, 50)), pad_shape=(48, 80))]  # slide: img_shape wins
    with torch.no_grad():
        cls_logits, mask_logits = head(feats)
        scores = head.predict_by_feat((cls_logits, mask_logits), metas)
        masks = torch.nn.functional.interpolate(mask_logits[-1], size=(30, 50), mode='bilinear',
                                                align_corners=False)
        expected = torch.einsum('bqc,bqhw->bchw', cls_logits[-1].softmax(-1)[..., :C],
                                masks.sigmoid())
        head.scores = 'log_prob'
        log_scores = head.predict_by_feat((cls_logits, mask_logits), metas)
    torch.testing.assert_close(scores, expected)
    torch.testing.assert_close(log_scores, expected.log())
    assert torch.equal(scores.argmax(1), log_scores.argmax(1))
    with pytest.raises(ValueError, match='scores'):
        build_head(scores='softmax')


def test_masks_are_attention_logits_accumulated_over_stages():
    """S_s is the head mean of the last cross-attention's logits; M_s = Σ_{j≤s} S_j.
    Only those cross-attentions compute logits explicitly, also at inference."""
    head = build_head(dropout=0.0, attn_drop=0.0).train()
    captured, fused = [], []
    for layers in head.decoder.stages:
        for index, layer in enumerate(layers):
            def hook(module, args, output, last=index == len(layers) - 1):
                (captured if isinstance(output, tuple) else fused).append(last)
                if isinstance(output, tuple):
                    hook.logits.append(output[1])
            layer.cross_attn.register_forward_hook(hook)
    hook.logits = []
    feats = features(2, 3, 5)
    with torch.no_grad():
        _, mask_logits = head(feats)
    assert captured == [True] * 3 and fused == [False] * 3
    stage_masks = [logits.mean(1).reshape(2, C, 3, 5) for logits in hook.logits]
    for s in range(3):
        torch.testing.assert_close(mask_logits[s], sum(stage_masks[:s + 1]))
    captured.clear()
    fused.clear()
    with torch.no_grad():
        _, final = head.eval()(feats)
    assert captured == [True] * 3 and fused == [False] * 3  # accumulation needs them
    torch.testing.assert_close(final[0], mask_logits[-1])


def test_stages_read_deepest_first():
    head = build_head().eval()
    seen = []
    for lateral in head.laterals:
        lateral.register_forward_hook(lambda m, args, out: seen.append(args[0].shape[1]))
    with torch.no_grad():
        head(features(1, 2, 2))
    assert seen == [40, 32, 24]


def test_loss_and_every_parameter_gets_a_gradient():
    head = build_head().train()
    losses = head.loss(features(2, 3, 5), samples(2, 48, 80), {})
    expected = {f'{p}loss_{k}' for p in ('p0.', 'p1.', '') for k in ('cls', 'mask', 'dice')}
    assert set(losses) == expected | {'acc_seg'}
    sum(v for k, v in losses.items() if k.startswith(('loss', 'p'))).backward()
    missing = [n for n, p in head.named_parameters() if p.grad is None]
    assert not missing, missing
    assert not hasattr(head, 'conv_seg')
    # Every stage's layers are trained (their own cross-attention keys included).
    for layers in head.decoder.stages:
        assert layers[-1].cross_attn.k_proj.weight.grad.abs().sum() > 0


def tiny_segmentor(head, *, slide=False):
    backbone = dict(type='VisionTransformer', img_size=(64, 64), patch_size=16, embed_dims=32,
                    num_layers=3, num_heads=2, mlp_ratio=2, out_indices=(0, 1, 2),
                    final_norm=False, with_cls_token=False,
                    frozen_exclude=['patch_embed', 'pos_embed', 'layers'])
    test_cfg = ConfigDict(mode='slide', crop_size=(64, 64), stride=(48, 48)) if slide \
        else ConfigDict(mode='whole')
    init_default_scope('mmseg')  # the data preprocessor is registered in mmseg's scope
    model = MODELS.build(dict(
        type='EncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[127.5] * 3, std=[127.5] * 3,
                               bgr_to_rgb=True, pad_val=0, seg_pad_val=255, size=(48, 80)),
        backbone=backbone, decode_head=head, test_cfg=test_cfg))
    model.init_weights()
    return model


ATM = dict(type='ATMHead', in_channels=32, channels=32, num_classes=C, num_heads=4,
           num_layers=2)


# mmseg's windows (y1, y2, x1, x2) for a 64x64 crop at stride 48: the last
# window of a row / column is shifted back inside the image, and a side shorter
# than the crop is one window of that side.
WINDOWS = {
    (64, 100): [(0, 64, 0, 64), (0, 64, 36, 100)],
    (40, 100): [(0, 40, 0, 64), (0, 40, 36, 100)],
    (100, 36): [(0, 64, 0, 36), (36, 100, 0, 36)],
}


@pytest.mark.parametrize('image_hw', list(WINDOWS))
def test_slide_inference_on_unpadded_edge_crops(image_hw):
    """mmseg's slide mode feeds windows as they are: (64, 64) here, or 40x64 / 64x36
    when the image is smaller than the window; no √N, no image size in the head.
    The scores are each window's own prediction, averaged where windows overlap."""
    model = tiny_segmentor(ATM, slide=True)
    model.eval()
    shapes = []
    model.decode_head.decoder.register_forward_hook(  # predict() calls forward() directly
        lambda m, args, out: shapes.append(tuple(out[1][-1].shape[-2:])))
    data = dict(inputs=[torch.randint(0, 256, (3, *image_hw), dtype=torch.uint8)],
                data_samples=[SegDataSample(metainfo=dict(ori_shape=image_hw,
                                                          img_shape=image_hw))])
    with torch.no_grad():
        result = model.test_step(data)[0]
    assert result.seg_logits.data.shape == (C, *image_hw)
    assert result.pred_sem_seg.data.shape == (1, *image_hw)
    window = (min(image_hw[0], 64), min(image_hw[1], 64))
    assert set(shapes) == {(-(-window[0] // 16), -(-window[1] // 16))}

    inputs = model.data_preprocessor(data, False)['inputs']  # normalised (1, 3, H, W)
    total, count = torch.zeros(C, *image_hw), torch.zeros(1, *image_hw)
    with torch.no_grad():
        for y1, y2, x1, x2 in WINDOWS[image_hw]:
            crop = inputs[:, :, y1:y2, x1:x2]
            meta = dict(img_shape=crop.shape[-2:], ori_shape=crop.shape[-2:])
            total[:, y1:y2, x1:x2] += model.encode_decode(crop, [meta])[0]
            count[:, y1:y2, x1:x2] += 1
    assert count.min() >= 1
    torch.testing.assert_close(result.seg_logits.data, total / count, atol=1e-5, rtol=1e-5)
    assert torch.equal(result.pred_sem_seg.data, result.seg_logits.data.argmax(0, keepdim=True))


def test_ddp_one_process_no_unused_parameters(tmp_path):
    """Two training steps under DDP(find_unused_parameters=False) on gloo: a
    parameter without gradient would raise in the second step."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    store = dist.FileStore(str(tmp_path / 'store'), 1)
    dist.init_process_group('gloo', store=store, rank=0, world_size=1)
    try:
        for head in (ATM, dict(type='ShrunkATMHead', in_channels=32, channels=32, num_classes=C,
                               num_heads=4, num_layers=2, in_index=(0, 2), query_grid=(3, 5))):
            model = tiny_segmentor(head)
            ddp = DistributedDataParallel(model, find_unused_parameters=False)
            optimizer = torch.optim.SGD(ddp.parameters(), lr=0.01)
            for _ in range(2):
                data = ddp.module.data_preprocessor(
                    dict(inputs=[torch.randint(0, 256, (3, 48, 80), dtype=torch.uint8)] * 2,
                         data_samples=samples(2, 48, 80)), training=True)
                losses = ddp(**data, mode='loss')
                loss, _ = ddp.module.parse_losses(losses)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            trainable = [n for n, p in model.named_parameters() if p.requires_grad]
            assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
            assert 'backbone.cls_token' not in trainable  # frozen: unused without CLS
    finally:
        dist.destroy_process_group()


def test_head_is_exported():
    assert MODELS.get('ATMHead') is ATMHead


def test_under_autocast_losses_stay_fp32():
    head = build_head().train()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        losses = head.loss(features(2, 3, 5), samples(2, 48, 80), {})
        scores = head.eval().predict(features(1, 3, 5), [dict(img_shape=(48, 80))], {})
    assert all(v.dtype == torch.float32 for k, v in losses.items() if 'loss' in k)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert scores.shape == (1, C, 48, 80) and torch.isfinite(scores).all()


@pytest.mark.parametrize('align_corners', [False, True])
@pytest.mark.parametrize('sizes', [((4, 6), (64, 100)), ((5, 3), (37, 29)), ((8, 8), (4, 4))])
def test_blocked_prediction_equals_the_direct_rule(sizes, align_corners):
    """The row-blocked fast path is Σ_q softmax(Y)[q, c] σ(resize(M)[q]) exactly."""
    from mmseg.models.utils import resize

    from depict.models.decode_heads.atm_head import BaseATMHead, upsampled_class_scores
    (h, w), size = sizes
    cls_logits, mask_logits = torch.randn(2, 7, 6), 3 * torch.randn(2, 7, h, w)
    direct = BaseATMHead.class_scores(
        cls_logits, resize(mask_logits, size=size, mode='bilinear', align_corners=align_corners))
    blocked = upsampled_class_scores(cls_logits, mask_logits, size=size,
                                     align_corners=align_corners, block_elements=1000)
    torch.testing.assert_close(blocked, direct, atol=1e-6, rtol=1e-5)


def test_outputs_are_named():
    from depict.models.decode_heads.atm_head import ATMOutputs
    head = ATMHead(in_channels=16, channels=16, num_classes=3, num_heads=2, in_index=(0, 1, 2))
    head.train()
    out = head([torch.randn(1, 16, 2, 3) for _ in range(3)])
    assert isinstance(out, ATMOutputs) and len(out.cls_logits) == len(out.mask_logits) == 3
    assert out.cls_logits[-1].shape == (1, 3, 4) and out.mask_logits[-1].shape == (1, 3, 2, 3)


def test_query_self_attention_has_the_official_packed_xavier_init():
    """Official: nn.TransformerDecoderLayer.self_attn keeps xavier-uniform over its
    packed (3d, d) in_proj_weight; every nn.Linear gets trunc-normal 0.02
    (docs/protocols.md, parity line 17)."""
    torch.manual_seed(0)
    head = build_head(channels=64, num_layers=3)
    d = 64
    bound = (6 / (d + 3 * d)) ** 0.5  # xavier-uniform bound of a (3d, d) matrix
    layers = [m for m in head.decoder.modules() if type(m).__name__ == 'PostNormDecoderLayer']
    assert len(layers) == 3 * 3  # 3 stages x 3 layers
    for stage in layers:
        attn = stage.self_attn
        packed = torch.cat([attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight])
        assert packed.abs().max() <= bound
        assert abs(packed.std().item() - bound / 3 ** 0.5) < 0.05 * bound
        assert all(p.bias is None or not p.bias.any()
                   for p in (attn.q_proj, attn.k_proj, attn.v_proj))
        # The cross-attention and the output projection stay trunc-normal 0.02.
        assert abs(stage.cross_attn.q_proj.weight.std().item() - 0.02) < 0.004
        assert abs(attn.out_proj.weight.std().item() - 0.02) < 0.004
