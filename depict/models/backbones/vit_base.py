"""One ViT base for our backbones, with fused SDPA self-attention.

:class:`FusedVisionTransformer` is mmseg's :class:`VisionTransformer` (same
constructor, same modules, same state-dict keys, so every mmseg / timm-converted
checkpoint loads as it is) whose forward is split into three overridable
pieces that :class:`~depict.models.backbones.ShrunkVisionTransformer` and
:class:`~depict.models.backbones.TwoPathwayVisionTransformer` share:

* :meth:`FusedVisionTransformer.embed`: patch embedding, CLS token, position
  embedding (resized for any grid), ``pre_norm``;
* :meth:`FusedVisionTransformer.run_layer`: the per-layer hook (Shrunk's QD);
* :meth:`FusedVisionTransformer.to_output`: tokens -> the (B, C, h, w) map
  [+ CLS token] that mmseg returns.

With ``fused_attn=True`` (timm's name) each block's ``attn`` runs
:func:`torch.nn.functional.scaled_dot_product_attention` directly on mmcv's own
projection weights (``attn.attn.in_proj_weight`` / ``out_proj``): no averaged
attention weights (mmcv asks ``nn.MultiheadAttention`` for them on every call),
no sequence-first transposes. The swap changes the class of *our* blocks'
``attn`` modules only (same object, same parameters); mmcv and mmseg are not
patched, so a stock :class:`VisionTransformer` elsewhere in the process keeps
mmcv's path. ``fused_attn=False`` is exactly mmseg's stock model.
"""
from typing import Iterator, NamedTuple, Optional

import torch
import torch.nn.functional as F
from mmcv.cnn.bricks.transformer import AdaptivePadding as MMCVAdaptivePadding
from mmcv.cnn.bricks.transformer import MultiheadAttention
from mmseg.models.backbones.vit import TransformerEncoderLayer, VisionTransformer
from mmseg.models.utils.embed import AdaptivePadding
from mmseg.registry import MODELS
from torch import Tensor, nn

from .frozen_stages import MMSegViTFrozenStagesMixin

__all__ = ['FusedMultiheadAttention', 'FusedVisionTransformer', 'LayerTokens',
           'SizeGenericPadding', 'fuse_attention', 'size_generic_padding_']


class FusedMultiheadAttention(MultiheadAttention):
    """mmcv's :class:`MultiheadAttention` whose attention is one SDPA call.

    Holds exactly mmcv's submodules (``attn`` = ``nn.MultiheadAttention``,
    ``proj_drop``, ``dropout_layer``) and returns what mmcv's forward returns,
    ``identity + dropout_layer(proj_drop(out_proj(attention)))``, with
    ``attention = softmax(q kᵀ / √d_head) v`` (Vaswani et al., 2017, Eq. 1)
    per head. Queries may differ from keys (SegViT's QD). Calls this fast path
    does not cover (masks, positional encodings, sequence-first tensors) go
    through mmcv's forward unchanged.

    Build it with :func:`fuse_attention`, never directly.
    """

    def forward(self, query: Tensor, key: Optional[Tensor] = None,
                value: Optional[Tensor] = None, identity: Optional[Tensor] = None,
                query_pos: Optional[Tensor] = None, key_pos: Optional[Tensor] = None,
                attn_mask: Optional[Tensor] = None,
                key_padding_mask: Optional[Tensor] = None, **kwargs) -> Tensor:
        if (query_pos is not None or key_pos is not None or attn_mask is not None
                or key_padding_mask is not None or not self.batch_first or kwargs):
            return super().forward(query, key, value, identity, query_pos, key_pos,
                                   attn_mask, key_padding_mask, **kwargs)
        key = query if key is None else key
        value = key if value is None else value
        identity = query if identity is None else identity
        mha = self.attn
        batch, num_queries, channels = query.shape
        heads = self.num_heads
        head_dims = channels // heads
        weight, bias = mha.in_proj_weight, mha.in_proj_bias
        if key is query and value is query:
            # (B, N, 3C) -> (B, N, 3, heads, hd) -> (3, B, heads, N, hd)
            qkv = F.linear(query, weight, bias).reshape(batch, num_queries, 3, heads, head_dims)
            q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        else:
            # Queries differ from keys (QD): project them with the q / kv rows.
            w_q, w_kv = weight.split((channels, 2 * channels))
            b_q, b_kv = bias.split((channels, 2 * channels)) if bias is not None else (None, None)
            num_keys = key.shape[1]
            # (B, N, C) -> (B, N, heads, hd) -> (B, heads, N, hd)
            q = F.linear(query, w_q, b_q).reshape(batch, num_queries, heads,
                                                  head_dims).transpose(1, 2)
            if key is value:
                # (B, M, 2C) -> (B, M, 2, heads, hd) -> (2, B, heads, M, hd)
                kv = F.linear(key, w_kv, b_kv).reshape(batch, num_keys, 2, heads, head_dims)
                k, v = kv.permute(2, 0, 3, 1, 4).unbind(0)
            else:
                w_k, w_v = w_kv.chunk(2)
                b_k, b_v = b_kv.chunk(2) if b_kv is not None else (None, None)
                # (B, M, C) -> (B, M, heads, hd) -> (B, heads, M, hd)
                k = F.linear(key, w_k, b_k).reshape(batch, num_keys, heads,
                                                    head_dims).transpose(1, 2)
                v = F.linear(value, w_v, b_v).reshape(batch, num_keys, heads,
                                                      head_dims).transpose(1, 2)
        out = F.scaled_dot_product_attention(
            q, k, v, dropout_p=mha.dropout if mha.training else 0.0)
        # (B, heads, N, hd) -> (B, N, heads, hd) -> (B, N, C)
        out = out.transpose(1, 2).reshape(batch, num_queries, channels)
        out = mha.out_proj(out)
        return identity + self.dropout_layer(self.proj_drop(out))


