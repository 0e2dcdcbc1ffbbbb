from .corruption import ImageCorruption
from .multi_scale_tta import MultiScaleTTA
from .loading import CheckedLoadAnnotations, CheckedLoadImageFromFile, DataFileError
from .upscale_to_window import UpscaleToWindow

__all__ = ['CheckedLoadAnnotations', 'CheckedLoadImageFromFile', 'DataFileError',
           'ImageCorruption', 'MultiScaleTTA', 'UpscaleToWindow']
