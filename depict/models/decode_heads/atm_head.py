"""SegViT's Attention-to-Mask (ATM) decoder (Zhang et al., NeurIPS 2022,
arXiv 2210.05844), in mmseg 1.x idioms.

Paper ↔ code:

* Laterals ``F_s = LN(Linear(X_s))`` of three ViT layers, deepest first
  (:class:`Lateral`, :meth:`ATMHead.forward`).
* One learnable query per class, carried across stages; per stage three
  post-norm decoder layers (query self-attention, cross-attention to ``F_s``,
  FFN) (:class:`ATMDecoder`, :class:`~depict.models.layers.PostNormDecoderLayer`).
* Attention-to-Mask: the stage's mask logits are the head-averaged
  ``q kᵀ / √d_head`` of its last cross-attention, ``S_s`` (B, C, h, w); masks
  accumulate over stages, ``M_s = Σ_{j≤s} S_j`` (:meth:`ATMDecoder.forward`).
* A shared class head Linear(width → C+1) on each stage's queries.
* Inference: ``P[c] = Σ_q softmax(Y)[q, c] · σ(↑M_S[q])`` with the no-object
  column dropped (:meth:`BaseATMHead.predict_by_feat`).
* Loss (:class:`~depict.models.losses.ATMLoss`): per stage, CE + 20·focal + dice
  with the fixed assignment query c ↔ class c.

Unlike the official code the head never reshapes with √N (it reads each
feature map's own h×w), has no image size (masks are upsampled to the size of
the image or slide window that mmseg hands it) and registers through the
package, so it works on non-square inputs and unpadded slide edge crops.
"""
from typing import Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model.weight_init import trunc_normal_
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.losses import accuracy
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, SampleList
from torch import Tensor, nn

from ..layers import (ATMDecoder, ATMOutputs, Lateral, MultiheadAttention, PostNormDecoderLayer,
                      init_like_torch_mha_, prediction_size)
from .widths import atm_widths

__all__ = ['Lateral', 'ATMDecoder', 'ATMOutputs', 'BaseATMHead', 'ATMHead',
           'upsampled_class_scores']

SCORES = ('prob', 'log_prob')


def _interpolation_matrix(size_in: int, size_out: int, *, align_corners: bool,
                          like: Tensor) -> Tensor:
    """(size_out, size_in) weights of 1-d linear resizing, exactly those of
    ``F.interpolate(mode='linear')`` (no antialiasing); two taps per row."""
    eye = torch.eye(size_in, dtype=like.dtype, device=like.device)
    # (size_in, 1, size_in) -> (size_in, 1, size_out): row j is the resized e_j.
    return F.interpolate(eye[:, None], size=size_out, mode='linear',
                         align_corners=align_corners)[:, 0].t()


