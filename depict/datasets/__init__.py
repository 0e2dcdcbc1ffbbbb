from .toy import ToyDataset
from .toy_generator import TOY_CLASSES, generate_toy_dataset
from .transforms import UpscaleToWindow

__all__ = ['ToyDataset', 'TOY_CLASSES', 'generate_toy_dataset', 'UpscaleToWindow']
