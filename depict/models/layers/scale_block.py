"""EoMT's 2x upscaling block for the patch features of the mask readout.

EoMT (Kerssies et al., CVPR 2025, Sec. 3.2) upsamples the patch tokens of a
plain ViT to stride 4 before the query-patch products that give the masks,
with blocks of a 2x2 stride-2 transposed convolution, GELU, a 3x3 depthwise
convolution (no bias) and a LayerNorm over channels, as ViTDet's simple
feature pyramid upsamples.
"""
from timm.layers import LayerNorm2d
from torch import Tensor, nn

__all__ = ['ScaleBlock']


class ScaleBlock(nn.Module):
    """(B, C, h, w) -> (B, C, 2h, 2w).

    Args:
        channels: C, kept by every layer.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.ConvTranspose2d(channels, channels, kernel_size=2, stride=2)
        self.act = nn.GELU()
        self.conv2 = nn.Conv2d(channels, channels, kernel_size=3, padding=1, groups=channels,
                               bias=False)
        # timm's LayerNorm2d: LayerNorm over C at each position (eps 1e-6).
        self.norm = LayerNorm2d(channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(self.conv2(self.act(self.conv1(x))))
