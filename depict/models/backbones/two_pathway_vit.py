"""Decoupled two-pathway ViT (Hong et al., arXiv 2212.13764; RECONSTRUCTION).

The paper states: besides the pretrained transformer layers, a second pathway
of lightweight blocks (LSBs) "enhances and passes down local-patch discrepancy
complementary to global representations of transformers". Its code was never
released; the operators here are our reconstruction (``docs/repsep.md``):

* the transformer pathway is mmseg's :class:`VisionTransformer`, unchanged
  (same modules, same parameter names; our :class:`FusedVisionTransformer`
  base, fused SDPA attention unless ``fused_attn=False``), so pretrained ViT
  checkpoints load into it as they are; only ``local_pathway.*`` keys are new;
* after each chosen transformer layer a :class:`LocalSeparationBlock` reads the
  layer's local discrepancy and accumulates it in a c-channel convolutional
  state (one-way: the transformer tokens are never modified, hence
  "decoupled");
* the deepest backbone output (or each of ``fuse_indices``) gets the state
  added back at the transformer width: ``F_i = X_i + W_i · LN(L)``, so any
  decode head (Segmenter's, ours, DEPICT's, SegViT's) receives it unchanged.
"""
from typing import Optional, Sequence

from mmseg.models.utils import LayerNorm2d
from mmseg.registry import MODELS
from torch import Tensor, nn

from ..layers.separation import LocalSeparationBlock
from .vit_base import FusedVisionTransformer

__all__ = ['LocalPathway', 'TwoPathwayVisionTransformer']


