"""Building blocks of representation separation (Hong et al., arXiv 2212.13764).

The paper ("Representation Separation for Semantic Segmentation with Vision
Transformers") released no code and only its abstract and figure captions are
public. Everything below is a documented RECONSTRUCTION (see
``docs/repsep.md``): the paper names the modules and their purpose, the
operators are our design.

Both blocks counter the same ViT mechanism: self-attention is a low-pass
filter over tokens (Wang et al., ICLR 2022, "Anti-oversmoothing in deep vision
transformers"), so with depth every token drifts towards its neighbourhood's
(and ultimately the image's) mean and the high-frequency part, the difference
between a patch and its neighbours, fades. We call that difference the *local
discrepancy* ``r = z − μ_k(z)`` (μ_k: k×k box mean on the token grid):

* :class:`LocalSeparationBlock` (the paper's LSB, one per chosen ViT layer):
  reads the discrepancy of a transformer layer and accumulates it in a
  separate, lightweight convolutional pathway that is passed down to the
  decoder (the paper's decoupled two-pathway network);
* :class:`SpatiallyAdaptiveSeparation` (the paper's SASM): re-amplifies the
  discrepancy of deep features, with a gate predicted per location and channel.

Borders use replicate padding so that a constant map has zero discrepancy
everywhere (zero padding would invent a discrepancy at every image border).
"""
from typing import Optional

import torch
import torch.nn.functional as F
from mmseg.models.utils import LayerNorm2d, nchw_to_nlc, nlc_to_nchw
from torch import Tensor, nn

__all__ = ['box_mean', 'adaptive_box_mean', 'DiscrepancyConv', 'LocalSeparationBlock',
           'SpatiallyAdaptiveSeparation']


def _check_kernel_size(kernel_size: int) -> None:
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f'kernel_size={kernel_size} must be a positive odd integer '
                         '(the window is centred on each token)')


def box_mean(x: Tensor, kernel_size: int) -> Tensor:
    """μ_k(x): mean over the k×k neighbourhood of every position.

    Args:
        x: A map (B, C, h, w); h and w may differ and may be smaller than k.
        kernel_size: Odd window size k.

    Returns:
        The local means, (B, C, h, w). Borders are replicate-padded.
    """
    _check_kernel_size(kernel_size)
    pad = kernel_size // 2
    # Replicate padding needs a non-empty map; (B, C, h, w) -> (B, C, h+2p, w+2p).
    padded = F.pad(x, (pad, pad, pad, pad), mode='replicate')
    return F.avg_pool2d(padded, kernel_size, stride=1)


def _bin_average(in_size, out_size, like: Tensor) -> Tensor:
    """(out, in) matrix whose row i averages the adaptive-pooling bin i of one
    axis, positions [floor(i·in/out), ceil((i+1)·in/out)) (PyTorch's bins)."""
    index = torch.arange(out_size, device=like.device)
    start = index * in_size // out_size
    end = ((index + 1) * in_size + out_size - 1) // out_size
    position = torch.arange(in_size, device=like.device)
    # (1, in) against (out, 1) -> (out, in)
    inside = (position[None, :] >= start[:, None]) & (position[None, :] < end[:, None])
    return inside.to(like.dtype) / (end - start)[:, None].to(like.dtype)


def adaptive_box_mean(x: Tensor, size) -> Tensor:
    """``F.adaptive_avg_pool2d(x, size)`` written as two averaging matrices.

    The mean over a bin rectangle is the mean over its rows of the mean over
    its columns, so the pooling is ``A_h · x · A_wᵀ`` with one bin-averaging
    matrix per axis. This form holds for every input size in an exported graph;
    ``adaptive_avg_pool2d`` does not: the ONNX exporter writes it as one
    ``AveragePool`` whose kernel is fixed at the export size (2x2 for 16 -> 8),
    which at 19x14 returns 9x7 instead of 10x7, and the exported two-pathway
    Swin failed in ONNX Runtime at odd sizes. At equal sizes the matrices are
    the identity (the values pass unchanged).

    Args:
        x: A map (B, C, h, w).
        size: Output (h', w').

    Returns:
        (B, C, h', w'), equal to ``F.adaptive_avg_pool2d(x, size)`` up to float
        rounding.
    """
    rows = _bin_average(x.shape[-2], size[0], x)  # (h', h)
    cols = _bin_average(x.shape[-1], size[1], x)  # (w', w)
    return torch.einsum('oh,bchw,pw->bcop', rows, x, cols)


