"""depict.models.layers.class_masks: the shared mask product and output-size rule."""
import pytest
import torch
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from torch import nn

from depict.models.layers import class_masks, prediction_size


def test_class_masks_is_ln_of_cosine_similarities():
    patches, classes = torch.randn(2, 3 * 5, 8), torch.randn(2, 4, 8)
    norm = nn.LayerNorm(4)
    nn.init.normal_(norm.weight)
    nn.init.normal_(norm.bias)
    masks = class_masks(patches, classes, norm, (3, 5))
    assert masks.shape == (2, 4, 3, 5)
    # Spelled out: cosine similarity of every patch with every class, LN over
    # the classes, patch n = row n // 5, column n % 5.
    cosine = torch.nn.functional.cosine_similarity(patches[:, :, None], classes[:, None], dim=-1)
    expected = norm(cosine)  # (B, N, C)
    for n in range(15):
        torch.testing.assert_close(masks[:, :, n // 5, n % 5], expected[:, n])


def test_class_masks_rejects_a_grid_the_tokens_do_not_fill():
    with pytest.raises(ValueError, match='do not fill a 4x4 grid'):
        class_masks(torch.randn(1, 15, 8), torch.randn(1, 4, 8), nn.LayerNorm(4), (4, 4))


class _Resize(BaseDecodeHead):
    def forward(self, inputs):
        return inputs


@pytest.mark.parametrize('meta, size', [
    (dict(img_shape=torch.Size([48, 64]), pad_shape=(64, 64)), (48, 64)),  # slide window
    (dict(img_shape=(40, 60), pad_shape=(64, 64)), (64, 64)),  # padded batch
    (dict(img_shape=(40, 60)), (40, 60)),
])
def test_prediction_size_is_mmsegs_rule(meta, size):
    assert prediction_size([meta]) == size
    # What mmseg's own predict_by_feat resizes to.
    head = _Resize(in_channels=4, channels=4, num_classes=3)
    assert tuple(head.predict_by_feat(torch.randn(1, 3, 8, 8), [meta]).shape[-2:]) == size
