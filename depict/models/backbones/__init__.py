from .shrunk_vit import ShrunkVisionTransformer
from .two_pathway_vit import TwoPathwayVisionTransformer

__all__ = ['ShrunkVisionTransformer', 'TwoPathwayVisionTransformer']
