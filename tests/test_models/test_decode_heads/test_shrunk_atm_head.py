"""ShrunkATMHead: query-based upsampling + single-stage ATM; any input size."""
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from depict.models.decode_heads import ShrunkATMHead

C = 4


def build_head(**overrides):
    cfg = dict(type='ShrunkATMHead', in_channels=[24, 40], channels=32, num_classes=C,
               num_heads=4, num_layers=3, query_grid=(4, 4))
    cfg.update(overrides)
    head = MODELS.build(cfg)
    head.init_weights()
    return head


def features(batch, h, w):
    """(early at 1/16, late at 1/32) as the Shrunk ViT gives them."""
    return [torch.randn(batch, 24, h, w), torch.randn(batch, 40, (h + 1) // 2, (w + 1) // 2)]


@pytest.mark.parametrize('hw', [(4, 4), (3, 5), (5, 2), (7, 9)])
def test_shapes_every_layer_predicts(hw):
    head = build_head().train()
    cls_logits, mask_logits = head(features(2, *hw))
    assert len(cls_logits) == len(mask_logits) == 3  # one per ATM layer
    assert all(c.shape == (2, C, C + 1) for c in cls_logits)
    assert all(m.shape == (2, C, *hw) for m in mask_logits)  # at the 1/16 grid
    head.eval()
    with torch.no_grad():
        assert [m.shape for m in head(features(2, *hw))[1]] == [(2, C, *hw)]  # final only
    img = torch.Size((hw[0] * 16 - 5, hw[1] * 16 - 3))
    out = head.predict(features(2, *hw), [dict(img_shape=img)] * 2, {})
    assert out.shape == (2, C, *img)


def test_query_grid_resized_like_position_embeddings():
    head = build_head().eval()
    seen = []
    head.decoder.register_forward_hook(lambda m, args, out: seen.append(args[0][0].shape))
    with torch.no_grad():
        head(features(1, 3, 5))
        head(features(1, 4, 4))  # the stored grid size: used as it is
    assert seen == [(1, 32, 3, 5), (1, 32, 4, 4)]
    with pytest.raises(ValueError, match='grid_size'):
        build_head(query_grid=(4, ))


def test_masks_do_not_accumulate_and_only_atm_layers_give_logits():
    head = build_head(dropout=0.0, attn_drop=0.0).train()
    logits = []
    for layer in head.decoder.stages[0]:
        layer.cross_attn.register_forward_hook(
            lambda m, args, out: logits.append(out[1]) if isinstance(out, tuple) else None)
    qu_logits = []
    for layers in head.upsampler.stages:
        for layer in layers:
            layer.cross_attn.register_forward_hook(
                lambda m, args, out: qu_logits.append(isinstance(out, tuple)))
    with torch.no_grad():
        _, mask_logits = head(features(2, 3, 5))
    assert len(logits) == 3 and not any(qu_logits) and len(qu_logits) == 6
    for masks, layer_logits in zip(mask_logits, logits):
        torch.testing.assert_close(masks, layer_logits.mean(1).reshape(2, C, 3, 5))
    logits.clear()
    with torch.no_grad():
        head.eval()(features(2, 3, 5))
    assert len(logits) == 1  # inference: only the last layer's logits are explicit


def test_loss_and_every_parameter_gets_a_gradient():
    head = build_head().train()
    batch_samples = []
    for _ in range(2):
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=torch.randint(0, C, (1, 48, 80)))
        batch_samples.append(sample)
    losses = head.loss(features(2, 3, 5), batch_samples, {})
    assert {'p0.loss_mask', 'p1.loss_dice', 'loss_cls', 'acc_seg'} <= set(losses)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    missing = [n for n, p in head.named_parameters() if p.grad is None]
    assert not missing, missing
    assert head.upsampler.grid.grad.abs().sum() > 0
    assert not hasattr(head, 'conv_seg')


def test_with_shrunk_backbone_end_to_end():
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')
    model = MODELS.build(dict(
        type='EncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[127.5] * 3, std=[127.5] * 3),
        backbone=dict(type='ShrunkVisionTransformer', img_size=(64, 64), patch_size=16,
                      embed_dims=32, num_layers=4, num_heads=2, out_indices=(1, 3),
                      shrink_index=2, with_cls_token=False, final_norm=False),
        decode_head=dict(type='ShrunkATMHead', in_channels=32, channels=32, num_classes=C,
                         num_heads=4, num_layers=1, query_grid=(4, 4)),
        test_cfg=dict(mode='whole')))
    model.init_weights()
    model.eval()
    with torch.no_grad():
        logits = model(torch.randn(1, 3, 48, 80), mode='tensor')
    assert [m.shape for m in logits[1]] == [(1, C, 3, 5)]
    assert MODELS.get('ShrunkATMHead') is ShrunkATMHead


def test_init_matches_the_official_torch_decoder_layers():
    """The official QU is plain ``nn.TransformerDecoderLayer``s: their self- AND
    cross-attention keep PyTorch's xavier-uniform packed in-projection; the ATM
    decoder's self-attention too; its cross-attention and every other linear are
    trunc-normal 0.02 (``tpn_atm_head.py``; docs/protocols.md, parity line 17)."""
    torch.manual_seed(0)
    d = 64
    head = build_head(channels=d, num_layers=3)
    official = torch.nn.TransformerDecoderLayer(d_model=d, nhead=4)  # what the QU is built of
    bound = (6 / (d + 3 * d)) ** 0.5
    assert official.multihead_attn.in_proj_weight.abs().max() <= bound

    def packed(attn):
        return torch.cat([attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight])

    qu_layers = [m for m in head.upsampler.modules() if type(m).__name__ == 'PostNormDecoderLayer']
    atm_layers = [m for m in head.decoder.modules() if type(m).__name__ == 'PostNormDecoderLayer']
    assert len(qu_layers) == 2 * 3 and len(atm_layers) == 3
    xavier = [a for layer in qu_layers for a in (layer.self_attn, layer.cross_attn)]
    xavier += [layer.self_attn for layer in atm_layers]
    for attn in xavier:
        weight = packed(attn)
        assert weight.abs().max() <= bound
        assert abs(weight.std().item() - bound / 3 ** 0.5) < 0.05 * bound
        official_std = official.multihead_attn.in_proj_weight.std().item()
        assert abs(weight.std().item() - official_std) < 0.1 * bound
        assert all(not p.bias.any() for p in (attn.q_proj, attn.k_proj, attn.v_proj))
    for layer in atm_layers:  # the official ``Attention``: nn.Linear q / k / v
        assert abs(packed(layer.cross_attn).std().item() - 0.02) < 0.002
    for attn in xavier:  # out_proj is an nn.Linear in PyTorch's attention as well
        assert abs(attn.out_proj.weight.std().item() - 0.02) < 0.002
