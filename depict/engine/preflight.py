"""Checks a config before a run starts, so that a wrong path fails in a second
with an actionable message instead of deep inside the Runner."""
import difflib
import inspect
import os
import os.path as osp
import time
from typing import Iterable, Iterator, Optional

from mmengine.config import Config

__all__ = ['check_data_roots', 'check_cfg_options', 'check_dataset_files']

#: Top-level keys that mmengine's Runner (and our tools) read although a config
#: need not define them: ``--cfg-options`` may add these.
RUNNER_KEYS = frozenset({
    'model', 'work_dir', 'train_dataloader', 'val_dataloader', 'test_dataloader',
    'train_cfg', 'val_cfg', 'test_cfg', 'auto_scale_lr', 'optim_wrapper', 'param_scheduler',
    'val_evaluator', 'test_evaluator', 'default_hooks', 'custom_hooks', 'data_preprocessor',
    'load_from', 'resume', 'launcher', 'env_cfg', 'log_processor', 'log_level', 'visualizer',
    'default_scope', 'randomness', 'experiment_name', 'runner_type', 'custom_imports',
    'tta_model', 'tta_pipeline', 'strategy', 'compile', 'cfg', 'vis_backends',
})

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


def check_cfg_options(cfg: Config, options: Optional[dict]) -> None:
    """Rejects ``--cfg-options`` whose top-level key the config does not have.

    ``merge_from_dict`` happily adds ``trian_cfg.max_iters=1`` as a new, unused
    key and the full run starts; an unknown top-level key is almost always a
    typo. Keys that the Runner reads without the config defining them
    (:data:`RUNNER_KEYS`) are allowed.

    Raises:
        KeyError: naming the key and the closest valid names.
    """
    if not options:
        return
    known = set(cfg.keys()) | RUNNER_KEYS
    for option in options:
        key = option.split('.', 1)[0]
        if key in known:
            continue
        close = difflib.get_close_matches(key, sorted(known), n=3, cutoff=0.6)
        hint = f'did you mean {" or ".join(repr(c) for c in close)}? ' if close else ''
        raise KeyError(
            f'--cfg-options {option}: the config has no top-level key {key!r}; {hint}'
            f'(valid top-level keys: {", ".join(sorted(cfg.keys()))})')


def check_data_roots(cfg: Config, loaders: tuple[str, ...] = _LOADERS) -> None:
    """Raises if a dataset's ``data_root`` does not exist or has no images.

    The toy dataset's default root, which writes itself on first use, is
    skipped; any other missing toy root is an error (a mistyped path).

    Raises:
        FileNotFoundError: naming the dataloader, the path and how to fix it.
    """
    for loader in loaders:
        loader_cfg = cfg.get(loader)
        if not loader_cfg:
            continue
        for dataset in _datasets(loader_cfg.get('dataset')):
            root = dataset.get('data_root')
            if root and osp.isdir(root):
                _check_has_images(loader, dataset)
                continue
            if not root:
                continue
            if dataset.get('type') == 'ToyDataset':
                from depict.datasets.toy import missing_toy_root_message, toy_root_generates
                if dataset.get('generate', True) and toy_root_generates(root):
                    continue
                raise FileNotFoundError(f'{loader}.dataset: {missing_toy_root_message(root)}')
            raise FileNotFoundError(
                f'{loader}.dataset.data_root={root!r} does not exist (relative paths '
                f'are resolved from {os.getcwd()}). Prepare the dataset as the README\'s '
                f'"Datasets" section says, or point the config at it with '
                f'--cfg-options {loader}.dataset.data_root=/path/to/{osp.basename(osp.normpath(root))}')


def _default_img_suffix(dataset: dict) -> Optional[str]:
    """The dataset's ``img_suffix``: the config's, else its class's default."""
    if dataset.get('img_suffix'):
        return dataset['img_suffix']
    try:
        from mmseg.registry import DATASETS
        cls = DATASETS.get(dataset.get('type'))
        return inspect.signature(cls.__init__).parameters['img_suffix'].default
    except Exception:  # unknown class or no such argument: do not guess
        return None


