"""The head of SegViT's Shrunk variant: query-based upsampling + single-stage ATM.

SegViT (Zhang et al., NeurIPS 2022, Sec. 3.3): with the backbone downsampled by
QD (:class:`~depict.models.backbones.ShrunkVisionTransformer`), the head
rebuilds a 1/16-resolution map with query-based upsampling (QU): a grid of
learnable queries, one per 1/16 position, attends first to the early (1/16,
before QD) and then to the late (1/32) features, through post-norm decoder
layers (self-attention over the grid, cross-attention, FFN). The resulting map
feeds a single ATM stage whose every layer predicts (class logits and mask
logits), each supervised by the ATM loss; masks do not accumulate.

Paper ↔ code: laterals ``LN(Linear(X))`` of both inputs (:class:`Lateral`), QU
(:class:`QueryUpsampler`), single-stage ATM (:class:`ATMDecoder` with
``predict_every_layer=True, accumulate_masks=False``), loss and prediction
shared with :class:`~depict.models.decode_heads.ATMHead`.

The official head sizes its query grid from a hard-coded image size and reshapes
with √N. Here the grid is a parameter of a reference size (the training
crop / 16) resized, like ViT position embeddings, to whatever 1/16 grid the
early features have, so any input or slide window works.
"""
from typing import Optional, Sequence, Union

from mmseg.registry import MODELS
from mmseg.utils import ConfigType
from torch import Tensor, nn

from ..layers import (ATMDecoder, ATMOutputs, Lateral, MultiheadAttention, PostNormDecoderLayer,
                      QueryUpsampler)
from .atm_head import BaseATMHead
from .widths import atm_widths

__all__ = ['QueryUpsampler', 'ShrunkATMHead']


@MODELS.register_module()
class ShrunkATMHead(BaseATMHead):
    """SegViT-Shrunk's head: QU over (early, late) features, then one ATM stage.

    Args:
        in_channels: Channels of the two selected backbone outputs.
        channels: Decoder width; default half the backbone width (512 for ViT-L).
        num_classes: C.
        in_index: Backbone outputs to read: (early 1/16, late 1/32).
        num_layers: Decoder layers per QU stage and of the ATM stage (3).
        num_heads: Attention heads; default ``channels // 32`` (16 for ViT-L).
        ffn_ratio: FFN width / ``channels`` (4).
        query_grid: (h, w) of the stored QU grid: the training crop / patch size
            (40×40 for 640 crops); resized for other inputs.
        dropout: Residual / FFN dropout (0.1).
        attn_drop: Attention-weight dropout (0.1).
        scores: ``'prob'`` or ``'log_prob'``, see :class:`BaseATMHead`.
        loss_decode: The loss config (:class:`~depict.models.losses.ATMLoss`).
        **kwargs: Other :class:`BaseDecodeHead` arguments.
    """

    def __init__(self, *, in_channels: Union[int, Sequence[int]], num_classes: int,
                 channels: Optional[int] = None, in_index: Sequence[int] = (0, 1),
                 num_layers: int = 3, num_heads: Optional[int] = None, ffn_ratio: int = 4,
                 query_grid: Sequence[int] = (40, 40),
                 dropout: float = 0.1, attn_drop: float = 0.1, scores: str = 'prob',
                 loss_decode: ConfigType = dict(type='ATMLoss'),
                 init_cfg: Optional[ConfigType] = None, **kwargs) -> None:
        channels, num_heads = atm_widths(in_channels, channels, num_heads)
        super().__init__(in_channels=in_channels, channels=channels, num_classes=num_classes,
                         in_index=in_index, loss_decode=loss_decode, init_cfg=init_cfg,
                         scores=scores, **kwargs)
        ffn_channels = ffn_ratio * channels
        self.laterals = nn.ModuleList(Lateral(c, channels) for c in self.in_channels)
        self.upsampler = QueryUpsampler(
            embed_dims=channels, num_stages=len(in_index), num_layers=num_layers,
            num_heads=num_heads, ffn_channels=ffn_channels, grid_size=tuple(query_grid),
            dropout=dropout, attn_drop=attn_drop)
        self.decoder = ATMDecoder(
            num_classes=num_classes, embed_dims=channels, num_stages=1, num_layers=num_layers,
            num_heads=num_heads, ffn_channels=ffn_channels, dropout=dropout,
            attn_drop=attn_drop, predict_every_layer=True, accumulate_masks=False)

    def torch_initialised_attentions(self) -> list[MultiheadAttention]:
        """The ATM decoder's query self-attention, and both attentions of every
        QU layer: the official QU is a stack of plain ``nn.TransformerDecoderLayer``
        (``tpn_atm_head.py``), whose self- and cross-attention both keep PyTorch's
        xavier-uniform in-projection.

        The QU is listed here because the init matters: trunc-normal 0.02 q / k / v
        (the rest of the head's init) would start every QU attention logit about
        20x flatter than the official init at the toy width C = 64 (weight std
        0.02 against 1/√(2C) = 0.088; a logit scales with the product of two).
        """
        return super().torch_initialised_attentions() + [
            attn for module in self.upsampler.modules()
            if isinstance(module, PostNormDecoderLayer)
            for attn in (module.self_attn, module.cross_attn)]

    def forward(self, inputs: Sequence[Tensor]) -> ATMOutputs:
        """(early, late) backbone maps -> per-layer class and mask logits."""
        features = self._transform_inputs(inputs)  # early (1/16) first, as the official head
        laterals = [lateral(x) for lateral, x in zip(self.laterals, features)]
        # The 1/16 grid is the early features' own (h, w): no image size needed.
        upsampled = self.upsampler(laterals, out_size=tuple(features[0].shape[-2:]))
        # Earlier layers' predictions only feed the loss: skip them at inference.
        return self.decoder([upsampled], final_only=not self.training)
