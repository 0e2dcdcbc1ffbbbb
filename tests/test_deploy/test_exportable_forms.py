"""The size-generic forms the models use so that an exported graph holds for
every input size, each against the form it replaced (fast, no ONNX needed).

An exported graph (``torch.export``, ONNX) freezes every Python branch on an
input size at the export size. These were the branches: mmseg's patch padding
(``if pad > 0``), the ViT position embedding (``if grid != stored grid``),
Shrunk's query grid (same) and ATM's row-blocked class sum (a loop over
output rows). Each is now computed without the branch; here each new form is
shown equal to the old one.
"""
import pytest
import torch
import torch.nn.functional as F
from mmseg.models.backbones.vit import VisionTransformer
from mmseg.models.utils import resize
from mmseg.models.utils.embed import AdaptivePadding

from depict.models.backbones import FusedVisionTransformer
from depict.models.backbones.vit_base import SizeGenericPadding
from depict.models.decode_heads.atm_head import BaseATMHead, upsampled_class_scores
from depict.models.layers import QueryUpsampler


@pytest.mark.parametrize('padding', ['corner', 'same'])
@pytest.mark.parametrize('size', [(64, 64), (48, 80), (75, 53), (8, 9)])
def test_size_generic_padding_equals_mmseg(padding, size):
    stock = AdaptivePadding(kernel_size=8, stride=8, padding=padding)
    generic = AdaptivePadding(kernel_size=8, stride=8, padding=padding)
    generic.__class__ = SizeGenericPadding
    x = torch.randn(2, 3, *size)
    assert torch.equal(generic(x), stock(x))


@pytest.mark.parametrize('padding', ['corner', 'same'])
@pytest.mark.parametrize('kernel,stride,dilation', [(3, 4, 1), (7, 4, 1), (3, 2, 2), (2, 2, 1)])
@pytest.mark.parametrize('size', [(8, 9), (13, 5), (1, 3)])
def test_size_generic_padding_integer_form_equals_mmseg(padding, kernel, stride, dilation, size):
    """The integer ceiling division and the dropped ``max`` give mmseg's
    amounts for windows narrower than, as wide as and wider than the stride
    (the narrower one keeps the clamp at 0), dilated too, for mmcv's copy."""
    from mmcv.cnn.bricks.transformer import AdaptivePadding as MMCVAdaptivePadding

    from depict.models.backbones.vit_base import size_generic_padding_
    stock = MMCVAdaptivePadding(kernel_size=kernel, stride=stride, dilation=dilation,
                                padding=padding)
    generic = size_generic_padding_(torch.nn.Sequential(
        MMCVAdaptivePadding(kernel_size=kernel, stride=stride, dilation=dilation,
                            padding=padding)))[0]
    assert type(generic) is not MMCVAdaptivePadding
    x = torch.randn(1, 2, *size)
    assert torch.equal(generic(x), stock(x))


def test_fused_vit_swaps_in_size_generic_padding():
    vit = FusedVisionTransformer(img_size=(32, 32), patch_size=8, embed_dims=16, num_layers=1,
                                 num_heads=2)
    assert type(vit.patch_embed.adap_padding) is SizeGenericPadding


@pytest.mark.parametrize('mode', ['bicubic', 'bilinear'])
@pytest.mark.parametrize('size', [(64, 64), (48, 80), (75, 53)])
def test_vit_position_embedding_resized_always_equals_mmseg(mode, size):
    """The always-resized position embedding gives mmseg's tokens at the stored
    grid (identity resize) and elsewhere (the same resize as mmseg's branch)."""
    torch.manual_seed(0)
    kwargs = dict(img_size=(64, 64), patch_size=8, embed_dims=16, num_layers=1, num_heads=2,
                  interpolate_mode=mode, out_indices=(0, ), final_norm=True)
    # (mmseg's ViT.train() returns None: no chained .eval())
    ours, stock = FusedVisionTransformer(fused_attn=False, **kwargs), VisionTransformer(**kwargs)
    ours.eval()
    stock.eval()
    ours.pos_embed.data.normal_()
    stock.load_state_dict(ours.state_dict())
    x = torch.randn(1, 3, *size)
    with torch.no_grad():
        assert torch.equal(ours(x)[0], stock(x)[0])