class DiscrepancyConv(nn.Conv2d):
    """Learnable local-discrepancy filter: a depthwise k×k convolution.

    Initialised to ``identity − box mean``, i.e. it starts out computing
    ``r = x − μ_k(x)`` exactly (a high-pass filter whose taps sum to zero), and
    training may reshape it per channel. No bias: a constant map keeps a zero
    response at initialisation.

    Args:
        channels: Channels of the map (depthwise: one filter per channel).
        kernel_size: Odd window size k.
    """

    def __init__(self, channels: int, *, kernel_size: int = 3) -> None:
        _check_kernel_size(kernel_size)
        super().__init__(channels, channels, kernel_size, padding=kernel_size // 2,
                         groups=channels, bias=False, padding_mode='replicate')
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Sets every channel's filter to ``δ − 1/k²`` (identity minus box mean)."""
        k = self.kernel_size[0]
        with torch.no_grad():
            self.weight.fill_(-1.0 / (k * k))
            self.weight[:, :, k // 2, k // 2] += 1.0


class LocalSeparationBlock(nn.Module):
    """One block of the local pathway (the paper's "LSB"; operators reconstructed).

    Runs beside transformer layer i and updates the pathway state
    L (B, c, h, w) from that layer's patch tokens X_i (B, h·w, d)::

        L ← L + W_in · D(LN(X_i))                      # read + pass down
        L ← L + W_2 · GELU(W_1 · LN2d(DW(L)))          # local refinement

    D is :class:`DiscrepancyConv` (starts as x − μ_k(x)), so the pathway only
    ever receives the high-frequency part of the transformer features, the part
    self-attention smooths away, and accumulates it from shallow to deep layers
    (shallow layers keep more of it). W_in is a 1×1 projection d → c (c ≪ d:
    the pathway is lightweight). The refinement is a ConvNeXt-style block
    (depthwise k×k, channel LayerNorm, pointwise MLP) that relates each patch to
    its neighbours. The transformer tokens are only read, never written: the
    two pathways are decoupled, and the pretrained transformer runs unchanged.

    Args:
        in_channels: Width d of the transformer tokens.
        channels: Width c of the local pathway.
        kernel_size: Odd window of the discrepancy filter and of the depthwise
            convolution.
        mlp_ratio: Hidden width of the pointwise MLP, in multiples of c.
    """

    def __init__(self, *, in_channels: int, channels: int, kernel_size: int = 3,
                 mlp_ratio: int = 4) -> None:
        super().__init__()
        _check_kernel_size(kernel_size)
        self.in_norm = nn.LayerNorm(in_channels, eps=1e-6)
        self.discrepancy = DiscrepancyConv(in_channels, kernel_size=kernel_size)
        self.in_proj = nn.Conv2d(in_channels, channels, 1)
        self.dwconv = nn.Conv2d(channels, channels, kernel_size, padding=kernel_size // 2,
                                groups=channels, padding_mode='replicate')
        self.norm = LayerNorm2d(channels, eps=1e-6)
        self.fc1 = nn.Conv2d(channels, mlp_ratio * channels, 1)
        self.act = nn.GELU()
        self.fc2 = nn.Conv2d(mlp_ratio * channels, channels, 1)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Truncated-normal 1×1 projections (std 0.02), high-pass discrepancy filter."""
        for conv in (self.in_proj, self.fc1, self.fc2):
            nn.init.trunc_normal_(conv.weight, std=0.02)
            nn.init.zeros_(conv.bias)
        self.discrepancy.reset_parameters()
        self.dwconv.reset_parameters()
        self.in_norm.reset_parameters()
        nn.init.ones_(self.norm.weight)
        nn.init.zeros_(self.norm.bias)

    def forward(self, tokens: Tensor, hw_shape: tuple[int, int],
                state: Optional[Tensor] = None) -> Tensor:
        """Updates the pathway state.

        Args:
            tokens: Patch tokens of the transformer layer (CLS removed), (B, h·w, d).
            hw_shape: Token grid (h, w).
            state: Previous state (B, c, h, w), or None for the first block.

        Returns:
            The new state, (B, c, h, w).
        """
        x = nlc_to_nchw(self.in_norm(tokens), hw_shape)  # (B, h*w, d) -> (B, d, h, w)
        update = self.in_proj(self.discrepancy(x))  # (B, c, h, w)
        state = update if state is None else state + update
        return state + self.fc2(self.act(self.fc1(self.norm(self.dwconv(state)))))


class SpatiallyAdaptiveSeparation(nn.Module):
    """Spatially adaptive separation module (the paper's SASM; operator reconstructed).

    For tokens Z (B, h·w, d) on an (h, w) grid::

        μ  = μ_k(Z)                     # local context (k×k box mean), or the
                                        # image mean (DC) when kernel_size is None
        r  = Z − μ                      # discrepancy: what attention smooths away
        g  = σ(W_2 · GELU(W_1 · [LN(Z) ‖ LN(μ)]))   # (B, h·w, d), per location/channel
        Z' = Z + s ⊙ g ⊙ r  =  μ + (1 + s ⊙ g) ⊙ r

    i.e. the high-frequency component is re-amplified by a factor in (1, 1+s),
    chosen per location from the token and its context: large where a patch
    differs from its surroundings for a reason (boundaries, small objects),
    small inside homogeneous regions where the difference is noise. FeatScale
    (Wang et al., ICLR 2022) rescales the non-DC band with one learnt weight per
    channel for the whole image; SASM makes that weight spatially adaptive.

    Args:
        channels: Token width d.
        kernel_size: Odd window of the local context; None uses the image
            mean (the DC component) instead.
        reduction: Hidden width of the gate MLP is ``2d / reduction``.
        init_scale: Initial value of the per-channel scale s.
    """

    def __init__(self, *, channels: int, kernel_size: Optional[int] = 3, reduction: int = 4,
                 init_scale: float = 1.0) -> None:
        super().__init__()
        if kernel_size is not None:
            _check_kernel_size(kernel_size)
        if reduction < 1 or (2 * channels) % reduction:
            raise ValueError(f'reduction={reduction} must be >= 1 and divide 2 * channels '
                             f'= {2 * channels}')
        self.kernel_size = kernel_size
        self.norm = nn.LayerNorm(channels, eps=1e-6)
        hidden = 2 * channels // reduction
        self.gate = nn.Sequential(nn.Linear(2 * channels, hidden), nn.GELU(),
                                  nn.Linear(hidden, channels))
        self.scale = nn.Parameter(torch.full((channels, ), float(init_scale)))
        self.init_scale = init_scale
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Truncated-normal gate (std 0.02, zero bias: g ≈ 0.5 at start), s = init_scale."""
        for layer in (self.gate[0], self.gate[2]):
            nn.init.trunc_normal_(layer.weight, std=0.02)
            nn.init.zeros_(layer.bias)
        self.norm.reset_parameters()
        with torch.no_grad():
            self.scale.fill_(self.init_scale)

    def context(self, tokens: Tensor, hw_shape: tuple[int, int]) -> Tensor:
        """μ: the k×k box mean (or the image mean) of every token, (B, h·w, d)."""
        if self.kernel_size is None:
            return tokens.mean(dim=1, keepdim=True).expand_as(tokens)
        grid = nlc_to_nchw(tokens, hw_shape)  # (B, h*w, d) -> (B, d, h, w)
        return nchw_to_nlc(box_mean(grid, self.kernel_size))  # (B, d, h, w) -> (B, h*w, d)

    def forward(self, tokens: Tensor, hw_shape: tuple[int, int]) -> Tensor:
        """Separates tokens (B, h·w, d) on an (h, w) grid; returns (B, h·w, d)."""
        if tokens.shape[1] != hw_shape[0] * hw_shape[1]:
            raise ValueError(f'{tokens.shape[1]} tokens do not fill the grid {tuple(hw_shape)}')
        context = self.context(tokens, hw_shape)
        gate = torch.sigmoid(self.gate(torch.cat([self.norm(tokens), self.norm(context)], -1)))
        return tokens + self.scale * gate * (tokens - context)
