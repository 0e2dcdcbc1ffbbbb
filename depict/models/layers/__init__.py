from .attention import MultiheadAttention, attention, merge_heads, split_heads
from .class_masks import class_masks, prediction_size
from .coding_rate_attention import (MSCA, MSSA, MSCALayer, MSSALayer, SubspaceAttention,
                                    subspace_attention)
from .transformer_decoder import PostNormDecoderLayer

__all__ = [
    'MultiheadAttention', 'attention', 'merge_heads', 'split_heads', 'MSSA', 'MSCA',
    'MSSALayer', 'MSCALayer', 'SubspaceAttention', 'subspace_attention', 'PostNormDecoderLayer',
    'class_masks', 'prediction_size'
]
