from .shrunk_vit import ShrunkVisionTransformer
from .two_pathway_vit import TwoPathwayVisionTransformer
from .vit_base import FusedMultiheadAttention, FusedVisionTransformer, fuse_attention

__all__ = ['FusedMultiheadAttention', 'FusedVisionTransformer', 'ShrunkVisionTransformer',
           'TwoPathwayVisionTransformer', 'fuse_attention']
