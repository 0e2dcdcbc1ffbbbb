"""ShrunkVisionTransformer: QD is the pretrained block with subsampled queries."""
import pytest
import torch
from mmseg.models.backbones import VisionTransformer

from depict.models.backbones import ShrunkVisionTransformer

TINY = dict(img_size=(64, 64), patch_size=16, embed_dims=32, num_layers=4, num_heads=2,
            mlp_ratio=2)


def build_pair(with_cls_token, **extra):
    plain = VisionTransformer(**TINY, out_indices=(1, 2, 3), with_cls_token=with_cls_token)
    plain.init_weights()
    shrunk = ShrunkVisionTransformer(**TINY, shrink_index=2, out_indices=(1, 2, 3),
                                     with_cls_token=with_cls_token, **extra)
    shrunk.load_state_dict(plain.state_dict(), strict=True)  # same parameters
    plain.eval()
    shrunk.eval()
    return plain, shrunk


@pytest.mark.parametrize('with_cls_token', [True, False])
@pytest.mark.parametrize('size', [(64, 64), (48, 80), (80, 112), (40, 72)])
def test_qd_is_the_block_subsampled(with_cls_token, size):
    """Before QD the maps equal mmseg's ViT; at the QD block they equal its output
    at every other row and column (odd grids keep their last row / column)."""
    plain, shrunk = build_pair(with_cls_token)
    x = torch.randn(2, 3, *size)
    with torch.no_grad():
        before, at_qd, after = shrunk(x)
        ref_before, ref_at_qd, _ = plain(x)
    h, w = -(-size[0] // 16), -(-size[1] // 16)
    assert before.shape == (2, 32, h, w)
    assert at_qd.shape == after.shape == (2, 32, (h + 1) // 2, (w + 1) // 2)
    torch.testing.assert_close(before, ref_before)
    torch.testing.assert_close(at_qd, ref_at_qd[:, :, ::2, ::2], atol=1e-5, rtol=1e-5)


def test_pretrained_vit_checkpoint_loads(tmp_path):
    plain = VisionTransformer(**TINY, with_cls_token=False)
    plain.init_weights()
    path = tmp_path / 'vit.pth'
    torch.save(plain.state_dict(), path)
    shrunk = ShrunkVisionTransformer(**TINY, shrink_index=1, with_cls_token=False,
                                     init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    shrunk.init_weights()
    for (name, ours), theirs in zip(shrunk.state_dict().items(), plain.state_dict().values()):
        torch.testing.assert_close(ours, theirs, msg=name)


@pytest.mark.parametrize('with_cls_token', [True, False])
def test_every_trainable_parameter_gets_a_gradient(with_cls_token):
    model = ShrunkVisionTransformer(**TINY, shrink_index=1, out_indices=(0, 3),
                                    with_cls_token=with_cls_token, final_norm=True)
    sum(out.square().mean() for out in model(torch.randn(1, 3, 48, 80))).backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing
    # Without CLS token the (unused) cls_token is frozen, so DDP has nothing unused.
    assert model.cls_token.requires_grad == with_cls_token


def test_checkpointing_gives_the_same_result():
    _, shrunk = build_pair(False)
    _, shrunk_cp = build_pair(False, with_cp=True)
    shrunk_cp.load_state_dict(shrunk.state_dict())
    x = torch.randn(1, 3, 48, 80, requires_grad=True)
    for a, b in zip(shrunk(x), shrunk_cp(x)):
        torch.testing.assert_close(a, b)


def test_bad_shrink_index_is_explained():
    with pytest.raises(ValueError, match='shrink_index'):
        ShrunkVisionTransformer(**TINY, shrink_index=4)