def test_position_embedding_identity_resize_at_stored_grid():
    grid = torch.randn(1, 16, 8, 8)
    for mode in ('bicubic', 'bilinear'):
        assert torch.equal(resize(grid, size=(8, 8), mode=mode, align_corners=False), grid)


def test_query_grid_resized_always_equals_stored_grid_at_its_size():
    torch.manual_seed(0)
    upsampler = QueryUpsampler(embed_dims=16, num_stages=1, num_layers=1, num_heads=2,
                               ffn_channels=32, grid_size=(4, 6)).eval()
    grid = upsampler.grid
    assert torch.equal(resize(grid, size=(4, 6), mode='bicubic', align_corners=False), grid)


@pytest.mark.parametrize('align_corners', [False, True])
@pytest.mark.parametrize('size', [(64, 64), (75, 53), (9, 130)])
def test_atm_export_form_equals_row_blocks(monkeypatch, align_corners, size):
    """Under torch.export ATM's class sum runs in one block (the direct
    formula); it equals the row-blocked form and the plain definition."""
    torch.manual_seed(0)
    cls_logits, mask_logits = torch.randn(2, 5, 6), torch.randn(2, 5, 8, 7)
    blocked = upsampled_class_scores(cls_logits, mask_logits, size=size,
                                     align_corners=align_corners, block_elements=300)
    monkeypatch.setattr(torch.compiler, 'is_exporting', lambda: True)
    direct = upsampled_class_scores(cls_logits, mask_logits, size=size,
                                    align_corners=align_corners)
    plain = BaseATMHead.class_scores(
        cls_logits, F.interpolate(mask_logits, size=size, mode='bilinear',
                                  align_corners=align_corners))
    torch.testing.assert_close(direct, blocked, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(direct, plain, rtol=0, atol=0)


@pytest.mark.parametrize('size', [(64, 64), (75, 53), (40, 96)])
def test_size_generic_swin_equals_mmseg(size):
    """depict's Swin (padding always, window attention cropping always, batch
    inferred when windows merge) computes mmseg's Swin, shifted windows included."""
    from mmseg.models.backbones import SwinTransformer

    from depict.models.backbones import TwoPathwaySwinTransformer
    from depict.models.backbones.two_pathway_pyramid import SizeGenericShiftWindowMSA
    torch.manual_seed(0)
    kwargs = dict(embed_dims=16, depths=(2, 2, 2, 2), num_heads=(1, 2, 2, 4), window_size=2,
                  out_indices=(0, 1, 2, 3))
    ours = TwoPathwaySwinTransformer(with_local_pathway=False, **kwargs)
    stock = SwinTransformer(**kwargs)
    stock.load_state_dict(ours.state_dict())
    ours.eval()
    stock.eval()
    assert any(type(m) is SizeGenericShiftWindowMSA for m in ours.modules())
    x = torch.randn(2, 3, *size)
    with torch.no_grad():
        for mine, theirs in zip(ours(x), stock(x)):
            torch.testing.assert_close(mine, theirs, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('shift', [0, 3])
@pytest.mark.parametrize('hw_shape', [(7, 7), (13, 9), (3, 20), (14, 15)])
def test_size_generic_window_attention_equals_mmseg(shift, hw_shape):
    """One (shifted) window-attention module at Swin's window 7: the region
    mask from coordinates, the always-on padding / crop and the inferred batch
    give mmseg's output on grids smaller than, equal to and not a multiple of
    the window."""
    import copy

    from mmseg.models.backbones.swin import ShiftWindowMSA

    from depict.models.backbones.two_pathway_pyramid import SizeGenericShiftWindowMSA
    torch.manual_seed(0)
    stock = ShiftWindowMSA(embed_dims=8, num_heads=2, window_size=7, shift_size=shift).eval()
    # mmseg initialises the relative position bias to zero: make it matter.
    stock.w_msa.relative_position_bias_table.data.normal_()
    ours = copy.deepcopy(stock)
    ours.__class__ = SizeGenericShiftWindowMSA
    x = torch.randn(3, hw_shape[0] * hw_shape[1], 8)
    with torch.no_grad():
        torch.testing.assert_close(ours(x, hw_shape), stock(x, hw_shape), rtol=1e-6, atol=1e-6)
