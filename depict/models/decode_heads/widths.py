"""Decoder widths that the papers derive from the backbone's width.

A decoder part of a config states no width: every head reads ``in_channels``
(set by the backbone part) and derives the rest by its paper's rule, so one
decoder part serves every backbone (docs/configs.md). A config may still set
any of them explicitly (the toy configs do).
"""
from typing import Optional, Sequence, Tuple, Union

__all__ = ['mask_transformer_widths', 'atm_widths']

#: Head width of ViT encoders (ViT-T/S/B/L, DINOv2, EVA-02, BEiT): their head
#: count is ``width // 64``. Segmenter's decoder uses its encoder's head count.
VIT_HEAD_DIMS = 64
#: SegViT's decoders run heads of width 32 (ViT-L: 512 / 16, ViT-B: 384 / 12).
ATM_HEAD_DIMS = 32


def _width(in_channels: Union[int, Sequence[int]]) -> int:
    return in_channels if isinstance(in_channels, int) else in_channels[-1]


def _heads(width: int, head_dims: int, what: str) -> int:
    if width % head_dims:
        raise ValueError(f'{what}: width {width} is not a multiple of the head width '
                         f'{head_dims} the rule assumes; set num_heads explicitly.')
    return width // head_dims


def mask_transformer_widths(in_channels: int, embed_dims: Optional[int] = None,
                            num_heads: Optional[int] = None,
                            channels: Optional[int] = None) -> Tuple[int, int, int]:
    """(embed_dims, num_heads, channels) of Segmenter's mask transformer.

    Segmenter (Strudel et al., ICCV 2021, Sec. 3.2 and its model factory)
    builds the mask transformer at the encoder's width with the encoder's
    heads: ``embed_dims = channels = in_channels``, ``num_heads = embed_dims
    // 64``.
    """
    embed_dims = in_channels if embed_dims is None else embed_dims
    num_heads = (_heads(embed_dims, VIT_HEAD_DIMS, 'Segmenter mask transformer')
                 if num_heads is None else num_heads)
    return embed_dims, num_heads, embed_dims if channels is None else channels


def atm_widths(in_channels: Union[int, Sequence[int]], channels: Optional[int] = None,
               num_heads: Optional[int] = None) -> Tuple[int, int]:
    """(channels, num_heads) of SegViT's ATM decoders.

    The official configs run the decoder at half the ViT width (ViT-L 1024 ->
    512, ViT-B 768 -> 384) with 32-wide heads (16 and 12 heads).
    """
    channels = _width(in_channels) // 2 if channels is None else channels
    num_heads = _heads(channels, ATM_HEAD_DIMS, 'ATM decoder') if num_heads is None else num_heads
    return channels, num_heads
