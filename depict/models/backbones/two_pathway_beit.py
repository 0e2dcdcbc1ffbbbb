"""Decoupled two-pathway network on masked-pretrained ViTs: mmseg's BEiT and MAE.

Representation separation (Hong et al., arXiv 2212.13764) reports its PASCAL
Context record with masked-pretrained plain ViTs. The transformer pathway here
is mmseg's :class:`~mmseg.models.backbones.BEiT` / :class:`~mmseg.models.backbones.MAE`,
unchanged (same modules and parameter names, so converted BEiT/MAE checkpoints
load as they are, with the relative-position-bias resizing of mmseg's
``init_weights``); the local pathway is the reconstruction's
:class:`~depict.models.backbones.two_pathway_vit.LocalPathway` (docs/repsep.md:
LSBs read the local discrepancy of chosen layers' patch tokens into a
c-channel state that is fused into the chosen outputs; the transformer tokens
are only read).

Window sizes: BEiT's relative position bias and MAE's absolute position
embedding are built for ``img_size`` and mmseg does not resample them at
forward time, so inputs must have the training crop's size (slide inference
with ``crop_size`` = ``img_size`` does that). Use :class:`TimmViT` for models
that need arbitrary windows.
"""
from typing import Optional, Sequence

import torch
from mmseg.models.backbones import BEiT, MAE
from mmseg.registry import MODELS
from torch import Tensor

from .frozen_stages import MMSegViTFrozenStagesMixin
from .two_pathway_vit import LocalPathway, default_lsb_indices

__all__ = ['TwoPathwayBEiT', 'TwoPathwayMAE']


def _check_pathway_indices(num_layers: int, out_indices: Sequence[int],
                           lsb_indices: Optional[Sequence[int]],
                           fuse_indices: Optional[Sequence[int]]):
    """(lsb_indices, fuse_indices) validated against the transformer depth."""
    if lsb_indices is None:
        lsb_indices = default_lsb_indices(num_layers)
    lsb = tuple(sorted(int(i) for i in lsb_indices))
    if not lsb or any(not 0 <= i < num_layers for i in lsb) or len(set(lsb)) != len(lsb):
        raise ValueError(f'lsb_indices={lsb_indices} must be distinct transformer layer indices '
                         f'in [0, {num_layers}) (0-based)')
    fuse = (max(out_indices), ) if fuse_indices is None else tuple(fuse_indices)
    bad = [i for i in fuse if i not in out_indices or i < lsb[0]]
    if not fuse or bad:
        raise ValueError(f'fuse_indices={fuse} must be a non-empty subset of out_indices='
                         f'{tuple(out_indices)} at or after the first LSB (layer {lsb[0]}); '
                         f'bad: {bad}')
    dead = [i for i in lsb if i > max(fuse)]
    if dead:
        raise ValueError(f'LSBs after layers {dead} never reach the decoder (last fused output: '
                         f'layer {max(fuse)}): drop them from lsb_indices or fuse a deeper output.')
    return lsb, fuse


class _TwoPathwayMixin:
    """The local pathway beside the layers of an mmseg BEiT-family backbone."""

    def _setup_pathway(self, *, with_local_pathway: bool, lsb_indices, local_channels: int,
                       local_kernel_size: int, local_mlp_ratio: int, fuse_indices) -> None:
        num_layers = len(self.layers)
        # mmseg keeps -1 inside a tuple (never matched in forward): normalise.
        self.out_indices = [i % num_layers for i in self.out_indices]
        self.with_local_pathway = with_local_pathway
        if not with_local_pathway:
            return
        self.lsb_indices, fuse = _check_pathway_indices(num_layers, self.out_indices,
                                                        lsb_indices, fuse_indices)
        self.local_pathway = LocalPathway(
            embed_dims=self.embed_dims, channels=local_channels, lsb_indices=self.lsb_indices,
            fuse_indices=fuse, kernel_size=local_kernel_size, mlp_ratio=local_mlp_ratio)

    def init_weights(self) -> None:
        """mmseg's init (or checkpoint, with its position-bias resizing), then the
        pathway's own initialisation (mmseg's would overwrite it)."""
        super().init_weights()
        if self.with_local_pathway:
            self.local_pathway.reset_parameters()

    def _add_position(self, x: Tensor) -> Tensor:
        """BEiT: positions live in each layer's relative bias; MAE overrides."""
        return x

    def forward(self, inputs: Tensor) -> tuple:
        """mmseg's outputs (CLS dropped, (B, d, h, w)); fused outputs get the state."""
        if not self.with_local_pathway:
            return super().forward(inputs)
        batch = inputs.shape[0]
        x, hw_shape = self.patch_embed(inputs)  # (B, h*w, d), (h, w)
        x = torch.cat((self.cls_token.expand(batch, -1, -1), x), dim=1)  # (B, 1 + h*w, d)
        x = self._add_position(x)
        outs, state = [], None
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i == last and self.final_norm:
                x = self.norm1(x)
            if str(i) in self.local_pathway.blocks:
                state = self.local_pathway.blocks[str(i)](x[:, 1:], hw_shape, state)
            if i in self.out_indices:
                patches = x[:, 1:]
                # (B, h*w, d) -> (B, h, w, d) -> (B, d, h, w)
                out = patches.reshape(batch, hw_shape[0], hw_shape[1], -1).permute(0, 3, 1, 2)
                out = out.contiguous()
                if str(i) in self.local_pathway.fuse_projs:
                    out = self.local_pathway.fuse(i, out, state)
                outs.append(out)
        return tuple(outs)


