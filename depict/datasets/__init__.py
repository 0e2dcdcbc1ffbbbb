from .toy import DEFAULT_TOY_ROOT, ToyDataset
from .toy_generator import TOY_CLASSES, generate_toy_dataset
from .transforms import (CheckedLoadAnnotations, CheckedLoadImageFromFile, DataFileError,
                         ImageCorruption, MultiScaleTTA, UpscaleToWindow)

__all__ = ['CheckedLoadAnnotations', 'CheckedLoadImageFromFile', 'DataFileError',
           'DEFAULT_TOY_ROOT', 'ImageCorruption', 'MultiScaleTTA', 'ToyDataset', 'TOY_CLASSES',
           'UpscaleToWindow', 'generate_toy_dataset']
