"""The building blocks of SegViT's Attention-to-Mask decoders (Zhang et al.,
NeurIPS 2022): laterals, the ATM decoder and its named outputs, and Shrunk's
query-based upsampler (QU). The heads (``decode_heads/atm_head.py``,
``decode_heads/shrunk_atm_head.py``) hold the loss and the prediction rule.
"""
from typing import NamedTuple, Optional, Sequence

import torch
from mmseg.models.utils import resize
from torch import Tensor, nn

from .transformer_decoder import PostNormDecoderLayer

__all__ = ['ATMOutputs', 'Lateral', 'ATMDecoder', 'QueryUpsampler']


class ATMOutputs(NamedTuple):
    """The predictions of an ATM decoder, one entry per prediction point (per
    stage, or per layer with ``predict_every_layer``), the final one last; in
    eval mode only the final one.

    Attributes:
        cls_logits: (B, C, C+1) class logits of the queries (no-object last).
        mask_logits: (B, C, h, w) mask logits at the last feature map's size.
    """
    cls_logits: list[Tensor]
    mask_logits: list[Tensor]


class Lateral(nn.Module):
    """``F = LN(Linear(X))`` applied to the channels of a feature map.

    Args:
        in_channels: Channels of the input map.
        out_channels: Width after the projection.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.proj = nn.Linear(in_channels, out_channels)
        self.norm = nn.LayerNorm(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C_in, h, w) -> (B, C_out, h, w)."""
        batch, _, h, w = x.shape
        tokens = x.flatten(2).transpose(1, 2)  # (B, C_in, h, w) -> (B, h*w, C_in)
        tokens = self.norm(self.proj(tokens))  # (B, h*w, C_out)
        return tokens.transpose(1, 2).reshape(batch, -1, h, w)  # -> (B, C_out, h, w)


class ATMDecoder(nn.Module):
    """Class queries decoded over a sequence of feature maps, masks from attention.

    Args:
        num_classes: C; one query per class (query c is trained as class c).
        embed_dims: Width of queries and features.
        num_stages: Number of feature maps (stages) the queries visit, in order.
        num_layers: Decoder layers per stage.
        num_heads: Attention heads.
        ffn_channels: Hidden width of the FFNs.
        dropout: Residual / FFN dropout of the decoder layers.
        attn_drop: Attention-weight dropout of the decoder layers.
        predict_every_layer: False (ATM head): one prediction per stage, from
            its last layer. True (the single-stage ATM of SegViT's Shrunk head):
            every layer predicts, each supervised.
        accumulate_masks: Whether a prediction's mask logits add those of the
            earlier predictions (``M_s = Σ_{j≤s} S_j``, the ATM head) or stand
            alone (the Shrunk head's single stage).
    """

    def __init__(self, *, num_classes: int, embed_dims: int, num_stages: int, num_layers: int,
                 num_heads: int, ffn_channels: int, dropout: float = 0.1,
                 attn_drop: float = 0.1, predict_every_layer: bool = False,
                 accumulate_masks: bool = True) -> None:
        super().__init__()
        if num_stages < 1 or num_layers < 1:
            raise ValueError(f'ATMDecoder needs at least one stage and one layer per stage; '
                             f'got num_stages={num_stages}, num_layers={num_layers}')
        self.num_classes = num_classes
        self.predict_every_layer = predict_every_layer
        self.accumulate_masks = accumulate_masks
        self.queries = nn.Embedding(num_classes, embed_dims)
        self.stages = nn.ModuleList(
            nn.ModuleList(
                PostNormDecoderLayer(embed_dims, num_heads, ffn_channels=ffn_channels,
                                     dropout=dropout, attn_drop=attn_drop)
                for _ in range(num_layers)) for _ in range(num_stages))
        self.class_embed = nn.Linear(embed_dims, num_classes + 1)

    def forward(self, features: Sequence[Tensor], *, final_only: bool = False) -> ATMOutputs:
        """Runs the stages over ``features`` (each (B, C, h_s, w_s)), in order.

        Args:
            features: One map per stage, all of width ``embed_dims``.
            final_only: Return only the final prediction (inference): earlier
                points are computed only as far as the final masks need them
                (accumulation), without their class logits.

        Returns:
            Per prediction point (only the last with ``final_only``), class
            logits (B, C, C+1) and mask logits (B, C, h, w) at the resolution of
            the last feature map.
        """
        if len(features) != len(self.stages):
            raise ValueError(f'ATMDecoder has {len(self.stages)} stages but got '
                             f'{len(features)} feature maps')
        batch = features[0].shape[0]
        out_size = tuple(features[-1].shape[-2:])
        # (C, d) -> (B, C, d): the same learnt query per class for every image.
        query = self.queries.weight.unsqueeze(0).expand(batch, -1, -1)
        cls_logits: list[Tensor] = []
        mask_logits: list[Tensor] = []
        accumulated: Optional[Tensor] = None
        for stage, (layers, feature) in enumerate(zip(self.stages, features)):
            h, w = feature.shape[-2:]
            memory = feature.flatten(2).transpose(1, 2)  # (B, d, h, w) -> (B, h*w, d)
            for index, layer in enumerate(layers):
                is_point = self.predict_every_layer or index == len(layers) - 1
                is_final = stage == len(self.stages) - 1 and index == len(layers) - 1
                needs_masks = is_point and (is_final or not final_only or self.accumulate_masks)
                # Only the cross-attentions whose logits become masks compute them.
                query, logits = layer(query, memory, return_logits=needs_masks)
                if not needs_masks:
                    continue
                # Attention-to-Mask: (B, H, C, h*w) -> head mean (B, C, h*w) -> (B, C, h, w)
                masks = logits.mean(dim=1).reshape(batch, self.num_classes, h, w)
                if (h, w) != out_size:
                    masks = resize(masks, size=out_size, mode='bilinear', align_corners=False)
                if self.accumulate_masks:
                    masks = masks if accumulated is None else accumulated + masks
                    accumulated = masks
                if final_only and not is_final:
                    continue
                cls_logits.append(self.class_embed(query))  # (B, C, C+1)
                mask_logits.append(masks)
        return ATMOutputs(cls_logits, mask_logits)


