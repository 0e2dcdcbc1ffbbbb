from .corruption import ImageCorruption
from .toy import ToyDataset
from .toy_generator import TOY_CLASSES, generate_toy_dataset

__all__ = ['ImageCorruption', 'ToyDataset', 'TOY_CLASSES', 'generate_toy_dataset']
