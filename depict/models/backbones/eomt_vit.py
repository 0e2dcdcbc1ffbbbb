"""EoMT's encoder: learned queries that join the patch tokens for the last ViT blocks.

EoMT (Kerssies et al., "Your ViT is Secretly an Image Segmentation Model",
CVPR 2025, arXiv 2503.19108) has no decoder: ``Q`` learned query tokens are
concatenated to the tokens of a plain ViT before its last ``L₂`` blocks (the
paper's L₂, ``num_blocks`` here, 4 by default), and masks and classes are read
out of the queries and patch tokens of those blocks (Sec. 3.2). During
training each of the last ``L₂`` blocks attends with a Mask2Former-style mask:
query q sees patch p only where the mask predicted from the block's input is
positive, ``sigmoid(M_q(p)) > 0.5`` (Sec. 3.2, "masked attention"). The mask
is dropped query by query with probability ``1 − P_l`` where ``P_l`` is
annealed from 1 to 0 over training (Sec. 3.3, "mask annealing"), so the
trained model runs with plain attention, as it does at inference.

This module holds the parts that live inside the ViT:

* the queries (``queries``, an ``nn.Embedding``, N(0, 1) as PyTorch's);
* the token loop: embedding, blocks ``0 … L−L₂−1`` on the image tokens,
  queries inserted, blocks ``L−L₂ … L−1`` on ``[prefix, queries, patches]``
  with the attention mask when training;
* the per-block probabilities ``P_l`` (buffer ``attn_mask_probs``, so a
  checkpoint carries them), set every iteration by
  :class:`~depict.engine.EoMTMaskAnnealingHook`.

The readout (class head, mask MLP, upscaling blocks) is the decode head's
(:class:`~depict.models.decode_heads.EoMTHead`). Masked attention needs that
readout between blocks, so :class:`~depict.models.segmentors.EoMTEncoderDecoder`
hands ``decode_head.readout`` to :meth:`forward` in training.

The backbone returns :class:`EoMTFeatures`: per prediction point (the inputs
of the last ``L₂`` blocks in training, then the output of the last block) the
normalised queries (B, Q, C) and patch map (B, C, h, w). In eval mode only the
last point is computed (the official evaluation runs without masks and reads
the last block).

Token order: ``[prefix (CLS, registers), queries, patches]``. The official code
puts the queries first; attention is permutation-equivariant, so the values
are the same. This order lets timm's RoPE blocks (EVA-02, DINOv3), which rotate
every token after the prefix, run unchanged: the queries get the identity
rotation (no position), as in the official DINOv3 model.
"""
import math
from typing import Callable, NamedTuple, Optional, Sequence

import torch
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor, nn

from .timm_vit import TimmViT

__all__ = ['EoMTFeatures', 'EoMTQueriesMixin', 'EoMTTimmViT', 'Readout']

#: ``readout(queries (B, Q, C), patches (B, C, h, w)) -> (mask_logits (B, Q, h', w'),
#: class_logits (B, Q, K+1))``, the decode head's.
Readout = Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]


class EoMTFeatures(NamedTuple):
    """What an EoMT backbone hands to :class:`~depict.models.decode_heads.EoMTHead`.

    Attributes:
        queries: Per prediction point, the final-normed queries (B, Q, C).
        patches: Per prediction point, the final-normed patch tokens as a map
            (B, C, h, w).
        predictions: Per prediction point, the readout's ``(mask_logits,
            class_logits)`` where the backbone already computed it (for the
            attention mask), else ``None``; the head reuses them.
    """
    queries: list
    patches: list
    predictions: list


