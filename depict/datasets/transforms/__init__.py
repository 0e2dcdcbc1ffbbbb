from .corruption import ImageCorruption
from .test_time import UpscaleToWindow

__all__ = ['ImageCorruption', 'UpscaleToWindow']
