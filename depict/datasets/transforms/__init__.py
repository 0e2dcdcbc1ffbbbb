from .corruption import ImageCorruption
from .loading import CheckedLoadAnnotations, CheckedLoadImageFromFile, DataFileError
from .upscale_to_window import UpscaleToWindow

__all__ = ['CheckedLoadAnnotations', 'CheckedLoadImageFromFile', 'DataFileError',
           'ImageCorruption', 'UpscaleToWindow']