class EoMTQueriesMixin:
    """The EoMT token loop, shared by the timm and the mmseg ViT backbones.

    Subclasses provide :meth:`embed_tokens`, :meth:`run_block`,
    :meth:`norm_tokens`, the ``blocks`` sequence and ``num_prefix_tokens``, and
    call :meth:`init_queries` in their constructor.
    """

    def init_queries(self, *, num_queries: int, num_blocks: int, masked_attn: bool,
                     embed_dims: int) -> None:
        depth = len(self.blocks)
        if not 1 <= num_blocks <= depth:
            raise ValueError(f'num_blocks={num_blocks} must be in [1, {depth}] (the ViT has '
                             f'{depth} blocks; EoMT-L uses 4)')
        if num_queries < 1:
            raise ValueError(f'num_queries must be positive, got {num_queries}')
        self.num_queries = num_queries
        self.num_blocks = num_blocks
        self.masked_attn = masked_attn
        self.queries = nn.Embedding(num_queries, embed_dims)
        # P_l of the last num_blocks blocks; 1 = every query masked (start of training).
        self.register_buffer('attn_mask_probs', torch.ones(num_blocks))

    # -- subclass hooks -----------------------------------------------------
    def embed_tokens(self, inputs: Tensor) -> tuple[Tensor, tuple[int, int], Optional[Tensor]]:
        """Image -> tokens (B, P + h*w, C), the grid (h, w), RoPE embedding or None."""
        raise NotImplementedError

    def run_block(self, index: int, x: Tensor, keep: Optional[Tensor],
                  rope: Optional[Tensor]) -> Tensor:
        """Block ``index`` on tokens (B, T, C); ``keep`` is a boolean (B, T, T)
        attention mask (True = attend) or None."""
        raise NotImplementedError

    def norm_tokens(self, x: Tensor) -> Tensor:
        """The ViT's final norm (the readout reads normed tokens at every point)."""
        raise NotImplementedError

    # -- the loop -----------------------------------------------------------
    def _split(self, x: Tensor, grid: tuple[int, int]) -> tuple[Tensor, Tensor]:
        """Normed tokens (B, P+Q+N, C) -> queries (B, Q, C), patch map (B, C, h, w)."""
        x = self.norm_tokens(x)
        start = self.num_prefix_tokens
        queries = x[:, start:start + self.num_queries]
        patches = x[:, start + self.num_queries:]
        # (B, h*w, C) -> (B, C, h*w) -> (B, C, h, w)
        patches = patches.transpose(1, 2).reshape(x.shape[0], -1, *grid)
        return queries, patches

    def _attention_mask(self, mask_logits: Tensor, grid: tuple[int, int], num_tokens: int,
                        prob: Tensor) -> Tensor:
        """Boolean keep-mask (B, T, T): queries see only the patches of their mask.

        Every other pair (patches to anything, queries to queries and prefix
        tokens) attends freely. With ``prob < 1`` each query's mask is dropped
        with probability ``1 − prob`` (one uniform draw per image and query,
        as the official schedule).
        """
        batch, num_queries = mask_logits.shape[:2]
        start = self.num_prefix_tokens
        keep = torch.ones(batch, num_tokens, num_tokens, dtype=torch.bool,
                          device=mask_logits.device)
        # (B, Q, h', w') -> (B, Q, h, w) -> (B, Q, h*w): the mask at patch resolution.
        inside = F.interpolate(mask_logits, size=grid, mode='bilinear',
                               align_corners=False).flatten(2) > 0
        if prob < 1:
            dropped = torch.rand(batch, num_queries, device=mask_logits.device) > prob
            inside = inside | dropped[:, :, None]
        keep[:, start:start + num_queries, start + num_queries:] = inside
        return keep

    @staticmethod
    def _rope_with_queries(rope: Optional[Tensor], num_queries: int) -> Optional[Tensor]:
        """RoPE rows for ``[queries, patches]``: the identity (sin 0, cos 1) for queries."""
        if rope is None:
            return None
        half = rope.shape[-1] // 2
        identity = torch.cat([rope.new_zeros(half), rope.new_ones(half)])
        identity = identity.expand(*rope.shape[:-2], num_queries, rope.shape[-1])
        return torch.cat([identity, rope], dim=-2)

    def forward(self, inputs: Tensor, readout: Optional[Readout] = None) -> EoMTFeatures:
        """Image (B, 3, H, W) -> :class:`EoMTFeatures`.

        Args:
            inputs: Normalised images.
            readout: The decode head's readout, needed in training while some
                ``attn_mask_probs`` are positive (the attention masks come from
                its predictions).
        """
        x, grid, rope = self.embed_tokens(inputs)
        depth = len(self.blocks)
        first = depth - self.num_blocks
        deep = self.training and self.masked_attn
        queries, patches, predictions = [], [], []
        for index in range(depth):
            keep = None
            if index == first:
                start = self.num_prefix_tokens
                learned = self.queries.weight[None].expand(x.shape[0], -1, -1).to(x.dtype)
                # (B, P + N, C) -> (B, P + Q + N, C)
                x = torch.cat([x[:, :start], learned, x[:, start:]], dim=1)
                rope = self._rope_with_queries(rope, self.num_queries)
            if deep and index >= first:
                point_queries, point_patches = self._split(x, grid)
                prediction = None
                prob = self.attn_mask_probs[index - first]
                if prob > 0:
                    if readout is None:
                        raise ValueError(
                            'EoMT masked attention needs the decode head\'s readout in '
                            'training: build the model with type="EoMTEncoderDecoder" '
                            '(or set backbone.masked_attn=False).')
                    prediction = readout(point_queries, point_patches)
                    keep = self._attention_mask(prediction[0], grid, x.shape[1], prob)
                else:
                    # Every mask is dropped; the official code still draws the
                    # per-query numbers, so draw them too: the random stream
                    # (loss sampling, dropout) then stays the official one.
                    torch.rand(x.shape[0], self.num_queries, device=x.device)
                queries.append(point_queries)
                patches.append(point_patches)
                predictions.append(prediction)
            x = self.run_block(index, x, keep, rope)
        point_queries, point_patches = self._split(x, grid)
        queries.append(point_queries)
        patches.append(point_patches)
        predictions.append(None)
        return EoMTFeatures(queries, patches, predictions)


    def forward_without_queries(self, inputs: Tensor) -> Tensor:
        """The plain ViT: every block on the image tokens alone, then the final
        norm of the patch tokens (B, h*w, C), as the ViT backbones hand them to
        other decoders. What the encoder costs without EoMT (FLOP accounting:
        the queries' share of the last blocks is EoMT's, ``depict.utils.flops``)."""
        x, _, rope = self.embed_tokens(inputs)
        for index in range(len(self.blocks)):
            x = self.run_block(index, x, None, rope)
        return self.norm_tokens(x[:, self.num_prefix_tokens:])