def fuse_attention(attn: MultiheadAttention) -> FusedMultiheadAttention:
    """Turns one mmcv attention module into :class:`FusedMultiheadAttention`, in place.

    The module keeps its identity, parameters and buffers (a state dict, an
    optimizer or a hook that holds it is unaffected); only this object's class
    changes, so no other mmcv module in the process is touched.

    Raises:
        TypeError: ``attn`` is not exactly mmcv's MultiheadAttention (a subclass
            may have its own forward that the swap would silently drop).
        ValueError: the inner ``nn.MultiheadAttention`` uses options SDPA on the
            packed projection cannot reproduce (separate q/k/v widths,
            ``add_bias_kv``, ``add_zero_attn``).
    """
    if isinstance(attn, FusedMultiheadAttention):
        return attn
    if type(attn) is not MultiheadAttention:
        raise TypeError(f'fused_attn=True swaps mmcv MultiheadAttention modules only, got '
                        f'{type(attn).__name__}: build the backbone with fused_attn=False.')
    mha = attn.attn
    if not mha._qkv_same_embed_dim or mha.bias_k is not None or mha.add_zero_attn:
        raise ValueError('fused_attn=True needs a packed q/k/v projection without '
                         'add_bias_kv / add_zero_attn: build the backbone with '
                         'fused_attn=False.')
    attn.__class__ = FusedMultiheadAttention
    return attn


def _size_generic_pad(size, kernel: int, stride: int, dilation: int):
    """mmseg's ``AdaptivePadding`` amount along one side, in integer arithmetic.

    mmseg computes ``max((ceil(size / stride) - 1) * stride + (kernel - 1) *
    dilation + 1 - size, 0)`` with ``math.ceil`` of a true division and
    Python's ``max``. On a symbolic size (``torch.export``) the first becomes a
    float expression and the second a guard; nested once per Swin stage, they
    made the dynamic Swin export run for more than ten minutes (timed stage by
    stage: 11 s for one stage, 63 s for two, over 300 s for three). Here:
    ``ceil`` is an integer ceiling division, and the ``max`` is dropped where it
    is provably 0 (a window at least as wide as its stride: every patch
    embedding and patch merging in mmseg), so padding to the next multiple of
    the stride stays the plain expression ``stride * ceil(size / stride)``.
    """
    outputs = (size + stride - 1) // stride  # ceil(size / stride), exact on integers
    pad = outputs * stride - size + ((kernel - 1) * dilation + 1 - stride)
    if (kernel - 1) * dilation + 1 >= stride:
        return pad  # outputs * stride >= size: never negative
    return torch.sym_max(pad, 0)


