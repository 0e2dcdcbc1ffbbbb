"""The pure-PyTorch mmcv.ops fallbacks against their definitions."""
import sys

import pytest
import torch
import torch.nn.functional as F

from depict.compat.mmcv_ops import (mmcv_ops_are_fallback, point_sample,
                                   sigmoid_focal_loss)


def _bilinear_reference(feat: torch.Tensor, x: float, y: float) -> torch.Tensor:
    """Bilinear interpolation at pixel coordinates (x, y), zeros outside: the
    definition, written pixel by pixel."""
    _, height, width = feat.shape

    def pixel(yi: int, xi: int) -> torch.Tensor:
        if 0 <= yi < height and 0 <= xi < width:
            return feat[:, yi, xi]
        return torch.zeros(feat.shape[0], dtype=feat.dtype)

    x0, y0 = int(torch.floor(torch.tensor(x))), int(torch.floor(torch.tensor(y)))
    wx, wy = x - x0, y - y0
    return ((1 - wx) * (1 - wy) * pixel(y0, x0) + wx * (1 - wy) * pixel(y0, x0 + 1)
            + (1 - wx) * wy * pixel(y0 + 1, x0) + wx * wy * pixel(y0 + 1, x0 + 1))


@pytest.mark.parametrize('align_corners', [False, True])
def test_point_sample_matches_bilinear_definition(align_corners):
    feat = torch.randn(2, 3, 5, 7, dtype=torch.float64)
    points = torch.rand(2, 11, 2, dtype=torch.float64) * 1.2 - 0.1  # some outside
    out = point_sample(feat, points, align_corners=align_corners)
    assert out.shape == (2, 3, 11)
    height, width = feat.shape[-2:]
    for n in range(2):
        for p in range(11):
            px, py = points[n, p].tolist()
            if align_corners:
                x, y = px * (width - 1), py * (height - 1)
            else:  # normalised coordinates cover pixel edges: centres at k + 0.5
                x, y = px * width - 0.5, py * height - 0.5
            torch.testing.assert_close(out[:, :, p][n], _bilinear_reference(feat[n], x, y))


def test_point_sample_grid_input_and_gradient():
    feat = torch.randn(1, 2, 4, 6, dtype=torch.float64, requires_grad=True)
    grid = torch.rand(1, 3, 5, 2, dtype=torch.float64, requires_grad=True)
    assert point_sample(feat, grid).shape == (1, 2, 3, 5)
    # Away from pixel centres the sample is smooth in both inputs.
    grid_inner = (grid.detach() * 0.8 + 0.1).requires_grad_()
    assert torch.autograd.gradcheck(lambda f, g: point_sample(f, g), (feat, grid_inner))


def _focal_reference(logits, target, gamma, alpha, weight=None):
    """Eq. (5) of Lin et al. element by element, from probabilities."""
    num, classes = logits.shape
    loss = torch.zeros_like(logits)
    for n in range(num):
        for c in range(classes):
            p = torch.sigmoid(logits[n, c])
            if int(target[n]) == c:
                loss[n, c] = -alpha * (1 - p) ** gamma * torch.log(p)
            else:
                loss[n, c] = -(1 - alpha) * p ** gamma * torch.log(1 - p)
            if weight is not None:
                loss[n, c] = loss[n, c] * weight[target[n]]
    return loss


@pytest.mark.parametrize('reduction', ['none', 'mean', 'sum'])
def test_sigmoid_focal_loss_matches_definition(reduction):
    logits = torch.randn(6, 4, dtype=torch.float64) * 3
    target = torch.tensor([0, 3, 1, 4, 2, 4])  # 4 == num_classes: no positive
    ref = _focal_reference(logits, target, gamma=2.0, alpha=0.25)
    out = sigmoid_focal_loss(logits, target, 2.0, 0.25, None, reduction)
    expected = {'none': ref, 'mean': ref.sum() / 6, 'sum': ref.sum()}[reduction]
    torch.testing.assert_close(out, expected)


def test_sigmoid_focal_loss_weight_and_gradient():
    logits = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    target = torch.tensor([0, 1, 2, 1, 0])
    weight = torch.tensor([0.5, 2.0, 1.0], dtype=torch.float64)
    ref = _focal_reference(logits.detach(), target, 1.5, 0.4, weight)
    out = sigmoid_focal_loss(logits, target, 1.5, 0.4, weight, 'none')
    torch.testing.assert_close(out, ref)
    assert torch.autograd.gradcheck(
        lambda x: sigmoid_focal_loss(x, target, 2.0, 0.25, weight, 'mean'), (logits, ))
    # Gradient of the closed form equals autograd through the reference.
    x = logits.detach().clone().requires_grad_()
    _focal_reference(x, target, 2.0, 0.25, weight).sum().backward()
    y = logits.detach().clone().requires_grad_()
    sigmoid_focal_loss(y, target, 2.0, 0.25, weight, 'sum').backward()
    torch.testing.assert_close(y.grad, x.grad)


def test_sigmoid_focal_loss_is_stable_for_large_logits():
    logits = torch.tensor([[60.0, -60.0]], requires_grad=True)
    loss = sigmoid_focal_loss(logits, torch.tensor([1]), reduction='sum')
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()


@pytest.mark.skipif(not mmcv_ops_are_fallback(),
                    reason='the compiled mmcv is installed: the fallback is not in use')
def test_fallback_module_contract():
    import mmcv.ops
    from mmcv.ops import point_sample as ps
    assert ps is point_sample and mmcv.ops.sigmoid_focal_loss is sigmoid_focal_loss
    with pytest.raises(ModuleNotFoundError, match='PSAMask needs the compiled mmcv'):
        from mmcv.ops import PSAMask  # noqa: F401
    with pytest.raises(ModuleNotFoundError, match='multi_scale_deform_attn'):
        import mmcv.ops.multi_scale_deform_attn  # noqa: F401
    # mmseg's optional imports keep working: these modules import and fall back.
    from mmseg.models.decode_heads import psa_head  # noqa: F401
    from mmseg.models.losses import focal_loss
    assert focal_loss._sigmoid_focal_loss is sigmoid_focal_loss
    assert 'mmcv.ops' in sys.modules


def test_mmseg_focal_wrapper_agrees_with_its_python_version():
    """mmseg calls mmcv's op on GPU and its own PyTorch version on CPU; with
    the fallback both paths give the same loss."""
    from mmseg.models.losses.focal_loss import (py_sigmoid_focal_loss,
                                                sigmoid_focal_loss as mmseg_wrapper)
    pred = torch.randn(12, 5, dtype=torch.float64)
    target = torch.randint(0, 5, (12, ))
    one_hot = F.one_hot(target, 5).to(pred)
    ours = mmseg_wrapper(pred, target, one_hot, gamma=2.0, alpha=0.25)
    python = py_sigmoid_focal_loss(pred, one_hot, one_hot, gamma=2.0, alpha=0.25)
    torch.testing.assert_close(ours, python)