class QueryUpsampler(nn.Module):
    """Query-based upsampling: a learnable query grid decoded over feature maps.

    Args:
        embed_dims: Width of queries and features.
        num_stages: Feature maps the grid visits, in order (early, late).
        num_layers: Decoder layers per stage.
        num_heads: Attention heads.
        ffn_channels: Hidden width of the FFNs.
        grid_size: (h, w) of the stored query grid (training crop / 16).
        dropout: Residual / FFN dropout.
        attn_drop: Attention-weight dropout.
        interpolate_mode: How the grid is resized to other inputs' 1/16 grid.
    """

    def __init__(self, *, embed_dims: int, num_stages: int, num_layers: int, num_heads: int,
                 ffn_channels: int, grid_size: tuple[int, int], dropout: float = 0.1,
                 attn_drop: float = 0.1, interpolate_mode: str = 'bicubic') -> None:
        super().__init__()
        if len(grid_size) != 2 or min(grid_size) < 1:
            raise ValueError(f'grid_size must be (h, w) of the 1/16 training grid, '
                             f'got {grid_size}')
        self.interpolate_mode = interpolate_mode
        # N(0, 1) as the official nn.Embedding; stored as a map to resize it.
        self.grid = nn.Parameter(torch.randn(1, embed_dims, *grid_size))
        self.stages = nn.ModuleList(
            nn.ModuleList(
                PostNormDecoderLayer(embed_dims, num_heads, ffn_channels=ffn_channels,
                                     dropout=dropout, attn_drop=attn_drop)
                for _ in range(num_layers)) for _ in range(num_stages))

    def forward(self, features: Sequence[Tensor], out_size: tuple[int, int]) -> Tensor:
        """Decodes the grid, resized to ``out_size``, over ``features`` (B, C, h_s, w_s).

        Returns:
            The decoded grid as a map (B, C, *out_size).
        """
        if len(features) != len(self.stages):
            raise ValueError(f'QueryUpsampler has {len(self.stages)} stages but got '
                             f'{len(features)} feature maps')
        batch = features[0].shape[0]
        # Resized always, not only when out_size differs: at the stored size the
        # resize is the identity (taps at integer positions), and without a
        # branch on the size an exported graph (ONNX) resizes for every input.
        grid = resize(self.grid, size=out_size, mode=self.interpolate_mode, align_corners=False)
        # (1, C, h, w) -> (1, h*w, C) -> (B, h*w, C)
        query = grid.flatten(2).transpose(1, 2).expand(batch, -1, -1)
        for layers, feature in zip(self.stages, features):
            memory = feature.flatten(2).transpose(1, 2)  # (B, C, h_s, w_s) -> (B, h_s*w_s, C)
            for layer in layers:
                query, _ = layer(query, memory)
        return query.transpose(1, 2).reshape(batch, -1, *out_size)  # (B, h*w, C) -> (B, C, h, w)
