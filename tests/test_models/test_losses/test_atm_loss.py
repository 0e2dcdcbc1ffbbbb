"""ATMLoss against a hand-computed case, fixed assignment, fp32 under AMP, n all-reduced."""
import math

import pytest
import torch

from depict.models.losses import ATMLoss
from depict.models.losses import atm_loss as atm_loss_module

IGNORE = 255
# One image, two classes, 2x2 pixels; the bottom-right pixel is unlabelled.
LABEL = torch.tensor([[[0, 0], [1, IGNORE]]])
MASKS = torch.tensor([[[[1.0, -1.0], [0.0, 2.0]],     # query 0
                       [[-1.0, 0.0], [2.0, 1.0]]]])  # query 1
CLASSES = torch.tensor([[[2.0, 0.0, 0.0],            # query 0: class 0, class 1, no-object
                         [0.0, 1.0, 0.0]]])


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


def focal(x, t, alpha=0.25, gamma=2.0):
    p = sigmoid(x)
    positive = -alpha * t * (1 - p)**gamma * math.log(p)
    negative = -(1 - alpha) * (1 - t) * p**gamma * math.log(1 - p)
    return positive + negative


def dice(xs, ts):
    ps = [sigmoid(x) for x in xs]
    return 1 - (2 * sum(p * t for p, t in zip(ps, ts)) + 1) / (sum(ps) + sum(ts) + 1)


def neg_log_softmax(row, index):
    return -(row[index] - math.log(sum(math.exp(v) for v in row)))


def hand_losses(label, ignored_pixels_are_negatives=True):
    """The paper's loss written out pixel by pixel (no library code)."""
    pixels = [(0, 0), (0, 1), (1, 0), (1, 1)]
    label = label[0].tolist()
    present = [c for c in (0, 1) if any(label[i][j] == c for i, j in pixels)]
    num_masks = len(present)
    # CE: query c -> class c if present, else no-object (index 2, weight 0.1).
    targets = [c if c in present else 2 for c in (0, 1)]
    weights = [1.0 if t != 2 else 0.1 for t in targets]
    rows = CLASSES[0].tolist()
    ce = sum(w * neg_log_softmax(rows[q], t) for q, (t, w) in enumerate(zip(targets, weights)))
    ce /= sum(weights)
    focal_sum = dice_sum = 0.0
    for c in present:
        kept = [(i, j) for i, j in pixels
                if ignored_pixels_are_negatives or label[i][j] != IGNORE]
        xs = [MASKS[0, c, i, j].item() for i, j in kept]
        ts = [1.0 if label[i][j] == c else 0.0 for i, j in kept]
        focal_sum += sum(focal(x, t) for x, t in zip(xs, ts)) / len(kept)
        dice_sum += dice(xs, ts)
    return ce, 20 * focal_sum / num_masks, dice_sum / num_masks


@pytest.mark.parametrize('negatives', [True, False])
@pytest.mark.parametrize('label', [LABEL, torch.tensor([[[0, 0], [0, IGNORE]]])],
                         ids=['both-present', 'class1-absent'])
def test_matches_hand_computation(label, negatives):
    loss = ATMLoss(ignored_pixels_are_negatives=negatives)
    out = loss([CLASSES], [MASKS], label, ignore_index=IGNORE)
    ce, focal_term, dice_term = hand_losses(label, negatives)
    assert set(out) == {'loss_cls', 'loss_mask', 'loss_dice'}
    assert out['loss_cls'].item() == pytest.approx(ce, rel=1e-5)
    assert out['loss_mask'].item() == pytest.approx(focal_term, rel=1e-5)
    assert out['loss_dice'].item() == pytest.approx(dice_term, rel=1e-5)


