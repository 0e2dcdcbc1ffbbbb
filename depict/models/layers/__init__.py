from .attention import MultiheadAttention, attention, merge_heads, split_heads

__all__ = ['MultiheadAttention', 'attention', 'merge_heads', 'split_heads']
