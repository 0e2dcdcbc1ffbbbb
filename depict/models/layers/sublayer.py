"""The Transformer sub-layer pieces shared by the decoders: FFN and residual norm.

Vaswani et al. (NeurIPS 2017) wrap every sub-layer f (attention, FFN) in a
residual connection and a LayerNorm, after the sum (post-norm,
``x = LN(x + Dropout(f(x)))``, as SegViT's decoder layers) or before the branch
(pre-norm, ``x = x + Dropout(f(LN(x)))``, as ViTs and our DCA layers).
:class:`ResidualNorm` is that LayerNorm, with the residual it wraps; being a
LayerNorm it keeps the parameter names of a plain ``nn.LayerNorm`` attribute.
:class:`FFN` is timm's ``Mlp`` (Linear, activation, dropout, Linear).
"""
from typing import Callable

from timm.layers import Mlp
from torch import Tensor, nn

__all__ = ['FFN', 'ResidualNorm']


class FFN(Mlp):
    """Position-wise feed-forward network: ``fc2(Dropout(act(fc1(x))))``.

    timm's ``Mlp`` without dropout after ``fc2`` (the residual's dropout,
    :class:`ResidualNorm`, follows it).

    Args:
        embed_dims: Input and output width.
        hidden_channels: Hidden width.
        act_layer: Activation (ReLU in SegViT's layers, GELU in DCA's).
        dropout: Dropout after the activation.

    Checkpoints saved before version 2, when the FFNs were ``nn.Sequential``
    (``ffn.0`` / ``ffn.3`` in the post-norm decoder layer, ``ffn.0`` / ``ffn.2``
    in DCA), load: their two Linear layers become ``fc1`` and ``fc2``.
    """

    _version = 2

    def __init__(self, embed_dims: int, hidden_channels: int, *,
                 act_layer: type[nn.Module] = nn.GELU, dropout: float = 0.0) -> None:
        super().__init__(embed_dims, hidden_channels, act_layer=act_layer, drop=(dropout, 0.0))

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs) -> None:
        if local_metadata.get('version', 1) < 2:
            # Version 1 was nn.Sequential(Linear, act, [Dropout,] Linear): rename
            # its numbered Linear layers, in order, to fc1 and fc2.
            numbered = sorted({int(key[len(prefix):].split('.')[0]) for key in state_dict
                               if key.startswith(prefix)
                               and key[len(prefix):].split('.')[0].isdigit()})
            if numbered:
                if len(numbered) != 2:
                    error_msgs.append(f'{prefix}: a version-1 FFN has two Linear layers, '
                                      f'found indices {numbered}')
                else:
                    for index, name in zip(numbered, ('fc1', 'fc2')):
                        for param in ('weight', 'bias'):
                            old = f'{prefix}{index}.{param}'
                            if old in state_dict:
                                state_dict[f'{prefix}{name}.{param}'] = state_dict.pop(old)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)


class ResidualNorm(nn.LayerNorm):
    """A LayerNorm around a residual branch: ``x + Dropout(f(LN(x)))`` with
    ``norm_first``, else ``LN(x + Dropout(f(x)))``.

    Args:
        embed_dims: Width normalised.
        norm_first: Pre-norm (True) or post-norm (False).
        dropout: Dropout on the branch before the sum.
        eps: LayerNorm epsilon.
    """

    def __init__(self, embed_dims: int, *, norm_first: bool, dropout: float = 0.0,
                 eps: float = 1e-5) -> None:
        super().__init__(embed_dims, eps=eps)
        self.norm_first = norm_first
        self.dropout = nn.Dropout(dropout)

    def residual(self, x: Tensor, branch: Callable[[Tensor], Tensor]) -> Tensor:
        """The sub-layer's output for input ``x`` (…, D) and branch f."""
        if self.norm_first:
            return x + self.dropout(branch(self(x)))
        return self(x + self.dropout(branch(x)))