def num_upscale_blocks(patch_size: Sequence[int]) -> int:
    """EoMT's number of 2x upscaling blocks: to a stride of 4 (at least one)."""
    return max(1, int(math.log2(max(patch_size))) - 2)


@MODELS.register_module()
class EoMTTimmViT(EoMTQueriesMixin, TimmViT):
    """EoMT's encoder on a timm ViT (DINOv2, DINOv3, EVA-02, AugReg...).

    :class:`~depict.models.backbones.TimmViT` with every block and the final
    norm kept, plus the queries (see the module docstring). Parameter names are
    TimmViT's (``model.blocks.<i>``...), so layer-wise lr decay and timm
    weights apply unchanged; the queries are ``queries.weight``.

    Args:
        num_queries: Q (100 for semantic segmentation in the official configs).
        num_blocks: L₂, the blocks that process the queries (4).
        masked_attn: Masked attention and per-block predictions in training
            (the official ``masked_attn_enabled``). False: plain attention and
            only the last block's prediction.
        **kwargs: :class:`TimmViT` arguments (``model_name``, ``pretrained``,
            ``checkpoint_file``, ``img_size``, ``model_kwargs``...).
            ``out_indices`` is accepted and has no effect (EoMT runs every
            block; a backbone part's layer choice may stay in the config);
            ``final_norm`` must stay True.
    """

    def __init__(self, *, num_queries: int = 100, num_blocks: int = 4, masked_attn: bool = True,
                 **kwargs) -> None:
        kwargs.pop('out_indices', None)
        if not kwargs.pop('final_norm', True):
            raise ValueError('EoMTTimmViT reads normed tokens: keep final_norm=True.')
        super().__init__(out_indices=-1, final_norm=True, **kwargs)
        if self.norm is None:
            raise ValueError(f'{kwargs.get("model_name")!r} has no final norm; EoMT reads '
                             'normed tokens.')
        self.init_queries(num_queries=num_queries, num_blocks=num_blocks,
                          masked_attn=masked_attn, embed_dims=self.embed_dims)

    @property
    def blocks(self) -> nn.ModuleList:
        return self.model.blocks

    def embed_tokens(self, inputs: Tensor) -> tuple[Tensor, tuple[int, int], Optional[Tensor]]:
        model = self.model
        grid = tuple(model.patch_embed.dynamic_feat_size(inputs.shape[-2:]))
        x = model.patch_embed(inputs)  # (B, h, w, C) with dynamic sizes
        embedded = model._pos_embed(x)
        if isinstance(embedded, tuple):  # Eva: (tokens, RoPE); patch dropout applied
            x, rope = embedded
        else:
            x, rope = model.patch_drop(embedded), None
        return model.norm_pre(x), grid, rope

    def run_block(self, index: int, x: Tensor, keep: Optional[Tensor],
                  rope: Optional[Tensor]) -> Tensor:
        block = self.model.blocks[index]
        # (B, T, T) -> (B, 1, T, T): one mask for every head.
        mask = keep[:, None] if keep is not None else None
        if hasattr(self.model, 'rope'):  # Eva blocks take the rotary embedding
            if rope is not None and getattr(self.model, 'rope_mixed', False):
                rope = rope[index]
            return block(x, rope=rope, attn_mask=mask)
        return block(x, attn_mask=mask)

    def norm_tokens(self, x: Tensor) -> Tensor:
        return self.norm(x)

    def forward(self, inputs: Tensor, readout: Optional[Readout] = None) -> EoMTFeatures:
        return EoMTQueriesMixin.forward(self, inputs, readout)

    def extra_repr(self) -> str:
        return (f'num_queries={self.num_queries}, num_blocks={self.num_blocks}, '
                f'masked_attn={self.masked_attn}, patch_size={self.patch_size}, '
                f'prefix_tokens={self.num_prefix_tokens}')
