"""Decoupled two-pathway network on pyramid ViTs: mmseg's Swin and MiT (SegFormer).

Representation separation (Hong et al., arXiv 2212.13764; RECONSTRUCTION, see
docs/repsep.md) states that the two-pathway network also works with pyramid
ViTs and that pyramid ViTs with it beat high-resolution ViTs on Cityscapes.
The plain-ViT pathway (``two_pathway_vit.py``) keeps one grid; here every stage
has its own resolution and width, so:

* after each stage s, a :class:`LocalSeparationBlock` reads the stage's output
  tokens (C_s wide, grid h_s x w_s) into a c-channel state at that grid;
* between stages the state is box-averaged to the next stage's grid
  (adaptive average pooling, :func:`adaptive_box_mean`: exact for odd sizes,
  where Swin's patch merging and MiT's overlapping patch embedding both round
  up);
* every returned stage output receives the state at its own resolution,
  ``F_s = X_s + W_s · LN(L_s)``, so multi-level heads read fused maps at 1/4,
  1/8, 1/16 and 1/32.

The stages themselves are mmseg's, unchanged and only read (decoupled), so
Swin / MiT checkpoints load as they are (only ``local_pathway.*`` is new), and
``with_local_pathway=False`` is the plain mmseg backbone.
"""
from typing import Sequence

import torch
import torch.nn.functional as F
from mmseg.models.backbones import MixVisionTransformer, SwinTransformer
from mmseg.models.backbones.swin import ShiftWindowMSA
from mmseg.models.utils import LayerNorm2d, nlc_to_nchw
from mmseg.registry import MODELS
from torch import Tensor, nn

from ..layers.separation import LocalSeparationBlock, adaptive_box_mean
from .vit_base import size_generic_padding_

__all__ = ['PyramidLocalPathway', 'TwoPathwaySwinTransformer', 'TwoPathwayMixVisionTransformer',
           'SizeGenericShiftWindowMSA']


class SizeGenericShiftWindowMSA(ShiftWindowMSA):
    """mmseg's (shifted) window attention, written without a branch on the input size.

    Swin (Liu et al., ICCV 2021, Sec. 3.2): the grid is padded (zeros, bottom /
    right) to a multiple of the window M, cyclically shifted by M/2 in every
    other block, cut into M x M windows whose self-attention is masked so that
    tokens from regions the shift brought together do not attend to each other,
    then merged, shifted back and cropped. mmseg's forward computes the same,
    but three of its steps do not survive an export (``torch.export`` / ONNX)
    with symbolic height and width, each found by exporting at 64x64 and
    running at 48x80 and 75x53:

    * the crop runs only ``if pad_r > 0 or pad_b``: frozen to "no crop";
    * the shift mask is written region by region with slice assignments, and
      the merged windows are reshaped out of a crop; the tracer decides from
      the export-size strides whether those tensors are contiguous and records
      the answer as equations between the stage grids (``TORCH_LOGS=dynamic``
      showed, at 64x64, every grid equated with twice the next one);
    * the windows are merged with ``int(...)`` of sizes (the batch).

    Here the padding and the crop always run (the crop as a negative pad,
    which makes a new tensor), the mask is the region index computed from
    coordinates, and the batch is inferred. Same parameters and values as
    mmseg's (tests/test_deploy/test_exportable_forms.py).
    """

    def forward(self, query: Tensor, hw_shape) -> Tensor:
        batch, _, channels = query.shape
        height, width = hw_shape
        size, shift = self.window_size, self.shift_size
        # The next multiple of the window, written as a multiple so that a
        # tracer can divide it by the window exactly.
        padded_h = (height + size - 1) // size * size
        padded_w = (width + size - 1) // size * size
        # (B, h*w, C) -> (B, h, w, C) -> padded (B, h', w', C)
        grid = F.pad(query.view(batch, height, width, channels),
                     (0, 0, 0, padded_w - width, 0, padded_h - height))
        mask = None
        if shift > 0:  # a constant of the block, not of the input
            grid = torch.roll(grid, shifts=(-shift, -shift), dims=(1, 2))
            mask = self.shift_mask(padded_h, padded_w, query.device)
        # (B, h', w', C) -> (nW*B, M, M, C) -> (nW*B, M*M, C)
        windows = self.window_partition(grid).view(-1, size * size, channels)
        windows = self.w_msa(windows, mask=mask)
        # (nW*B, M*M, C) -> (nW*B, M, M, C) -> (B, h', w', C)
        grid = self.window_reverse(windows.view(-1, size, size, channels), padded_h, padded_w)
        if shift > 0:
            grid = torch.roll(grid, shifts=(shift, shift), dims=(1, 2))
        # Crop (B, h', w', C) -> (B, h, w, C) by a negative pad: a new tensor.
        grid = F.pad(grid, (0, 0, 0, width - padded_w, 0, height - padded_h))
        return self.drop(grid.view(batch, height * width, channels))

    def shift_mask(self, height: int, width: int, device) -> Tensor:
        """mmseg's SW-MSA mask for a padded (height, width) grid, (nW, M*M, M*M):
        0 between tokens of one region of the shifted grid, -100 otherwise.

        Along each axis the shifted grid has three regions, [0, H - M),
        [H - M, H - M/2) and [H - M/2, H) (mmseg's three slices); a token's
        region is its row region times 3 plus its column region (mmseg's
        counter over the slices, rows outer).
        """
        size, shift = self.window_size, self.shift_size
        rows = torch.arange(height, device=device)
        cols = torch.arange(width, device=device)
        row_region = (rows >= height - size).long() + (rows >= height - shift).long()
        col_region = (cols >= width - size).long() + (cols >= width - shift).long()
        # (H,) x (W,) -> (1, H, W, 1): mmseg's image mask layout, float as mmseg's
        regions = (row_region[:, None] * 3 + col_region[None, :]).float()[None, :, :, None]
        # (1, H, W, 1) -> (nW, M, M, 1) -> (nW, M*M)
        windows = self.window_partition(regions).view(-1, size * size)
        # (nW, 1, M*M) - (nW, M*M, 1) -> (nW, M*M, M*M)
        same = windows.unsqueeze(1) == windows.unsqueeze(2)
        return torch.zeros_like(same, dtype=torch.float32).masked_fill(~same, -100.0)

    def window_reverse(self, windows: Tensor, H: int, W: int) -> Tensor:  # noqa: N803 (mmseg's)
        """mmseg's, with the batch inferred (-1) instead of ``int(...)`` of sizes,
        which an export freezes to the export batch."""
        size, channels = self.window_size, windows.shape[-1]
        # (nW*B, ws, ws, C) -> (B, H/ws, W/ws, ws, ws, C) -> (B, H, W, C)
        x = windows.view(-1, H // size, W // size, size, size, channels)
        return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, H, W, channels)


