"""Segmenter's mask transformer (Strudel et al., ICCV 2021) with derived widths.

mmseg's :class:`~mmseg.models.decode_heads.SegmenterMaskTransformerHead` is
the baseline and is used unchanged; it only requires its widths as arguments.
This registered name gives them Segmenter's defaults (the encoder's width and
heads, :func:`~depict.models.decode_heads.widths.mask_transformer_widths`), so
the one Segmenter decoder part works on every backbone.
"""
from typing import Optional

from mmseg.models.decode_heads import SegmenterMaskTransformerHead
from mmseg.registry import MODELS

from .widths import mask_transformer_widths

__all__ = ['SegmenterMaskHead']


@MODELS.register_module()
class SegmenterMaskHead(SegmenterMaskTransformerHead):
    """:class:`SegmenterMaskTransformerHead` whose widths default to the encoder's.

    Args:
        in_channels: The backbone width.
        num_layers: Mask-transformer layers (Segmenter: 2).
        embed_dims: Decoder width; default ``in_channels``.
        num_heads: Decoder heads; default ``embed_dims // 64``.
        channels: mmseg's ``BaseDecodeHead`` width; default ``embed_dims``.
        **kwargs: Other :class:`SegmenterMaskTransformerHead` arguments.
    """

    def __init__(self, *, in_channels: int, num_layers: int = 2,
                 embed_dims: Optional[int] = None, num_heads: Optional[int] = None,
                 channels: Optional[int] = None, **kwargs) -> None:
        embed_dims, num_heads, channels = mask_transformer_widths(
            in_channels, embed_dims, num_heads, channels)
        super().__init__(in_channels=in_channels, num_layers=num_layers, num_heads=num_heads,
                         embed_dims=embed_dims, channels=channels, **kwargs)
