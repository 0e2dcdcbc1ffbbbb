"""The toy dataset class: ADE20K-style data that writes itself on first use."""
import os.path as osp
from typing import Optional

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from .toy_generator import TOY_CLASSES, TOY_PALETTE, generate_toy_dataset


@DATASETS.register_module()
class ToyDataset(BaseSegDataset):
    """Procedural scenes with 8 classes in ADE20K's layout (see
    :mod:`depict.datasets.toy_generator`).

    Labels are stored as 1..8 with 0 unlabelled, so ``reduce_zero_label=True``
    maps them to 0..7 and 0 to the ignore index, exactly as for ADE20K.

    Args:
        generate: If ``data_root`` does not exist, write the dataset there
            first (seeded, so every process writes the same files).
        num_train: Training images to generate.
        num_val: Validation images to generate.
        seed: Seed of the generator.
        **kwargs: Passed to :class:`mmseg.datasets.BaseSegDataset`.
    """
    METAINFO = dict(classes=TOY_CLASSES, palette=TOY_PALETTE)

    def __init__(self, *, generate: bool = True, num_train: int = 320, num_val: int = 80,
                 seed: int = 0, img_suffix: str = '.jpg', seg_map_suffix: str = '.png',
                 reduce_zero_label: bool = True, data_root: Optional[str] = None,
                 **kwargs) -> None:
        if generate and data_root is not None and not osp.isdir(data_root):
            generate_toy_dataset(data_root, num_train=num_train, num_val=num_val, seed=seed)
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         reduce_zero_label=reduce_zero_label, data_root=data_root,
                         **kwargs)
