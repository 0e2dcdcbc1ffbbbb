"""The toy dataset class: ADE20K-style data that writes itself on first use."""
import os.path as osp
from typing import Optional

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from .toy_generator import TOY_CLASSES, TOY_PALETTE, generate_toy_dataset

#: Where the toy configs keep the dataset (relative to the working directory);
#: the only place where a missing dataset is generated.
DEFAULT_TOY_ROOT = 'data/toy'


def toy_root_generates(data_root: str) -> bool:
    """Whether a missing ``data_root`` is the default one, which writes itself.

    Any other missing path is more likely a typo than a wish for a new dataset.
    """
    return osp.abspath(data_root) == osp.abspath(DEFAULT_TOY_ROOT)


def missing_toy_root_message(data_root: str) -> str:
    return (f'toy data_root {data_root!r} does not exist ({osp.abspath(data_root)}). The toy '
            f'dataset writes itself only at its default {DEFAULT_TOY_ROOT!r}; check the path '
            'for a typo, or generate it there first: python -c "from depict.datasets import '
            f'generate_toy_dataset; generate_toy_dataset({data_root!r})"')


@DATASETS.register_module()
class ToyDataset(BaseSegDataset):
    """Procedural scenes with 8 classes in ADE20K's layout (see
    :mod:`depict.datasets.toy_generator`).

    Labels are stored as 1..8 with 0 unlabelled, so ``reduce_zero_label=True``
    maps them to 0..7 and 0 to the ignore index, exactly as for ADE20K.

    Args:
        generate: If ``data_root`` is the default ``data/toy`` and does not
            exist, write the dataset there first (seeded, so every process
            writes the same files). Any other missing ``data_root`` is an error
            (a mistyped path must not silently become a new dataset).
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
        if data_root is not None and not osp.isdir(data_root):
            if not (generate and toy_root_generates(data_root)):
                raise FileNotFoundError(missing_toy_root_message(data_root))
            generate_toy_dataset(data_root, num_train=num_train, num_val=num_val, seed=seed)
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         reduce_zero_label=reduce_zero_label, data_root=data_root,
                         **kwargs)
