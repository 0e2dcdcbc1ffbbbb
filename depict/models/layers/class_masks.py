"""The mask product of mask-transformer decoders: ``M = LN_C(n(Z) n(E)ᵀ)``.

Segmenter (Strudel et al., ICCV 2021, Eq. 2) predicts one mask per class as the
scalar products of the ℓ2-normalised patch tokens Z (N×d) with the
ℓ2-normalised class embeddings E (C×d), normalised over the class axis by a
LayerNorm LN_C. DEPICT (Wen & Li, NeurIPS 2024, "masks") reads the same product
as the compact coordinates of the patches in the basis E; representation
separation (our reconstruction, docs/repsep.md) keeps Segmenter's. One function
serves all three; each head owns its LN_C (``mask_norm``).
"""
import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ['class_masks', 'prediction_size']


def class_masks(patches: Tensor, classes: Tensor, norm: nn.Module,
                grid_shape: tuple[int, int]) -> Tensor:
    """``M = LN_C(n(Z) n(E)ᵀ)`` as a (B, C, h, w) map.

    Args:
        patches: Z, (B, h*w, d) patch tokens, row-major over the grid.
        classes: E, (B, C, d) class embeddings.
        norm: LN_C, a LayerNorm over the C classes.
        grid_shape: (h, w) of the patch grid (never assumed square).

    Returns:
        Mask logits (B, C, h, w).
    """
    batch, num_classes = classes.shape[:2]
    h, w = grid_shape
    if patches.shape[1] != h * w:
        raise ValueError(f'{patches.shape[1]} patch tokens do not fill a {h}x{w} grid')
    patches = F.normalize(patches, dim=-1, p=2)
    classes = F.normalize(classes, dim=-1, p=2)
    masks = norm(torch.einsum('bnd,bcd->bnc', patches, classes))  # (B, h*w, C), LN over C
    # (B, h*w, C) -> (B, C, h*w) -> (B, C, h, w)
    return masks.transpose(1, 2).reshape(batch, num_classes, h, w)


def prediction_size(batch_img_metas: list[dict]) -> tuple[int, int]:
    """The (H, W) a decode head's prediction is resized to, mmseg's rule.

    mmseg's ``BaseDecodeHead.predict_by_feat`` uses the slide window's
    ``img_shape`` (a ``torch.Size``, set by ``slide_inference``), else the padded
    batch shape (``pad_shape``, falling back to ``img_shape``). Heads whose
    ``predict_by_feat`` does more than resize (ATM's full-resolution class sum)
    call this instead of repeating the rule.
    """
    meta = batch_img_metas[0]
    if isinstance(meta['img_shape'], torch.Size):
        return tuple(meta['img_shape'])
    return tuple(meta.get('pad_shape', meta['img_shape'])[:2])
