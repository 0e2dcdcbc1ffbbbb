"""DEPICT-SA head: shapes, loss, gradients, the equations, prediction resizing,
bf16 accuracy, and the 1.08 M figure."""
import math

import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample


def build_head(**kwargs):
    cfg = dict(type='DepictSAHead', in_channels=32, num_classes=5, num_layers=2, num_heads=2,
               head_dims=8)
    cfg.update(kwargs)
    head = MODELS.build(cfg)
    head.init_weights()
    return head


def data_samples(batch, height, width, num_classes):
    samples = []
    for _ in range(batch):
        sample = SegDataSample(metainfo=dict(img_shape=(height, width), pad_shape=(height, width),
                                             ori_shape=(height, width)))
        label = torch.randint(0, num_classes, (1, height, width))
        label[:, :2] = 255  # some ignored pixels
        sample.gt_sem_seg = PixelData(data=label)
        samples.append(sample)
    return samples


@pytest.mark.parametrize('batch,h,w', [(1, 4, 4), (2, 3, 7), (2, 6, 5)])
def test_output_shape_square_and_non_square(batch, h, w):
    head = build_head().eval()
    out = head([torch.randn(batch, 32, h, w)])
    assert out.shape == (batch, 5, h, w)


def test_reads_selected_input_and_builds_no_classifier():
    head = build_head(in_index=1).eval()
    out = head([torch.randn(1, 32, 2, 2), torch.randn(1, 32, 3, 4)])
    assert out.shape == (1, 5, 3, 4)
    assert not hasattr(head, 'conv_seg')
    assert head.no_weight_decay() <= {n for n, _ in head.named_parameters()}


def test_loss_with_real_data_samples_and_every_parameter_gets_a_gradient():
    head = build_head().train()
    inputs = [torch.randn(2, 32, 6, 5)]  # a 48x40 image at stride 8
    losses = head.loss(inputs, data_samples(2, 48, 40, 5), dict())
    assert set(losses) >= {'loss_ce', 'acc_seg'} and torch.isfinite(losses['loss_ce'])
    losses['loss_ce'].backward()
    for name, param in head.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def bilinear_matrix(size_in, size_out):
    """(size_out, size_in) weights of 1-D bilinear resizing, half-pixel centres
    (``align_corners=False``), the edge sample repeated beyond the border."""
    weights = torch.zeros(size_out, size_in)
    for i in range(size_out):
        source = max((i + 0.5) * size_in / size_out - 0.5, 0.0)
        low = min(int(source), size_in - 1)
        high = min(low + 1, size_in - 1)
        weights[i, low] += 1 - (source - low)
        weights[i, high] += source - low
    return weights


def test_predict_upsamples_to_image_size():
    """predict = the masks of forward, bilinearly resized to the image (8x here)."""
    head = build_head().eval()
    metas = [dict(img_shape=(40, 56), pad_shape=(40, 56), ori_shape=(40, 56))]
    feats = torch.randn(1, 32, 5, 7)
    out = head.predict([feats], metas, dict(mode='whole'))
    assert out.shape == (1, 5, 40, 56)
    rows, cols = bilinear_matrix(5, 40), bilinear_matrix(7, 56)
    expected = rows @ head([feats]) @ cols.T  # (40, 5) (1, 5, 5, 7) (7, 56)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def explicit_sa_forward(head, feats):
    """The paper's DEPICT-SA equations, head by head, without SDPA."""
    b, d, h, w = feats.shape
    tokens = torch.cat([feats.flatten(2).transpose(1, 2), head.cls_emb.expand(b, -1, -1)], 1)
    for layer in head.layers:
        x = layer.norm(tokens)
        k, p = layer.attn.num_heads, layer.attn.head_dims
        update = 0
        for i in range(k):
            p_i = layer.attn.proj[i * p:(i + 1) * p]
            w_i = x @ p_i.T
            attn = torch.softmax(w_i @ w_i.transpose(1, 2) / math.sqrt(p), -1)
            update = update + attn @ w_i @ p_i
        tokens = tokens + layer.attn.eta * update
    tokens = head.decoder_norm(tokens)
    z, e = tokens[:, :h * w], tokens[:, h * w:]
    z = z / z.norm(dim=-1, keepdim=True)
    e = e / e.norm(dim=-1, keepdim=True)
    masks = head.mask_norm(z @ e.transpose(1, 2))  # (B, N, C)
    return masks.transpose(1, 2).reshape(b, -1, h, w)


def test_matches_explicit_equations():
    head = build_head().eval()
    feats = torch.randn(2, 32, 3, 5)
    torch.testing.assert_close(head([feats]), explicit_sa_forward(head, feats), atol=1e-5,
                               rtol=1e-4)


def test_zero_step_sizes_reduce_to_pca_of_backbone_tokens():
    """η = 0 in every layer: the masks are LN_C(n(LN(Z)) n(LN(E))ᵀ) of the inputs."""
    head = build_head().eval()
    with torch.no_grad():
        for layer in head.layers:
            layer.attn.eta.zero_()
    feats = torch.randn(1, 32, 4, 3)
    z = head.decoder_norm(feats.flatten(2).transpose(1, 2))
    e = head.decoder_norm(head.cls_emb)
    expected = head.mask_norm(torch.nn.functional.normalize(z, dim=-1)
                              @ torch.nn.functional.normalize(e, dim=-1).transpose(1, 2))
    torch.testing.assert_close(head([feats]), expected.transpose(1, 2).reshape(1, 5, 4, 3))


def test_works_under_autocast():
    """bf16 autocast gives the fp32 masks to bf16 precision (values of about 2,
    within 0.08: ten bf16 steps)."""
    head = build_head().eval()
    feats = torch.randn(1, 32, 3, 4)
    expected = head([feats])
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = head([feats])
    assert out.shape == (1, 5, 3, 4)
    torch.testing.assert_close(out.float(), expected, atol=0.08, rtol=0)


def test_bad_configuration_errors():
    with pytest.raises(ValueError, match='no input projection'):
        build_head(channels=16)
    with pytest.raises(ValueError, match='out_channels'):
        build_head(out_channels=1)
    with pytest.raises(ValueError, match=r'\(B, 32, h, w\)'):
        build_head()([torch.randn(1, 16, 3, 3)])


def test_official_vit_l_ade20k_parameter_count():
    """DEPICT-SA on ViT-L (d = 1024), 150 classes: 1.08 M parameters (official structure)."""
    head = MODELS.build(dict(type='DepictSAHead', in_channels=1024, num_classes=150))
    count = sum(p.numel() for p in head.parameters())
    # 3 x (P: 300x1024 + η + LN) + final LN + LN_C + E (150x1024)
    assert count == 3 * (300 * 1024 + 1 + 2 * 1024) + 2 * 1024 + 2 * 150 + 150 * 1024
    assert abs(count - 1.08e6) / 1.08e6 < 0.02


def test_default_attention_dropout_is_the_official_zero():
    # DEPICT's config.yml sets the decoder dropout to 0.0 (Segmenter's is 0.1):
    # in training mode the head is then deterministic, as the official one.
    head = build_head().train()
    assert all(layer.attn.attn_drop == 0.0 for layer in head.layers)
    x = torch.randn(2, 32, 4, 5)
    torch.testing.assert_close(head([x]), head([x]), rtol=0, atol=0)