class PyramidLocalPathway(nn.Module):
    """One LSB per stage (stage width in, pathway width c) and one fusion per
    fused stage (c back to the stage width).

    Args:
        stage_channels: Output width of every stage.
        channels: Pathway width c.
        fuse_indices: Stages whose outputs receive the state.
        kernel_size: Odd window of the LSB convolutions.
        mlp_ratio: MLP ratio of the LSB refinement.
    """

    def __init__(self, *, stage_channels: Sequence[int], channels: int,
                 fuse_indices: Sequence[int], kernel_size: int = 3, mlp_ratio: int = 4) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            LocalSeparationBlock(in_channels=width, channels=channels, kernel_size=kernel_size,
                                 mlp_ratio=mlp_ratio) for width in stage_channels)
        self.fuse_norms = nn.ModuleDict({str(i): LayerNorm2d(channels, eps=1e-6)
                                         for i in fuse_indices})
        self.fuse_projs = nn.ModuleDict({str(i): nn.Conv2d(channels, stage_channels[i], 1)
                                         for i in fuse_indices})
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for block in self.blocks:
            block.reset_parameters()
        for norm in self.fuse_norms.values():
            nn.init.ones_(norm.weight)
            nn.init.zeros_(norm.bias)
        for proj in self.fuse_projs.values():
            nn.init.trunc_normal_(proj.weight, std=0.02)
            nn.init.zeros_(proj.bias)

    def step(self, stage: int, tokens: Tensor, hw_shape: tuple[int, int], state):
        """State after stage ``stage``: the previous state pooled to this
        stage's grid, then updated from the stage's tokens (B, h*w, C_s)."""
        if state is not None:  # (identity when the grid is unchanged)
            state = adaptive_box_mean(state, hw_shape)  # (B, c, h_s, w_s)
        return self.blocks[stage](tokens, hw_shape, state)

    def fuse(self, stage: int, features: Tensor, state: Tensor) -> Tensor:
        """F_s = X_s + W_s · LN(L_s); features (B, C_s, h, w), state (B, c, h, w)."""
        key = str(stage)
        if key not in self.fuse_projs:
            return features
        return features + self.fuse_projs[key](self.fuse_norms[key](state))


def _fuse_indices(out_indices: Sequence[int], fuse_indices) -> tuple[int, ...]:
    fuse = tuple(out_indices) if fuse_indices is None else tuple(fuse_indices)
    bad = [i for i in fuse if i not in out_indices]
    if not fuse or bad:
        raise ValueError(f'fuse_indices={fuse} must be a non-empty subset of out_indices='
                         f'{tuple(out_indices)}; bad: {bad}')
    return fuse


