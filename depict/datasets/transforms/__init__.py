from .corruption import ImageCorruption
from .upscale_to_window import UpscaleToWindow

__all__ = ['ImageCorruption', 'UpscaleToWindow']
