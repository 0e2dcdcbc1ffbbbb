from .corruption import ImageCorruption
from .loading import CheckedLoadAnnotations, CheckedLoadImageFromFile, DataFileError
from .test_time import UpscaleToWindow

__all__ = ['CheckedLoadAnnotations', 'CheckedLoadImageFromFile', 'DataFileError',
           'ImageCorruption', 'UpscaleToWindow']
