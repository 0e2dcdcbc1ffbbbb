from .shrunk_vit import ShrunkVisionTransformer
from .timm_vit import TimmViT
from .two_pathway_beit import TwoPathwayBEiT, TwoPathwayMAE
from .two_pathway_pyramid import TwoPathwayMixVisionTransformer, TwoPathwaySwinTransformer
from .two_pathway_vit import TwoPathwayVisionTransformer
from .vit_base import FusedMultiheadAttention, FusedVisionTransformer, fuse_attention

__all__ = [
    'FusedMultiheadAttention', 'FusedVisionTransformer', 'ShrunkVisionTransformer', 'TimmViT',
    'TwoPathwayBEiT', 'TwoPathwayMAE', 'TwoPathwayMixVisionTransformer',
    'TwoPathwaySwinTransformer', 'TwoPathwayVisionTransformer', 'fuse_attention'
]
