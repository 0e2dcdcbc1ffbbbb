"""Checks a config before a run starts, so that a wrong path fails in a second
with an actionable message instead of deep inside the Runner."""
import os
import os.path as osp
from typing import Iterator

from mmengine.config import Config

__all__ = ['check_data_roots']

_LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _datasets(dataset_cfg) -> Iterator[dict]:
    """The leaf dataset configs (through ConcatDataset / RepeatDataset wrappers)."""
    if dataset_cfg is None:
        return
    if isinstance(dataset_cfg, (list, tuple)):
        for item in dataset_cfg:
            yield from _datasets(item)
        return
    inner = dataset_cfg.get('datasets', dataset_cfg.get('dataset'))
    if inner is not None:
        yield from _datasets(inner)
    else:
        yield dataset_cfg


def check_data_roots(cfg: Config, loaders: tuple[str, ...] = _LOADERS) -> None:
    """Raises if a dataset's ``data_root`` does not exist.

    Datasets that write themselves on first use (``ToyDataset`` with
    ``generate=True``) are skipped.

    Raises:
        FileNotFoundError: naming the dataloader, the path and how to fix it.
    """
    for loader in loaders:
        loader_cfg = cfg.get(loader)
        if not loader_cfg:
            continue
        for dataset in _datasets(loader_cfg.get('dataset')):
            root = dataset.get('data_root')
            if not root or osp.isdir(root):
                continue
            if dataset.get('type') == 'ToyDataset' and dataset.get('generate', True):
                continue
            raise FileNotFoundError(
                f'{loader}.dataset.data_root={root!r} does not exist (relative paths '
                f'are resolved from {os.getcwd()}). Prepare the dataset as the README\'s '
                f'"Datasets" section says, or point the config at it with '
                f'--cfg-options {loader}.dataset.data_root=/path/to/{osp.basename(osp.normpath(root))}')
