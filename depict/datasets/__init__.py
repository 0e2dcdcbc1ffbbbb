from .toy import ToyDataset
from .toy_generator import TOY_CLASSES, generate_toy_dataset
from .transforms import ImageCorruption, UpscaleToWindow

__all__ = ['ImageCorruption', 'ToyDataset', 'TOY_CLASSES', 'UpscaleToWindow', 'generate_toy_dataset']
