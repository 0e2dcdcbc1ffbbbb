from .shrunk_vit import ShrunkVisionTransformer

__all__ = ['ShrunkVisionTransformer']