_ARGS = """
    Args:
        with_local_pathway: Switch of the local pathway; False gives mmseg's
            backbone exactly (no extra parameters, same forward).
        lsb_indices: Layers (0-based) followed by an LSB; default the last
            layer of each quarter of the depth.
        local_channels: Pathway width c.
        local_kernel_size: Odd window of the LSBs.
        local_mlp_ratio: MLP ratio of the LSBs' refinement.
        fuse_indices: Outputs (layer indices in ``out_indices``) that receive
            the pathway; default the deepest.
        frozen_stages: ``-1`` nothing frozen; ``0`` the patch embedding, CLS
            token (and MAE's position embedding); ``k`` those and layers
            ``0 .. k-1``; ``num_layers`` the whole transformer with its final
            norm (mmseg's Swin convention: ``requires_grad=False`` and eval
            mode; depict/models/backbones/frozen_stages.py). The local
            pathway is never frozen. With ``with_local_pathway=False`` this
            is mmseg's backbone with a frozen-stage option.
        **kwargs: Arguments of mmseg's backbone (``img_size``, ``embed_dims``,
            ``num_layers``, ``out_indices``, ``final_norm``, ``init_cfg``...).
"""


@MODELS.register_module()
class TwoPathwayBEiT(MMSegViTFrozenStagesMixin, _TwoPathwayMixin, BEiT):
    __doc__ = 'mmseg\'s BEiT plus the decoupled local pathway (reconstruction).\n' + _ARGS

    def __init__(self, *, with_local_pathway: bool = True,
                 lsb_indices: Optional[Sequence[int]] = None, local_channels: int = 256,
                 local_kernel_size: int = 3, local_mlp_ratio: int = 4,
                 fuse_indices: Optional[Sequence[int]] = None, frozen_stages: int = -1,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self._setup_pathway(with_local_pathway=with_local_pathway, lsb_indices=lsb_indices,
                            local_channels=local_channels, local_kernel_size=local_kernel_size,
                            local_mlp_ratio=local_mlp_ratio, fuse_indices=fuse_indices)
        self._setup_frozen_stages(frozen_stages)


@MODELS.register_module()
class TwoPathwayMAE(MMSegViTFrozenStagesMixin, _TwoPathwayMixin, MAE):
    __doc__ = 'mmseg\'s MAE plus the decoupled local pathway (reconstruction).\n' + _ARGS

    def __init__(self, *, with_local_pathway: bool = True,
                 lsb_indices: Optional[Sequence[int]] = None, local_channels: int = 256,
                 local_kernel_size: int = 3, local_mlp_ratio: int = 4,
                 fuse_indices: Optional[Sequence[int]] = None, frozen_stages: int = -1,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self._setup_pathway(with_local_pathway=with_local_pathway, lsb_indices=lsb_indices,
                            local_channels=local_channels, local_kernel_size=local_kernel_size,
                            local_mlp_ratio=local_mlp_ratio, fuse_indices=fuse_indices)
        self._setup_frozen_stages(frozen_stages)

    def _add_position(self, x: Tensor) -> Tensor:
        return x + self.pos_embed  # MAE's absolute positions, at img_size only (as mmseg)
