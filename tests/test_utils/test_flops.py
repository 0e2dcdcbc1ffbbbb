"""The SDPA flop handle counts what the explicit attention formula counts."""
import torch
from torch import nn

from depict.models.layers import attention
from depict.utils.flops import count_flops


class Attend(nn.Module):

    def __init__(self, explicit: bool):
        super().__init__()
        self.explicit = explicit

    def forward(self, q, k, v):
        out = attention(q, k, v, return_logits=self.explicit)
        return out[0] if self.explicit else out


def test_sdpa_handle_matches_explicit_einsums():
    q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 9, 8), torch.randn(2, 3, 9, 6)
    fused, _ = count_flops(Attend(False), (q, k, v))
    explicit, _ = count_flops(Attend(True), (q, k, v))
    assert fused == explicit == 2 * 3 * 5 * 9 * (8 + 6)
