"""mmseg's ViT with SegViT's query-based downsampling (QD), the "Shrunk" backbone.

SegViT (Zhang et al., NeurIPS 2022, Sec. 3.3, "Shrunk structure"): at one block
(ViT-L: the ninth, i.e. after block 8) the queries of the self-attention are the
tokens subsampled 2× in each direction while keys and values stay all tokens,

    X' = X↓ + Attn(LN(X↓), LN(X), LN(X)),   X'' = X' + FFN(LN(X')),

so that block and every later one run on a quarter of the tokens (1/32 of the
input for 16-pixel patches). QD adds no parameter: it is the pretrained block
with subsampled queries, so ImageNet ViT checkpoints load unchanged.

Unlike the official code this never assumes a square grid (the token grid comes
from the patch embedding, odd sizes keep their last row / column:
``ceil(h/2) × ceil(w/2)``) and keeps mmseg's (B, C, h, w) outputs.
"""
import torch
import torch.utils.checkpoint as cp
from mmseg.models.backbones.vit import TransformerEncoderLayer
from mmseg.registry import MODELS
from torch import Tensor

from .vit_base import FusedVisionTransformer

__all__ = ['ShrunkVisionTransformer', 'query_downsample']


def query_downsample(layer: TransformerEncoderLayer, x: Tensor, hw_shape: tuple[int, int], *,
                     num_prefix_tokens: int) -> tuple[Tensor, tuple[int, int]]:
    """Runs one ViT block with 2× subsampled queries (SegViT's QD).

    Args:
        layer: An mmseg ViT block; its own parameters are used.
        x: Tokens (B, P + h*w, C): ``P`` prefix tokens (CLS) then the grid, row-major.
        hw_shape: The grid (h, w).
        num_prefix_tokens: P; prefix tokens stay queries.

    Returns:
        Tokens (B, P + h'*w', C) and the new grid ``(h', w') = (⌈h/2⌉, ⌈w/2⌉)``.
    """
    h, w = hw_shape
    batch, _, channels = x.shape
    prefix, grid = x[:, :num_prefix_tokens], x[:, num_prefix_tokens:]
    # (B, h*w, C) -> (B, h, w, C) -> every other row and column -> (B, h'*w', C)
    grid = grid.reshape(batch, h, w, channels)[:, ::2, ::2]
    new_shape = (grid.shape[1], grid.shape[2])
    # (B, h', w', C) -> (B, h'*w', C), after the prefix tokens
    query = torch.cat([prefix, grid.reshape(batch, -1, channels)], dim=1)
    memory = layer.norm1(x)
    query = layer.attn(query=layer.norm1(query), key=memory, value=memory, identity=query)
    query = layer.ffn(layer.norm2(query), identity=query)
    return query, new_shape


@MODELS.register_module()
class ShrunkVisionTransformer(FusedVisionTransformer):
    """:class:`mmseg.models.backbones.VisionTransformer` with QD at one block.

    Blocks ``0 .. shrink_index - 1`` run on the full grid, block
    ``shrink_index`` downsamples with subsampled queries, and the rest run on the
    quarter grid. ``out_indices`` count blocks as in mmseg (SegViT's Shrunk
    ViT-L: ``shrink_index=8``, ``out_indices=(7, 23)``: the last full-resolution
    block and the last block). Every constructor argument of mmseg's ViT
    applies (``out_origin`` returns the full-grid embedding), and its
    checkpoints load as they are. With ``fused_attn=True`` every block, QD's
    included (queries ≠ keys), attends through fused SDPA.

    Args:
        shrink_index: 0-based index of the block that downsamples.
        **kwargs: :class:`FusedVisionTransformer` arguments (``fused_attn``)
            and :class:`VisionTransformer` arguments.
    """

    def __init__(self, *, shrink_index: int = 8, **kwargs) -> None:
        super().__init__(**kwargs)
        if not 0 <= shrink_index < len(self.layers):
            raise ValueError(f'shrink_index={shrink_index} must index one of the '
                             f'{len(self.layers)} blocks (0-based)')
        self.shrink_index = shrink_index

    def run_layer(self, index: int, layer: TransformerEncoderLayer, x: Tensor,
                  hw_shape: tuple[int, int]) -> tuple[Tensor, tuple[int, int]]:
        if index != self.shrink_index:
            return layer(x), hw_shape
        if layer.with_cp and x.requires_grad:
            new_shape = ((hw_shape[0] + 1) // 2, (hw_shape[1] + 1) // 2)
            out = cp.checkpoint(lambda t: query_downsample(
                layer, t, hw_shape, num_prefix_tokens=self.num_prefix_tokens)[0], x,
                use_reentrant=False)
            return out, new_shape
        return query_downsample(layer, x, hw_shape, num_prefix_tokens=self.num_prefix_tokens)