def test_every_point_weighted_equally_and_named():
    loss = ATMLoss()
    out = loss([CLASSES, CLASSES * 0.5, CLASSES], [MASKS, MASKS * 2, MASKS], LABEL)
    assert set(out) == {f'{p}loss_{k}' for p in ('p0.', 'p1.', '') for k in ('cls', 'mask', 'dice')}
    for key in ('cls', 'mask', 'dice'):
        torch.testing.assert_close(out[f'p0.loss_{key}'], out[f'loss_{key}'])


def test_masks_upsampled_to_label_size():
    """Mask logits at 1/2 resolution are bilinearly upsampled to the label."""
    label = LABEL.repeat_interleave(2, 1).repeat_interleave(2, 2)  # (1, 4, 4)
    coarse = torch.randn(1, 2, 2, 2)
    out = ATMLoss()([CLASSES], [coarse], label)
    fine = torch.nn.functional.interpolate(coarse, size=(4, 4), mode='bilinear',
                                           align_corners=False)
    torch.testing.assert_close(out['loss_mask'], ATMLoss()([CLASSES], [fine], label)['loss_mask'])


def test_fixed_assignment():
    """Query c is trained on class c's mask only; absent classes' masks get no mask loss."""
    label = torch.tensor([[[0, 0], [0, IGNORE]]])  # class 1 absent
    masks = MASKS.clone().requires_grad_(True)
    out = ATMLoss()([CLASSES], [masks], label)
    (out['loss_mask'] + out['loss_dice']).backward()
    assert masks.grad[0, 0].abs().sum() > 0
    assert masks.grad[0, 1].abs().sum() == 0
    # Swapping two queries' masks changes the loss: no matching is searched.
    perfect = torch.tensor([[[[9.0, 9.0], [-9.0, -9.0]], [[-9.0, -9.0], [9.0, -9.0]]]])
    good = ATMLoss()([CLASSES], [perfect], LABEL)
    swapped = ATMLoss()([CLASSES], [perfect.flip(1)], LABEL)
    assert good['loss_mask'] < swapped['loss_mask'] and good['loss_dice'] < swapped['loss_dice']


def test_fp32_under_autocast():
    classes, masks = CLASSES.bfloat16(), MASKS.bfloat16()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = ATMLoss()([classes], [masks], LABEL)
    ref = ATMLoss()([classes.float()], [masks.float()], LABEL)
    for key, value in out.items():
        assert value.dtype == torch.float32
        torch.testing.assert_close(value, ref[key])


def test_num_masks_all_reduced(monkeypatch):
    """n is averaged over processes: if the others had more masks, terms shrink."""
    calls = []

    def fake_all_reduce(tensor, op='sum'):
        calls.append(op)
        tensor.mul_(2.0)  # as if the mean over processes were twice ours

    monkeypatch.setattr(atm_loss_module, 'all_reduce', fake_all_reduce)
    out = ATMLoss()([CLASSES], [MASKS], LABEL)
    monkeypatch.undo()
    ref = ATMLoss()([CLASSES], [MASKS], LABEL)
    assert calls == ['mean']
    torch.testing.assert_close(out['loss_mask'], ref['loss_mask'] / 2)
    torch.testing.assert_close(out['loss_dice'], ref['loss_dice'] / 2)
    torch.testing.assert_close(out['loss_cls'], ref['loss_cls'])


def test_no_present_class_gives_zero_mask_losses_in_graph():
    masks = MASKS.clone().requires_grad_(True)
    out = ATMLoss()([CLASSES], [masks], torch.full((1, 2, 2), IGNORE))
    assert out['loss_mask'].item() == 0 and out['loss_dice'].item() == 0
    sum(out.values()).backward()
    assert masks.grad is not None


def test_bad_inputs_are_explained():
    with pytest.raises(ValueError, match='num_classes'):
        ATMLoss()([CLASSES], [MASKS], torch.tensor([[[0, 5], [1, 1]]]))
    with pytest.raises(ValueError, match=r'\(B, C, C\+1\)'):
        ATMLoss()([CLASSES[..., :2]], [MASKS], LABEL)