_ARGS = """
    Args:
        with_local_pathway: Switch; False gives mmseg's backbone exactly.
        local_channels: Pathway width c (one width for every stage).
        local_kernel_size: Odd window of the LSBs.
        local_mlp_ratio: MLP ratio of the LSBs' refinement.
        fuse_indices: Stages (in ``out_indices``) whose outputs receive the
            pathway; default all returned stages (multi-level heads read them).
        **kwargs: Arguments of mmseg's backbone.
"""


@MODELS.register_module()
class TwoPathwaySwinTransformer(SwinTransformer):
    __doc__ = "mmseg's Swin Transformer plus the decoupled local pathway (reconstruction).\n" \
        + _ARGS

    def __init__(self, *, with_local_pathway: bool = True, local_channels: int = 64,
                 local_kernel_size: int = 3, local_mlp_ratio: int = 4, fuse_indices=None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        # No branch on the input size an exported graph would freeze (ONNX):
        # the patch embedding / merging pad and the window attention crop always.
        size_generic_padding_(self)
        for module in self.modules():
            if type(module) is ShiftWindowMSA:
                module.__class__ = SizeGenericShiftWindowMSA
        self.with_local_pathway = with_local_pathway
        if with_local_pathway:
            self.local_pathway = PyramidLocalPathway(
                stage_channels=self.num_features, channels=local_channels,
                fuse_indices=_fuse_indices(self.out_indices, fuse_indices),
                kernel_size=local_kernel_size, mlp_ratio=local_mlp_ratio)
        # mmseg's Swin applies ``frozen_stages`` only in ``train()``; freezing now
        # keeps the frozen parameters out of an optimizer built before that call
        # (mmengine's runner builds it first). The local pathway is never frozen.
        self._freeze_stages()

    def init_weights(self) -> None:
        super().init_weights()
        if self.with_local_pathway:
            self.local_pathway.reset_parameters()

    def forward(self, x: Tensor) -> list[Tensor]:
        if not self.with_local_pathway:
            return super().forward(x)
        x, hw_shape = self.patch_embed(x)  # (B, h*w, C_0)
        if self.use_abs_pos_embed:
            x = x + self.absolute_pos_embed
        x = self.drop_after_pos(x)
        outs, state = [], None
        last = max(self.local_pathway.fuse_projs, key=int)
        for i, stage in enumerate(self.stages):
            # out: the stage's tokens before patch merging (B, h_i*w_i, C_i).
            x, hw_shape, out, out_hw_shape = stage(x, hw_shape)
            if i <= int(last):
                state = self.local_pathway.step(i, out, out_hw_shape, state)
            if i in self.out_indices:
                out = getattr(self, f'norm{i}')(out)
                # (B, h*w, C_i) -> (B, h, w, C_i) -> (B, C_i, h, w)
                out = out.view(-1, *out_hw_shape, self.num_features[i]).permute(0, 3, 1, 2)
                outs.append(self.local_pathway.fuse(i, out.contiguous(), state))
        return outs


@MODELS.register_module()
class TwoPathwayMixVisionTransformer(MixVisionTransformer):
    __doc__ = "mmseg's MiT (SegFormer) plus the decoupled local pathway (reconstruction).\n" \
        + _ARGS

    def __init__(self, *, with_local_pathway: bool = True, local_channels: int = 64,
                 local_kernel_size: int = 3, local_mlp_ratio: int = 4, fuse_indices=None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.with_local_pathway = with_local_pathway
        if with_local_pathway:
            widths = [self.embed_dims * heads for heads in self.num_heads]
            self.local_pathway = PyramidLocalPathway(
                stage_channels=widths, channels=local_channels,
                fuse_indices=_fuse_indices(self.out_indices, fuse_indices),
                kernel_size=local_kernel_size, mlp_ratio=local_mlp_ratio)

    def init_weights(self) -> None:
        super().init_weights()
        if self.with_local_pathway:
            self.local_pathway.reset_parameters()

    def forward(self, x: Tensor) -> list[Tensor]:
        if not self.with_local_pathway:
            return super().forward(x)
        outs, state = [], None
        last = int(max(self.local_pathway.fuse_projs, key=int))
        for i, layer in enumerate(self.layers):
            x, hw_shape = layer[0](x)  # overlapping patch embedding: (B, h*w, C_i)
            for block in layer[1]:
                x = block(x, hw_shape)
            x = layer[2](x)
            if i <= last:
                state = self.local_pathway.step(i, x, hw_shape, state)
            x = nlc_to_nchw(x, hw_shape)  # (B, h*w, C_i) -> (B, C_i, h, w)
            if i in self.out_indices:
                outs.append(self.local_pathway.fuse(i, x, state))
        return outs
