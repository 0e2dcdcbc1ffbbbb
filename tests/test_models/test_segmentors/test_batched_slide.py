"""Batched sliding-window inference equals mmseg's window-by-window loop."""
import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from depict.models.segmentors import slide_windows


def _segmentor(windows_per_batch: int, crop=(48, 48), stride=(32, 32)):
    init_default_scope('mmseg')
    cfg = ConfigDict(
        type='BatchedSlideEncoderDecoder',
        data_preprocessor=dict(type='SegDataPreProcessor', mean=[127.5] * 3, std=[127.5] * 3),
        backbone=dict(type='VisionTransformer', img_size=crop, patch_size=8, embed_dims=32,
                      num_layers=1, num_heads=2, final_norm=True, with_cls_token=True),
        decode_head=dict(type='SegmenterMaskTransformerHead', in_channels=32, channels=32,
                         embed_dims=32, num_layers=1, num_heads=2, num_classes=5),
        test_cfg=dict(mode='slide', crop_size=crop, stride=stride,
                      windows_per_batch=windows_per_batch))
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    return model.eval()


@pytest.mark.parametrize('shape', [(64, 150), (40, 100), (48, 48), (30, 40)])
@pytest.mark.parametrize('windows_per_batch', [2, 64])
def test_batched_equals_mmseg_loop(shape, windows_per_batch):
    reference, batched = _segmentor(1), _segmentor(windows_per_batch)
    batched.load_state_dict(reference.state_dict())
    images = torch.randn(2, 3, *shape)
    metas = [dict(img_shape=shape, ori_shape=shape, pad_shape=shape) for _ in range(2)]
    with torch.no_grad():
        expected = reference.slide_inference(images, [dict(m) for m in metas])
        got = batched.slide_inference(images, [dict(m) for m in metas])
    assert got.shape == (2, 5, *shape)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_windows_cover_the_image_with_equal_sizes():
    windows = slide_windows(100, 230, (48, 64), (32, 40))
    sizes = {(y2 - y1, x2 - x1) for y1, y2, x1, x2 in windows}
    assert sizes == {(48, 64)}
    covered = torch.zeros(100, 230)
    for y1, y2, x1, x2 in windows:
        covered[y1:y2, x1:x2] += 1
    assert (covered > 0).all()
    # An image smaller than the crop: one unpadded, non-square window.
    assert slide_windows(30, 40, (48, 48), (32, 32)) == [(0, 30, 0, 40)]



def _padded_reference(model, images, multiple=8):
    """Segmenter's forward: zero-pad to a multiple of the patch, logits at the padded
    size, crop."""
    h, w = images.shape[-2:]
    ph, pw = -(-h // multiple) * multiple, -(-w // multiple) * multiple
    padded = torch.nn.functional.pad(images, (0, pw - w, 0, ph - h))
    test_cfg = model.test_cfg
    model.test_cfg = ConfigDict(mode='whole')
    logits = model.encode_decode(padded, [dict(img_shape=(ph, pw))])[:, :, :h, :w]
    model.test_cfg = test_cfg
    return logits


@pytest.mark.parametrize('mode, shape', [
    ('whole', (37, 45)),
    ('slide', (21, 29)),  # smaller than the 32x32 window: one window, not a multiple of 8
])
def test_pad_to_patch_is_the_official_convention(mode, shape):
    model = _segmentor(1, crop=(32, 32), stride=(24, 24))
    model.test_cfg['mode'] = mode
    images = torch.randn(1, 3, *shape)
    metas = [dict(img_shape=shape, ori_shape=shape, pad_shape=shape)]
    with torch.no_grad():
        mmseg_way = model.inference(images, [dict(m) for m in metas])
        model.test_cfg['pad_to_patch'] = 8
        official = model.inference(images, [dict(m) for m in metas])
        reference = _padded_reference(model, images)
    assert official.shape == mmseg_way.shape == (1, 5, *shape)
    torch.testing.assert_close(official, reference, atol=1e-5, rtol=1e-5)
    assert (official - mmseg_way).abs().max() > 1e-3  # the convention changes the output


def test_pad_to_patch_changes_nothing_on_aligned_windows():
    """Windows that are multiples of the patch (every slide window of a large image)."""
    model = _segmentor(1, crop=(32, 32), stride=(24, 24))
    images = torch.randn(1, 3, 50, 70)
    metas = [dict(img_shape=(50, 70), ori_shape=(50, 70), pad_shape=(50, 70))]
    with torch.no_grad():
        mmseg_way = model.inference(images, [dict(m) for m in metas])
        model.test_cfg['pad_to_patch'] = 8
        model.test_cfg['windows_per_batch'] = 4
        official = model.inference(images, [dict(m) for m in metas])
    torch.testing.assert_close(official, mmseg_way, atol=1e-6, rtol=1e-6)