def _check_has_images(loader: str, dataset: dict) -> None:
    """An image folder without a single image makes mmengine fail with
    ``need at least one array to concatenate``; say which folder instead."""
    if dataset.get('ann_file'):
        return  # the split file decides; check_dataset.py checks it
    folder = osp.join(dataset['data_root'], dataset.get('data_prefix', {}).get('img_path', ''))
    suffix = _default_img_suffix(dataset)
    if not osp.isdir(folder) or suffix is None:
        return
    for _, _, files in os.walk(folder, followlinks=True):
        if any(name.endswith(suffix) for name in files):
            return
    raise FileNotFoundError(
        f'{loader}.dataset: no images (*{suffix}) under {folder}. Put the images there '
        f'(with their label maps under data_prefix.seg_map_path), fix data_prefix.img_path, '
        f'or set img_suffix if the files end differently.')


def _file_problem(path: str, label: bool) -> tuple[Optional[str], Optional[tuple]]:
    """(what is wrong with the file or None, its (W, H) size) from its header.

    Decodes nothing: Pillow reads only the header; a PNG's end is checked for
    the IEND chunk, which a truncated copy lacks.
    """
    from PIL import Image
    try:
        if os.path.getsize(path) == 0:
            return 'is empty (0 bytes)', None
        with Image.open(path) as image:
            size, mode, fmt = image.size, image.mode, image.format
    except FileNotFoundError:
        return 'is missing', None
    except Exception as err:
        return f'is not a readable image ({type(err).__name__}: {err})', None
    if fmt == 'PNG':
        with open(path, 'rb') as f:
            f.seek(-12, os.SEEK_END)
            if f.read(12)[4:8] != b'IEND':
                return 'is truncated (the PNG has no end marker)', size
    if label and mode not in ('L', 'P', 'I', 'I;16', 'I;16B', 'I;16L', '1'):
        return (f'has {len(mode)} channels (mode {mode}); label maps must be single-channel '
                'class indices, not colour renderings'), size
    return None, size


def _pair_problems(pair: tuple) -> list[str]:
    """What is wrong with one image / label-map pair (empty: nothing)."""
    img_path, seg_path = pair
    problems = []
    img_problem, img_size = _file_problem(img_path, label=False)
    if img_problem:
        problems.append(f'image {img_path} {img_problem}')
    if not seg_path or not osp.exists(seg_path):
        return problems  # test splits without labels; missing ones: mmseg names them
    seg_problem, seg_size = _file_problem(seg_path, label=True)
    if seg_problem:
        problems.append(f'label map {seg_path} {seg_problem}')
    elif img_size and seg_size and img_size != seg_size:
        problems.append(f'label map {seg_path} is {seg_size[0]}x{seg_size[1]} but its '
                        f'image {img_path} is {img_size[0]}x{img_size[1]} (labels would '
                        'be misaligned)')
    return problems


def check_dataset_files(dataset, name: str = 'dataset', max_listed: int = 5) -> float:
    """Checks every image / label-map pair of a built dataset from file headers.

    Finds what would otherwise crash a run late with an error naming no file
    (zero-byte or truncated files, colour label maps) or silently misalign the
    labels (a label map whose size differs from its image).

    Args:
        dataset: A built mmseg dataset (``get_data_info`` with ``img_path`` and
            ``seg_map_path``).
        name: How the error calls the dataset (e.g. ``train_dataloader``).
        max_listed: How many bad files the error lists.

    Returns:
        The seconds the check took.

    Raises:
        ValueError: listing the bad files, what is wrong and the fix.
    """
    start = time.perf_counter()
    pairs = [(info.get('img_path'), info.get('seg_map_path'))
             for info in (dataset.get_data_info(i) for i in range(len(dataset)))]
    # Header reads wait on the disk, not the CPU: a few threads hide the latency.
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=8) as pool:
        found = pool.map(_pair_problems, pairs, chunksize=64)
    problems = [problem for pair in found for problem in pair]
    if problems:
        listed = '\n  '.join(problems[:max_listed])
        more = f'\n  ... and {len(problems) - max_listed} more' if len(problems) > max_listed \
            else ''
        raise ValueError(
            f'{name}: {len(problems)} bad dataset file(s):\n  {listed}{more}\nFix: replace '
            'broken files with intact copies from the dataset archive (or re-run its '
            'converter), pair every image with its own full-size single-channel label map, '
            'or remove bad pairs from the split. tools/misc/check_dataset.py CONFIG scans a '
            'whole split; SegDataCheckHook(check_files=False) skips this check.')
    return time.perf_counter() - start
