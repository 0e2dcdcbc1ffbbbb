from .attention import MultiheadAttention, attention, merge_heads, split_heads
from .transformer_decoder import PostNormDecoderLayer

__all__ = ['MultiheadAttention', 'attention', 'merge_heads', 'split_heads',
           'PostNormDecoderLayer']
