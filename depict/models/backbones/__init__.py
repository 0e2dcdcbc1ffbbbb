from .two_pathway_vit import TwoPathwayVisionTransformer

__all__ = ['TwoPathwayVisionTransformer']