def _pad_always(module, x: Tensor) -> Tensor:
    (kernel_h, kernel_w), (stride_h, stride_w) = module.kernel_size, module.stride
    pad_h = _size_generic_pad(x.shape[-2], kernel_h, stride_h, module.dilation[0])
    pad_w = _size_generic_pad(x.shape[-1], kernel_w, stride_w, module.dilation[1])
    if module.padding == 'corner':  # bottom / right, as mmseg
        return F.pad(x, [0, pad_w, 0, pad_h])
    return F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])


class SizeGenericPadding(AdaptivePadding):
    """mmseg's :class:`AdaptivePadding` without a branch on the input size.

    mmseg pads only ``if pad_h > 0 or pad_w > 0``: a Python branch on the
    input size, which an exported graph (``torch.export`` / ONNX) freezes at
    the export size, so a graph exported at a multiple of the patch size would
    never pad. Here ``F.pad`` always runs, by zero rows / columns where none
    are needed: the same values for every input, and one graph for all sizes.
    Swapped in by :func:`size_generic_padding_` (same object and buffers).
    """

    def forward(self, x: Tensor) -> Tensor:
        return _pad_always(self, x)


class _MMCVSizeGenericPadding(MMCVAdaptivePadding):
    """The same for mmcv's copy of the class (Swin's patch merging uses it)."""

    def forward(self, x: Tensor) -> Tensor:
        return _pad_always(self, x)


def size_generic_padding_(module: nn.Module) -> nn.Module:
    """Swaps, in place, every mmseg / mmcv ``AdaptivePadding`` inside ``module``
    for its :class:`SizeGenericPadding` form (the same values for every input).
    Only exact instances are swapped (a subclass may pad its own way)."""
    for child in module.modules():
        if type(child) is AdaptivePadding:
            child.__class__ = SizeGenericPadding
        elif type(child) is MMCVAdaptivePadding:
            child.__class__ = _MMCVSizeGenericPadding
    return module


class LayerTokens(NamedTuple):
    """Tokens after one stage of :meth:`FusedVisionTransformer.iter_tokens`.

    Attributes:
        index: 0-based transformer layer, or ``None`` for the embedding
            (what ``out_origin`` returns).
        tokens: (B, P + h*w, C), P = 1 with the CLS token, else 0.
        hw_shape: The token grid (h, w).
    """
    index: Optional[int]
    tokens: Tensor
    hw_shape: tuple[int, int]