def upsampled_class_scores(cls_logits: Tensor, mask_logits: Tensor, *,
                           size: tuple[int, int], align_corners: bool = False,
                           block_elements: int = 2**20) -> Tensor:
    """``P[b, c] = Σ_q softmax(Y[b, q])[c] · σ(↑M[b, q])`` at ``size``.

    The same value as ``class_scores(cls_logits, resize(mask_logits, size))``,
    computed without materialising the (B, Q, H, W) upsampled masks and their
    sigmoid: bilinear resizing is separable, so the mask logits are resized
    along the width once, then along the height block by block of output rows
    (a product with the few rows of the interpolation matrix that reach the
    block), passed through the sigmoid and summed over queries. A block holds
    about ``block_elements`` values, so the work stays in reusable buffers
    instead of several full-resolution tensors (for 150 classes at 512² each
    of those is 315 MB). Under ``torch.export`` (ONNX export) it is computed in
    one block, the direct formula, so that the graph holds for every size.

    Args:
        cls_logits: (B, Q, C+1) class logits (no-object last).
        mask_logits: (B, Q, h, w) mask logits.
        size: Output (H, W).
        align_corners: As in ``F.interpolate``.
        block_elements: Values per block of upsampled masks.

    Returns:
        (B, C, H, W) scores.
    """
    height, width = size
    batch, queries, h, _ = mask_logits.shape
    class_probs = cls_logits.softmax(dim=-1)[..., :-1]  # (B, Q, C)
    if torch.compiler.is_exporting():
        # One block, the direct formula: the row blocks below are a loop whose
        # trip count and bounds depend on the size (and on a nonzero), which an
        # exported graph (torch.export / ONNX) would freeze at the export size.
        # The same value (tests/test_deploy/test_exportable_forms.py).
        upsampled = F.interpolate(mask_logits, size=(height, width), mode='bilinear',
                                  align_corners=align_corners)
        # Σ_q: (B, Q, C) x (B, Q, H, W) -> (B, C, H, W)
        return torch.einsum('bqc,bqhw->bchw', class_probs, upsampled.sigmoid())
    # Along the width first: (B, Q, h, w) -> (B, Q, h, W).
    wide = F.interpolate(mask_logits, size=(h, width), mode='bilinear',
                         align_corners=align_corners)
    rows = _interpolation_matrix(h, height, align_corners=align_corners, like=mask_logits)
    taps = rows.nonzero()[:, 1]  # source rows with a weight, in output-row order
    taps_per_row = (rows != 0).sum(dim=1).cumsum(0)
    scores = mask_logits.new_empty(batch, class_probs.shape[-1], height, width)
    weights = class_probs.transpose(1, 2)  # (B, Q, C) -> (B, C, Q)
    step = max(1, block_elements // (batch * queries * width))
    for start in range(0, height, step):
        stop = min(start + step, height)
        # The few source rows these output rows read (two per row, shared).
        first = int(taps[taps_per_row[start - 1] if start else 0])
        last = int(taps[taps_per_row[stop - 1] - 1]) + 1
        # (r, k) x (B, Q, k, W) -> (B, Q, r, W): these output rows of ↑M, then σ.
        block = torch.einsum('rk,bqkw->bqrw', rows[start:stop, first:last],
                             wide[:, :, first:last]).sigmoid_()
        # Σ_q: (B, C, Q) @ (B, Q, r·W) -> (B, C, r·W) -> (B, C, r, W)
        scores[:, :, start:stop] = (weights @ block.flatten(2)).unflatten(2, block.shape[2:])
    return scores


class BaseATMHead(BaseDecodeHead):
    """What every ATM-style head shares: the loss and the prediction rule.

    Subclasses build their modules and implement :meth:`forward`, which returns
    ``(cls_logits, mask_logits)``: lists with one entry per prediction point,
    (B, C, C+1) and (B, C, h, w), the last being the final prediction (in eval
    mode only the final one is computed).

    Scores handed to mmseg (:meth:`predict_by_feat`): with ``scores='prob'``
    (default) the per-class scores ``P[c] = Σ_q softmax(Y)[q, c] · σ(↑M[q])``;
    with ``'log_prob'`` their logarithm. Either way the single-scale arg max is
    that of P. They differ in how mmseg combines windows and views:

    * slide windows are averaged, and predictions resized to the original
      image, in the returned space: arithmetic in P ('prob', as the official
      code) or geometric ('log_prob');
    * ``SegTTAModel`` (multi-scale + flip) averages ``softmax`` of the returned
      scores over views: ``softmax(P)``, exactly what mmseg 0.x's
      ``inference``, and thus the paper's ms numbers, applied ('prob'), or
      ``P / Σ_c P``, normalised per-class probabilities ('log_prob').

    'prob' keeps ss and ms on the authors' protocol (docs/segvit.md has the
    measured comparison).

    Args:
        in_channels: Width of each selected backbone output, or one width for
            all of them.
        in_index: Which backbone outputs to read (``'multiple_select'``).
        scores: ``'prob'`` or ``'log_prob'``, see above.
        **kwargs: :class:`mmseg.models.decode_heads.decode_head.BaseDecodeHead`
            arguments.
    """

    def __init__(self, *, in_channels: Union[int, Sequence[int]], in_index: Sequence[int],
                 scores: str = 'prob', **kwargs) -> None:
        if scores not in SCORES:
            raise ValueError(f'scores must be one of {SCORES}, got {scores!r}')
        in_index = list(in_index)
        if isinstance(in_channels, int):
            # One width for every selected ViT layer.
            in_channels = [in_channels] * len(in_index)
        super().__init__(in_channels=list(in_channels), in_index=in_index,
                         input_transform='multiple_select', dropout_ratio=0.0, **kwargs)
        # The ATM prediction replaces mmseg's 1x1 classifier: drop it so DDP
        # sees no unused parameters.
        del self.conv_seg
        self.scores = scores

    def init_weights(self) -> None:
        """Truncated-normal (std .02) linear weights, zero biases, unit LNs, as
        the official heads; embeddings keep PyTorch's N(0, 1).

        The exceptions are the attentions that the official heads build from
        ``nn.TransformerDecoderLayer``: their packed ``in_proj_weight`` is not an
        ``nn.Linear``, so it keeps PyTorch's xavier-uniform init
        (:func:`~depict.models.layers.init_like_torch_mha_`; docs/protocols.md,
        parity line 17). Here that is the ATM decoder's query self-attention
        (:meth:`torch_initialised_attentions`).
        """
        for module in self.modules():
            if isinstance(module, nn.Linear):
                trunc_normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        for attn in self.torch_initialised_attentions():
            init_like_torch_mha_(attn)

    def torch_initialised_attentions(self) -> list[MultiheadAttention]:
        """Attentions that are ``nn.MultiheadAttention`` in the official head.

        The ATM decoder's query self-attention (``TPN_DecoderLayer.self_attn``);
        its cross-attention is the official ``Attention``, made of ``nn.Linear``.
        """
        return [module.self_attn for module in self.decoder.modules()
                if isinstance(module, PostNormDecoderLayer)]

    @staticmethod
    def class_scores(cls_logits: Tensor, mask_logits: Tensor) -> Tensor:
        """``P[b, c] = Σ_q softmax(Y[b, q])[c] · σ(M[b, q])``, no-object dropped.

        Args:
            cls_logits: (B, Q, C+1).
            mask_logits: (B, Q, H, W).

        Returns:
            Scores (B, C, H, W) in [0, Q].
        """
        class_probs = cls_logits.softmax(dim=-1)[..., :-1]  # (B, Q, C)
        return torch.einsum('bqc,bqhw->bchw', class_probs, mask_logits.sigmoid())

    def loss_by_feat(self, seg_logits: ATMOutputs, batch_data_samples: SampleList) -> dict:
        """ATM losses of every prediction point, plus ``acc_seg``.

        Args:
            seg_logits: ``(cls_logits, mask_logits)`` from :meth:`forward`.
            batch_data_samples: Samples with ``gt_sem_seg``.
        """
        cls_logits, mask_logits = seg_logits
        seg_label = self._stack_batch_gt(batch_data_samples).squeeze(1)  # (B, 1, H, W) -> (B, H, W)
        losses = self.loss_decode(cls_logits, mask_logits, seg_label,
                                  ignore_index=self.ignore_index)
        with torch.no_grad():
            # A training-log metric: scores at mask resolution, then upsampled
            # (cheaper than the full-resolution rule of predict_by_feat).
            scores = self.class_scores(cls_logits[-1].float(), mask_logits[-1].float())
            scores = resize(scores, size=seg_label.shape[-2:], mode='bilinear',
                            align_corners=self.align_corners)
            losses['acc_seg'] = accuracy(scores, seg_label, ignore_index=self.ignore_index)
        return losses

    def predict_by_feat(self, seg_logits: ATMOutputs, batch_img_metas: list[dict]) -> Tensor:
        """Per-class scores at the input (or slide window) size.

        As the official code, the final mask logits are upsampled before the
        sigmoid, and the class-weighted sum runs at that resolution
        (:func:`upsampled_class_scores` computes it in row blocks).

        Returns:
            (B, C, H, W): P, or log P with ``scores='log_prob'``.
        """
        cls_logits, mask_logits = seg_logits
        scores = upsampled_class_scores(cls_logits[-1], mask_logits[-1],
                                        size=prediction_size(batch_img_metas),
                                        align_corners=self.align_corners)
        if self.scores == 'log_prob':
            scores = scores.clamp(min=torch.finfo(scores.dtype).tiny).log()
        return scores


@MODELS.register_module()
class ATMHead(BaseATMHead):
    """SegViT's ATM decoder on several ViT layers (see the module docstring).

    Args:
        in_channels: Channels of the selected backbone outputs (one int for all).
        channels: Decoder width; default half the backbone width (512 for
            ViT-L, 384 for ViT-B, as the official configs).
        num_classes: C.
        in_index: Which backbone outputs to read, shallow to deep; the stages
            run deepest first.
        num_layers: Decoder layers per stage (3).
        num_heads: Attention heads; default ``channels // 32`` (16 for ViT-L,
            12 for ViT-B, as the official configs).
        ffn_ratio: FFN width / ``channels`` (4: 2048 at width 512).
        dropout: Residual / FFN dropout (0.1, PyTorch's decoder default).
        attn_drop: Attention-weight dropout (0.1).
        scores: ``'prob'`` or ``'log_prob'``, see :class:`BaseATMHead`.
        loss_decode: The loss config (:class:`~depict.models.losses.ATMLoss`).
        **kwargs: Other :class:`BaseDecodeHead` arguments (``ignore_index``,
            ``align_corners``, ...).
    """

    def __init__(self, *, in_channels: Union[int, Sequence[int]], num_classes: int,
                 channels: Optional[int] = None, in_index: Sequence[int] = (0, 1, 2),
                 num_layers: int = 3, num_heads: Optional[int] = None, ffn_ratio: int = 4,
                 dropout: float = 0.1, attn_drop: float = 0.1, scores: str = 'prob',
                 loss_decode: ConfigType = dict(type='ATMLoss'),
                 init_cfg: Optional[ConfigType] = None, **kwargs) -> None:
        channels, num_heads = atm_widths(in_channels, channels, num_heads)
        super().__init__(in_channels=in_channels, channels=channels, num_classes=num_classes,
                         in_index=in_index, loss_decode=loss_decode, init_cfg=init_cfg,
                         scores=scores, **kwargs)
        # Deepest first: lateral s reads in_index[-1 - s].
        self.laterals = nn.ModuleList(Lateral(c, channels) for c in reversed(self.in_channels))
        self.decoder = ATMDecoder(
            num_classes=num_classes, embed_dims=channels, num_stages=len(in_index),
            num_layers=num_layers, num_heads=num_heads, ffn_channels=ffn_ratio * channels,
            dropout=dropout, attn_drop=attn_drop)

    def forward(self, inputs: Sequence[Tensor]) -> ATMOutputs:
        """Backbone maps (B, C_in, h, w) -> per-stage class and mask logits."""
        features = self._transform_inputs(inputs)[::-1]  # deepest first
        laterals = [lateral(x) for lateral, x in zip(self.laterals, features)]
        # Earlier stages' predictions only feed the loss: skip them at inference.
        return self.decoder(laterals, final_only=not self.training)
