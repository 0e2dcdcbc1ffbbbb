from .eomt_vision_transformer import EoMTVisionTransformer
from .eomt_vit import EoMTFeatures, EoMTTimmViT
from .shrunk_vit import ShrunkVisionTransformer
from .timm_vit import TimmViT
from .two_pathway_beit import TwoPathwayBEiT, TwoPathwayMAE
from .two_pathway_pyramid import TwoPathwayMixVisionTransformer, TwoPathwaySwinTransformer
from .two_pathway_vit import TwoPathwayVisionTransformer
from .vit_base import FusedMultiheadAttention, FusedVisionTransformer, fuse_attention

__all__ = [
    'EoMTFeatures', 'EoMTTimmViT', 'EoMTVisionTransformer',
    'FusedMultiheadAttention', 'FusedVisionTransformer', 'ShrunkVisionTransformer', 'TimmViT',
    'TwoPathwayBEiT', 'TwoPathwayMAE', 'TwoPathwayMixVisionTransformer',
    'TwoPathwaySwinTransformer', 'TwoPathwayVisionTransformer', 'fuse_attention'
]