@MODELS.register_module()
class FusedVisionTransformer(MMSegViTFrozenStagesMixin, VisionTransformer):
    """mmseg's :class:`VisionTransformer` with fused SDPA self-attention.

    Same parameters, state-dict keys and outputs as mmseg's ViT (to float
    rounding with ``fused_attn=True``; exactly with ``fused_attn=False``), and
    the shared base of our ViT backbones. Unlike mmseg, the CLS token is frozen
    when ``with_cls_token=False`` (mmseg prepends, then drops it, so it never
    gets a gradient, which DDP with ``find_unused_parameters=False`` rejects).

    Args:
        fused_attn: Run self-attention through
            :func:`torch.nn.functional.scaled_dot_product_attention` (flash /
            memory-efficient kernels where the backend has them). ``False`` keeps
            mmcv's ``nn.MultiheadAttention`` path, i.e. stock mmseg.
        frozen_stages: ``-1`` nothing frozen; ``0`` the patch embedding, CLS
            token and position embedding; ``k`` those and layers ``0 .. k-1``;
            ``num_layers`` the whole ViT with its final norm. mmseg's Swin
            convention (``requires_grad=False`` and eval mode; see
            depict/models/backbones/frozen_stages.py); subclasses' added
            modules (local pathway, EoMT queries) are never frozen. mmseg's
            name-based ``frozen_exclude`` still works beside it.
        **kwargs: :class:`VisionTransformer` arguments.
    """

    def __init__(self, *, fused_attn: bool = True, frozen_stages: int = -1,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.fused_attn = fused_attn
        if fused_attn:
            for layer in self.layers:
                if not isinstance(layer, TransformerEncoderLayer):
                    raise TypeError(f'fused_attn=True expects mmseg TransformerEncoderLayer '
                                    f'blocks, got {type(layer).__name__}')
                fuse_attention(layer.attn)
        if not self.with_cls_token:
            self.cls_token.requires_grad_(False)
        size_generic_padding_(self.patch_embed)
        self._setup_frozen_stages(frozen_stages)

    @property
    def num_prefix_tokens(self) -> int:
        """Tokens before the grid: 1 (CLS) or 0."""
        return 1 if self.with_cls_token else 0

    def embed(self, inputs: Tensor) -> tuple[Tensor, tuple[int, int]]:
        """Image (B, 3, H, W) -> tokens (B, P + h*w, C) and the grid (h, w).

        mmseg's embedding: patches, CLS token, position embedding (bicubic
        resize of the pretrained grid when the input grid differs, e.g.
        non-square or odd sizes), dropout, CLS dropped if unused, ``pre_norm``.
        """
        batch = inputs.shape[0]
        x, hw_shape = self.patch_embed(inputs)  # (B, h*w, C)
        cls_tokens = self.cls_token.expand(batch, -1, -1)
        x = torch.cat((cls_tokens, x), dim=1)  # (B, 1 + h*w, C)
        pos_embed = self.pos_embed
        pos_grid = (self.img_size[0] // self.patch_size, self.img_size[1] // self.patch_size)
        if pos_embed.shape[1] != pos_grid[0] * pos_grid[1] + 1:
            raise ValueError(f'pos_embed of shape {tuple(pos_embed.shape)} does not match '
                             f'img_size={self.img_size} / patch_size={self.patch_size} '
                             f'(expected {pos_grid[0] * pos_grid[1] + 1} positions): set '
                             'img_size to the size the position embedding was trained at.')
        # Resized to the input grid always, not only when the grid differs:
        # at the stored grid the resize is the identity (bilinear / bicubic
        # taps at integer positions), and without a branch on the input size an
        # exported graph (ONNX) resizes for every input, not only the export size.
        pos_embed = self.resize_pos_embed(pos_embed, hw_shape, pos_grid, self.interpolate_mode)
        x = self.drop_after_pos(x + pos_embed)
        if not self.with_cls_token:
            x = x[:, 1:]
        if self.pre_norm:
            x = self.pre_ln(x)
        return x, hw_shape

    def run_layer(self, index: int, layer: TransformerEncoderLayer, x: Tensor,
                  hw_shape: tuple[int, int]) -> tuple[Tensor, tuple[int, int]]:
        """The per-layer hook: one block on tokens (B, P + h*w, C); may change the grid."""
        return layer(x), hw_shape

    def iter_tokens(self, inputs: Tensor) -> Iterator[LayerTokens]:
        """Yields the embedding (index ``None``) then every layer's tokens,
        the last one after the final norm (as mmseg)."""
        x, hw_shape = self.embed(inputs)
        yield LayerTokens(None, x, hw_shape)
        last = len(self.layers) - 1
        for index, layer in enumerate(self.layers):
            x, hw_shape = self.run_layer(index, layer, x, hw_shape)
            if index == last and self.final_norm:
                x = self.norm1(x)
            yield LayerTokens(index, x, hw_shape)

    def is_output(self, index: Optional[int]) -> bool:
        """Whether the stage ``index`` (``None``: the embedding) is returned."""
        return self.out_origin if index is None else index in self.out_indices

    def to_output(self, tokens: Tensor, hw_shape: tuple[int, int]):
        """Tokens (B, P + h*w, C) -> map (B, C, h, w), or ``[map, CLS (B, C)]``
        with ``output_cls_token``."""
        grid = tokens[:, self.num_prefix_tokens:]
        batch, _, channels = grid.shape
        # (B, h*w, C) -> (B, h, w, C) -> (B, C, h, w)
        out = grid.reshape(batch, hw_shape[0], hw_shape[1], channels).permute(0, 3, 1, 2)
        out = out.contiguous()
        if self.output_cls_token:
            return [out, tokens[:, 0]]
        return out

    def forward(self, inputs: Tensor) -> tuple:
        """mmseg's outputs: the maps of ``out_origin`` and ``out_indices``, in order."""
        return tuple(self.to_output(step.tokens, step.hw_shape)
                     for step in self.iter_tokens(inputs) if self.is_output(step.index))