def default_lsb_indices(num_layers: int) -> tuple[int, ...]:
    """The last layer of each quarter of the depth, e.g. (5, 11, 17, 23) for 24 layers.

    The same split as ViT-Adapter's four interaction stages; the last index is
    always the last layer, so the deepest output carries the whole pathway.
    """
    return tuple(sorted({max(0, (num_layers * q) // 4 - 1) for q in (1, 2, 3, 4)}))


class LocalPathway(nn.Module):
    """The local pathway: LSBs keyed by the transformer layer they follow, and
    one fusion projection per backbone output that receives the pathway.

    Args:
        embed_dims: Transformer width d.
        channels: Pathway width c.
        lsb_indices: Transformer layers (0-based) after which an LSB runs.
        fuse_indices: Backbone output layers that receive the pathway state.
        kernel_size: Odd window of the LSB convolutions.
        mlp_ratio: MLP ratio of the LSB refinement.
    """

    def __init__(self, *, embed_dims: int, channels: int, lsb_indices: Sequence[int],
                 fuse_indices: Sequence[int], kernel_size: int = 3, mlp_ratio: int = 4) -> None:
        super().__init__()
        self.blocks = nn.ModuleDict({
            str(i): LocalSeparationBlock(in_channels=embed_dims, channels=channels,
                                         kernel_size=kernel_size, mlp_ratio=mlp_ratio)
            for i in lsb_indices
        })
        self.fuse_norms = nn.ModuleDict({str(i): LayerNorm2d(channels, eps=1e-6)
                                         for i in fuse_indices})
        self.fuse_projs = nn.ModuleDict({str(i): nn.Conv2d(channels, embed_dims, 1)
                                         for i in fuse_indices})
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialises every block and fusion (std-0.02 projections)."""
        for block in self.blocks.values():
            block.reset_parameters()
        for norm in self.fuse_norms.values():
            nn.init.ones_(norm.weight)
            nn.init.zeros_(norm.bias)
        for proj in self.fuse_projs.values():
            nn.init.trunc_normal_(proj.weight, std=0.02)
            nn.init.zeros_(proj.bias)

    def fuse(self, layer_index: int, features: Tensor, state: Tensor) -> Tensor:
        """F_i = X_i + W_i · LN(L): features (B, d, h, w), state (B, c, h, w)."""
        key = str(layer_index)
        return features + self.fuse_projs[key](self.fuse_norms[key](state))


@MODELS.register_module()
class TwoPathwayVisionTransformer(FusedVisionTransformer):
    """mmseg's VisionTransformer plus a decoupled local pathway (reconstruction).

    With ``with_local_pathway=False`` this is
    :class:`mmseg.models.backbones.VisionTransformer` (no extra parameters, same
    outputs; exactly mmseg's forward with ``fused_attn=False``), which is how
    the ablation baseline switches the pathway off.

    Args:
        with_local_pathway: Switch of the local pathway (the paper's
            "two-pathway network").
        lsb_indices: Transformer layers (0-based) followed by an LSB. Defaults
            to the last layer of each quarter of the depth (ViT-L: 5, 11, 17, 23;
            ViT-B: 2, 5, 8, 11).
        local_channels: Width c of the pathway (lightweight: c ≪ d).
        local_kernel_size: Odd window of the LSBs' discrepancy filter and
            depthwise convolution.
        local_mlp_ratio: MLP ratio of the LSBs' refinement.
        fuse_indices: Backbone outputs (layer indices, a subset of
            ``out_indices`` at or after the first LSB) that receive the pathway.
            Defaults to the deepest output only: a head that reads one output
            (Segmenter, ours, DEPICT) then has no unused parameters (DDP);
            multi-level heads (SegViT) may list all the levels they read.
        **kwargs: Arguments of :class:`FusedVisionTransformer` (``fused_attn``)
            and :class:`VisionTransformer` (``num_layers``, ``embed_dims``,
            ``out_indices``, ``init_cfg``/``pretrained``...).
    """

    def __init__(self, *, with_local_pathway: bool = True,
                 lsb_indices: Optional[Sequence[int]] = None, local_channels: int = 256,
                 local_kernel_size: int = 3, local_mlp_ratio: int = 4,
                 fuse_indices: Optional[Sequence[int]] = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.with_local_pathway = with_local_pathway
        if not with_local_pathway:
            return
        num_layers = len(self.layers)
        if lsb_indices is None:
            lsb_indices = default_lsb_indices(num_layers)
        lsb_indices = tuple(int(i) for i in lsb_indices)
        if not lsb_indices or any(not 0 <= i < num_layers for i in lsb_indices) \
                or len(set(lsb_indices)) != len(lsb_indices):
            raise ValueError(f'lsb_indices={lsb_indices} must be distinct transformer layer '
                             f'indices in [0, {num_layers}) (0-based, num_layers={num_layers})')
        self.lsb_indices = tuple(sorted(lsb_indices))
        out_indices = tuple(self.out_indices)
        if max(out_indices) < self.lsb_indices[0]:
            raise ValueError(f'No output in out_indices={out_indices} is at or after the first '
                             f'LSB (layer {self.lsb_indices[0]}), so the local pathway would '
                             'never reach the decoder: lower lsb_indices.')
        fuse_indices = (max(out_indices), ) if fuse_indices is None else tuple(fuse_indices)
        bad = [i for i in fuse_indices if i not in out_indices or i < self.lsb_indices[0]]
        if not fuse_indices or bad:
            raise ValueError(f'fuse_indices={fuse_indices} must be a non-empty subset of '
                             f'out_indices={out_indices} at or after the first LSB '
                             f'(layer {self.lsb_indices[0]}); bad: {bad}')
        dead = [i for i in self.lsb_indices if i > max(fuse_indices)]
        if dead:
            raise ValueError(f'LSBs after layers {dead} run after the last fused output '
                             f'(layer {max(fuse_indices)}) and never reach the decoder: drop '
                             'them from lsb_indices or fuse a deeper output.')
        self.local_pathway = LocalPathway(
            embed_dims=self.cls_token.shape[-1], channels=local_channels,
            lsb_indices=self.lsb_indices, fuse_indices=fuse_indices,
            kernel_size=local_kernel_size, mlp_ratio=local_mlp_ratio)

    def init_weights(self) -> None:
        """Transformer pathway as mmseg does (pretrained checkpoint or ViT init);
        then the local pathway's own initialisation, which the ViT init (every
        Conv2d kaiming-initialised) would otherwise overwrite. A checkpoint
        without ``local_pathway.*`` keys logs exactly those keys as missing."""
        super().init_weights()
        if self.with_local_pathway:
            self.local_pathway.reset_parameters()

    def forward(self, inputs: Tensor) -> tuple:
        """Same outputs as VisionTransformer; the pathway state is added to the
        outputs listed in ``fuse_indices``. Works for any (H, W) (non-square,
        not multiples of the patch size: the patch embedding pads)."""
        if not self.with_local_pathway:
            return super().forward(inputs)
        outs = []
        state = None
        for step in self.iter_tokens(inputs):
            key = str(step.index)
            if step.index is not None and key in self.local_pathway.blocks:
                patches = step.tokens[:, self.num_prefix_tokens:]  # (B, h*w, d)
                state = self.local_pathway.blocks[key](patches, step.hw_shape, state)
            if not self.is_output(step.index):
                continue
            out = self.to_output(step.tokens, step.hw_shape)
            if state is not None and key in self.local_pathway.fuse_projs:
                if self.output_cls_token:
                    out = [self.local_pathway.fuse(step.index, out[0], state), out[1]]
                else:
                    out = self.local_pathway.fuse(step.index, out, state)
            outs.append(out)
        return tuple(outs)
