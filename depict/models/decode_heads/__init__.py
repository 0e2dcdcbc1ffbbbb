from .repsep_head import RepSepHead

__all__ = ['RepSepHead']
