"""Shared pieces of the converters for the official Segmenter / DEPICT / SegViT checkpoints.

* :func:`load_official_checkpoint` reads a released file with ``weights_only=True``
  through an explicit allow-list (never with the check switched off);
* :class:`KeyMapper` renames keys with an ordered list of regular expressions and
  refuses unknown and missing keys, listing them;
* :func:`dataset_meta` gives the classes and palette written into the converted
  checkpoint's ``meta``.
"""
import re
from typing import Callable, Iterable, Optional, Sequence

import torch
from torch import Tensor

__all__ = ['OFFICIAL_EXTRA_GLOBALS', 'ConversionError', 'KeyMapper', 'load_official_checkpoint',
           'check_complete', 'dataset_meta', 'DATASETS']


class ConversionError(ValueError):
    """An official checkpoint does not fit the expected format; the message says how."""


#: Globals an official checkpoint may pickle beyond tensors and containers, on
#: top of depict's mmengine allow-list (numpy arrays / scalars / dtypes,
#: :data:`depict.compat.safe_unpickling.CHECKPOINT_GLOBALS`). Segmenter / DEPICT
#: ``checkpoint.pth`` holds ``model``, ``optimizer``, ``lr_scheduler``,
#: ``loss_scaler`` state dicts and ``epoch`` (plain values); SegViT's mmseg 0.x
#: checkpoints hold ``state_dict``, ``optimizer`` and a ``meta`` dict of strings,
#: numbers, class tuples and palette lists. None needs anything else, so the
#: list is empty; a file that pickles another global is refused, naming it.
OFFICIAL_EXTRA_GLOBALS: list = []


def load_official_checkpoint(path: str, extra_globals: Sequence = ()) -> dict:
    """Loads an official checkpoint with ``weights_only=True``.

    Args:
        path: The downloaded ``.pth`` file.
        extra_globals: Further globals to allow (on top of
            :data:`OFFICIAL_EXTRA_GLOBALS` and depict's mmengine allow-list);
            pass only classes you have checked are harmless.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        depict.compat.safe_unpickling.UnsafeCheckpointError: the file pickles a
            global outside the allow-list; the message names it.
    """
    from ..compat.safe_unpickling import load_local_checkpoint
    allowed = [*OFFICIAL_EXTRA_GLOBALS, *extra_globals]
    if not allowed:
        return load_local_checkpoint(path, map_location='cpu')
    with torch.serialization.safe_globals(allowed):
        return load_local_checkpoint(path, map_location='cpu')


Rule = tuple[str, str]


class KeyMapper:
    """Renames a state dict with ``(pattern, replacement)`` rules, first match wins.

    A replacement of ``None`` drops the key (e.g. the encoder's ImageNet
    classifier). Keys that no rule matches, and target keys that nothing
    produced, are errors listing them: a converter never loads partially.
    """

    def __init__(self, rules: Iterable[tuple[str, Optional[str]]]) -> None:
        self.rules = [(re.compile(pattern + '$'), repl) for pattern, repl in rules]

    def __call__(self, state_dict: dict[str, Tensor],
                 transform: Optional[Callable[[str, str, Tensor], Tensor]] = None
                 ) -> dict[str, Tensor]:
        out, unknown = {}, []
        for key, value in state_dict.items():
            for pattern, repl in self.rules:
                if pattern.match(key):
                    if repl is not None:
                        new_key = pattern.sub(repl, key)
                        out[new_key] = transform(key, new_key, value) if transform else value
                    break
            else:
                unknown.append(key)
        if unknown:
            raise ConversionError(
                f'{len(unknown)} key(s) of the official checkpoint have no counterpart here: '
                f'{", ".join(sorted(unknown))}. The file is not the format this converter '
                'reads (or a variant it does not know); nothing was written.')
        return out


def check_complete(converted: dict[str, Tensor], expected: Iterable[str], what: str) -> None:
    """Raises if ``converted`` lacks any of the ``expected`` keys, listing them."""
    missing = sorted(set(expected) - set(converted))
    if missing:
        raise ConversionError(
            f'the official {what} checkpoint lacks {len(missing)} tensor(s) the model needs: '
            f'{", ".join(missing)}; nothing was written.')


#: Dataset names used by the official code -> (mmseg dataset class, number of classes).
DATASETS = {
    'ade20k': ('ADE20KDataset', 150),
    'pascal_context': ('PascalContextDataset', 60),
    'pascal_context_59': ('PascalContextDataset59', 59),
    'cityscapes': ('CityscapesDataset', 19),
    'coco_stuff10k': ('COCOStuffDataset', 171),
}


def dataset_meta(dataset: Optional[str], num_classes: int) -> dict:
    """``dataset_meta`` (classes, palette) for ``num_classes`` classes.

    The dataset is the official code's name (``ade20k``, ``pascal_context``,
    ``cityscapes``, ...); without it, it is inferred from ``num_classes``.
    Unknown datasets get numbered class names (``class0``...) and a fixed
    palette, so a converted checkpoint always loads in ``tools/infer.py``.

    Raises:
        ConversionError: ``dataset`` is known but has another number of classes.
    """
    import mmseg.datasets  # noqa: F401  registers the dataset classes
    from mmseg.registry import DATASETS as MMSEG_DATASETS

    if dataset is None:
        dataset = next((name for name, (_, n) in DATASETS.items() if n == num_classes), None)
    if dataset in DATASETS:
        cls_name, expected = DATASETS[dataset]
        if expected != num_classes:
            raise ConversionError(
                f'the checkpoint predicts {num_classes} classes but the official {dataset} '
                f'has {expected}: check the variant / dataset name')
        meta = MMSEG_DATASETS.get(cls_name).METAINFO
        return dict(dataset=dataset, classes=tuple(meta['classes']),
                    palette=[list(c) for c in meta['palette']])
    generator = torch.Generator().manual_seed(0)
    palette = torch.randint(0, 256, (num_classes, 3), generator=generator).tolist()
    return dict(dataset=dataset, classes=tuple(f'class{i}' for i in range(num_classes)),
                palette=palette)
