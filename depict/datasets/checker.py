"""The data checks: one set of rules for every place that checks a dataset.

What counts as a broken image or label map, a bad label value and a model /
dataset mismatch is decided here, once, and each problem is worded and fixed
the same way wherever it is found:

* before a run, from the config: :func:`check_data_roots` (``tools/train.py``,
  ``tools/test.py``): a missing ``data_root`` or an image folder without images;
* before a dataset's first use, from the file headers:
  :func:`check_dataset_files` (``SegDataCheckHook``): every file pair;
* during a run: :func:`check_num_classes` and :func:`check_batch_labels`
  (``SegDataCheckHook``): the head's classes against the dataset's, every
  batch's labels against the head's classes;
* at load time, from the decoded arrays: ``CheckedLoadImageFromFile`` and
  ``CheckedLoadAnnotations`` (:mod:`depict.datasets.transforms.loading`), which
  raise :class:`DataFileError`;
* offline, a whole split: :func:`check_dataset` (``tools/misc/check_dataset.py``,
  ``docs/datasets.md``). The dataset is built from the config (so its class,
  suffixes, ``ann_file``, ``reduce_zero_label`` and ``label_map`` decide which
  files are paired and how labels are read), images are decoded with OpenCV
  (mmcv's default backend) and label maps with Pillow, as ``LoadAnnotations``
  does. Findings are errors (training would crash or silently learn wrong
  labels) or warnings (e.g. a split size that differs from the official one,
  expected for a subset but not for a full download).

The rules:

* a file is broken if it is missing, empty, has an unreadable header, is a PNG
  without its end marker (a truncated copy), or does not decode
  (:func:`header_problem`, :func:`error_problem`);
* a label map is a single-channel image of class indices
  (:data:`LABEL_MODES`, :func:`channels_problem`) of its image's size
  (:func:`size_problem`);
* a training label (after ``label_map`` and ``reduce_zero_label``,
  :func:`training_label`) is a class in ``[0, num_classes)`` or the ignore
  index (:func:`invalid_labels`); a one-class head is a binary sigmoid head
  with the two labels 0 and 1 (:func:`label_classes`);
* the decode head has as many classes as the dataset (:func:`num_classes_problem`);
* a dataset's ``data_root`` exists (:func:`missing_root_problem`) and, without
  an ``ann_file``, holds images.
"""
import inspect
import os
import os.path as osp
import re
import time
from dataclasses import dataclass, field
from multiprocessing import Pool
from typing import Iterable, Iterator, Optional, Sequence

import cv2
import numpy as np
from mmengine.config import Config
from PIL import Image

__all__ = [
    'DataFileError', 'FileProblem', 'LABEL_MODES', 'header_problem', 'error_problem',
    'channels_problem', 'size_problem', 'training_label', 'label_classes', 'invalid_labels',
    'missing_root_problem', 'num_classes_problem', 'check_data_roots', 'check_dataset_files',
    'check_num_classes', 'check_batch_labels', 'Finding', 'DatasetReport', 'check_dataset',
    'OFFICIAL_SIZES'
]

# ---------------------------------------------------------------------------
# The rules
# ---------------------------------------------------------------------------

#: Pillow modes of single-channel class-index label maps.
LABEL_MODES = frozenset({'1', 'L', 'P', 'I', 'I;16', 'I;16B', 'I;16L'})

#: Where every error points for the whole list of bad files.
SCAN_HINT = 'python tools/misc/check_dataset.py CONFIG --split train lists every bad file'

_FIXES = {
    ('image', 'broken'): 'replace the image with an intact copy from the dataset archive, or '
                         'remove the pair from the split',
    ('label', 'broken'): "replace the label map with an intact copy (or re-run the dataset's "
                         'converter)',
    ('label', 'channels'): 'use the class-index label maps of the dataset (e.g. Cityscapes '
                           '*_labelTrainIds.png, not *_color.png) or convert the colours to '
                           'indices with the palette',
    ('label', 'size'): 'pair each image with its own full-size label map (do not resize one '
                       'without the other)',
}


class DataFileError(ValueError):
    """A dataset file that cannot be used; the message names it and the fix."""


@dataclass(frozen=True)
class FileProblem:
    """What is wrong with one dataset file.

    ``str()`` names the file and the problem (``label map X is empty (0
    bytes)``); :attr:`fix` says what to do about it.

    Args:
        kind: ``'broken'`` (missing, empty, truncated, undecodable),
            ``'channels'`` (a label map that is not single-channel) or
            ``'size'`` (a label map of another size than its image).
        path: The file.
        detail: What is wrong, as a predicate of the file.
        label: Whether the file is a label map (else an image).
    """
    kind: str
    path: str
    detail: str
    label: bool = False

    def __str__(self) -> str:
        return f'{"label map" if self.label else "image"} {self.path} {self.detail}'

    @property
    def fix(self) -> str:
        return _FIXES[('label' if self.label else 'image', self.kind)]

    def error(self) -> DataFileError:
        """The error that stops a run on this file."""
        return DataFileError(f'{self}. Fix: {self.fix}; {SCAN_HINT}.')


def _describe(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return f'{type(err).__name__}: {text[-1] if text else ""}'


def _file_size(path) -> Optional[int]:
    try:
        return os.path.getsize(path)
    except (OSError, TypeError):
        return None


def error_problem(path: str, err: Exception, *, label: bool) -> FileProblem:
    """The problem behind a decoder's exception on ``path``."""
    size = _file_size(path)
    if size is None and not (path and osp.exists(path)):
        detail = 'is missing'
    elif size == 0:
        detail = 'is empty (0 bytes)'
    else:
        detail = f'cannot be decoded ({_describe(err)})'
    return FileProblem('broken', path, detail, label)


def channels_problem(path: str, *, mode: Optional[str] = None,
                     shape: Optional[tuple] = None) -> Optional[FileProblem]:
    """A label map must be single-channel class indices: from its Pillow
    ``mode`` (header) or its decoded array's ``shape``; None if it is."""
    if mode is not None:
        if mode in LABEL_MODES:
            return None
        bands = Image.getmodebands(mode)
        what = f'{bands} channels (mode {mode})' if bands > 1 else f'mode {mode}'
    elif shape is not None:
        if len(shape) == 2:
            return None
        what = f'{shape[2] if len(shape) == 3 else "several"} channels (shape {tuple(shape)})'
    else:
        return None
    return FileProblem('channels', path, f'has {what}; label maps must be single-channel '
                       'class indices (mode L or P), not colour renderings', label=True)


def size_problem(seg_path: str, seg_hw: Sequence[int], img_path: str,
                 img_hw: Sequence[int]) -> Optional[FileProblem]:
    """A label map must be its image's size ((H, W) each); None if it is."""
    (seg_h, seg_w), (img_h, img_w) = tuple(seg_hw[:2]), tuple(img_hw[:2])
    if (seg_h, seg_w) == (img_h, img_w):
        return None
    return FileProblem('size', seg_path, f'is {seg_w}x{seg_h} (WxH) but its image {img_path} '
                       f'is {img_w}x{img_h}: labels would be misaligned', label=True)


def header_problem(path: str, *, label: bool) -> tuple[Optional[FileProblem],
                                                       Optional[tuple[int, int]]]:
    """(what is wrong with the file or None, its (H, W)) from its header.

    Decodes nothing: Pillow reads only the header; a PNG's end is checked for
    the IEND chunk, which a truncated copy lacks.
    """
    try:
        if os.path.getsize(path) == 0:
            return FileProblem('broken', path, 'is empty (0 bytes)', label), None
        with Image.open(path) as image:
            (width, height), mode, fmt = image.size, image.mode, image.format
    except FileNotFoundError:
        return FileProblem('broken', path, 'is missing', label), None
    except Exception as err:
        return FileProblem('broken', path, f'cannot be decoded ({_describe(err)})', label), None
    if fmt == 'PNG':
        with open(path, 'rb') as f:
            f.seek(-12, os.SEEK_END)
            if f.read(12)[4:8] != b'IEND':
                return FileProblem('broken', path, 'is truncated (the PNG has no end marker)',
                                   label), (height, width)
    return (channels_problem(path, mode=mode) if label else None), (height, width)


def training_label(value: int, label_map: Optional[dict], reduce_zero_label: bool) -> int:
    """A raw label value as ``LoadAnnotations`` turns it into a training label:
    ``reduce_zero_label`` first, then ``label_map``.

    ``LoadAnnotations`` casts label maps to uint8, which wraps values above 255
    silently (a 16-bit 300 trains as 44); they are returned unwrapped here, so
    that the label rule reports them.
    """
    if reduce_zero_label:
        # mmseg: gt[gt == 0] = 255; gt = gt - 1; gt[gt == 254] = 255
        value = 255 if value in (0, 255) else value - 1
    if label_map:
        value = label_map.get(value, value)
    return value


def label_classes(num_classes: int) -> int:
    """How many label values a head with ``num_classes`` outputs trains on: a
    one-output head is mmseg's binary sigmoid head, with labels 0 and 1."""
    return 2 if num_classes == 1 else num_classes


def invalid_labels(labels, num_classes: int, ignore_index: int) -> list[int]:
    """The label values (sorted, unique) that are neither a class in
    ``[0, num_classes)`` nor ``ignore_index``; ``labels`` is a tensor or array."""
    bad = (labels != ignore_index) & ((labels < 0) | (labels >= num_classes))
    return sorted({int(v) for v in labels[bad].tolist()})


def missing_root_problem(root: str) -> str:
    """A dataset's ``data_root`` must exist; what to say when it does not."""
    return (f'data_root {root!r} does not exist (relative paths are resolved from '
            f'{os.getcwd()})')


def num_classes_problem(head_classes: int, dataset_classes: Sequence[str], *, where: str,
                        dataset_type: str) -> Optional[str]:
    """The decode head must have the dataset's classes (a binary sigmoid head
    has one output for two classes); the message if it has not, else None."""
    if label_classes(head_classes) == len(dataset_classes) or head_classes == len(dataset_classes):
        return None
    return (f'num_classes mismatch: model.decode_head.num_classes={head_classes} but the '
            f'{where} dataset {dataset_type} has {len(dataset_classes)} classes '
            f'({", ".join(map(str, dataset_classes[:4]))}, ...). Set '
            f'model.decode_head.num_classes={len(dataset_classes)} (and auxiliary_head, if '
            'any), or use the dataset the model was configured for.')


# ---------------------------------------------------------------------------
# Before and during a run (tools/train.py, tools/test.py, SegDataCheckHook)
# ---------------------------------------------------------------------------

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


def check_data_roots(cfg: Config, loaders: Iterable[str] = _LOADERS) -> None:
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
                from .toy import missing_toy_root_message, toy_root_generates
                if dataset.get('generate', True) and toy_root_generates(root):
                    continue
                raise FileNotFoundError(f'{loader}.dataset: {missing_toy_root_message(root)}')
            raise FileNotFoundError(
                f'{loader}.dataset: {missing_root_problem(root)}. Prepare the dataset as '
                'docs/datasets.md says, or point the config at it with --cfg-options '
                f'{loader}.dataset.data_root=/path/to/{osp.basename(osp.normpath(root))}')


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
        return  # the split file decides; check_dataset checks it
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


def _pair_header_problems(pair: tuple) -> list[FileProblem]:
    """What the file headers show wrong with one image / label-map pair."""
    img_path, seg_path = pair
    problems = []
    img_problem, img_hw = header_problem(img_path, label=False)
    if img_problem:
        problems.append(img_problem)
    if not seg_path or not osp.exists(seg_path):
        return problems  # test splits without labels; missing ones: mmseg names them
    seg_problem, seg_hw = header_problem(seg_path, label=True)
    if seg_problem:
        problems.append(seg_problem)
    elif img_hw and seg_hw:
        problems += filter(None, [size_problem(seg_path, seg_hw, img_path, img_hw)])
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
        found = pool.map(_pair_header_problems, pairs, chunksize=64)
    problems = [problem for pair in found for problem in pair]
    if problems:
        listed = '\n  '.join(map(str, problems[:max_listed]))
        more = f'\n  ... and {len(problems) - max_listed} more' if len(problems) > max_listed \
            else ''
        fixes = '; '.join(dict.fromkeys(problem.fix for problem in problems))
        raise ValueError(
            f'{name}: {len(problems)} bad dataset file(s):\n  {listed}{more}\nFix: {fixes}. '
            'tools/misc/check_dataset.py CONFIG scans a whole split; '
            'SegDataCheckHook(check_files=False) skips this check.')
    return time.perf_counter() - start


def check_num_classes(head_classes: int, dataset, where: str) -> None:
    """Raises if the decode head's class count is not the dataset's.

    A mismatch otherwise shows up as an opaque index error in the loss or,
    worse, as a silently wrong mIoU (``IoUMetric`` drops labels >= C).

    Args:
        head_classes: ``model.decode_head.num_classes``.
        dataset: A built dataset (its ``metainfo['classes']``); a dataset
            without classes is not checked.
        where: How the error calls the dataset (e.g. ``train_dataloader``).

    Raises:
        ValueError: naming both counts and the setting to change.
    """
    classes = getattr(dataset, 'metainfo', {}).get('classes')
    if classes is None:
        return
    problem = num_classes_problem(head_classes, classes, where=where,
                                  dataset_type=type(dataset).__name__)
    if problem:
        raise ValueError(problem)


def check_batch_labels(data_samples, num_classes: int, ignore_index: int) -> None:
    """Raises if a ground-truth label of the batch is neither a class of the
    head nor the ignore index (:func:`invalid_labels`); one ``min`` / ``max``
    per sample when every label is valid.

    Args:
        data_samples: The batch's ``SegDataSample``s (with ``gt_sem_seg``).
        num_classes: The decode head's ``num_classes``.
        ignore_index: The decode head's ``ignore_index``.

    Raises:
        ValueError: naming the label map and the bad values.
    """
    classes = label_classes(num_classes)
    for sample in data_samples:
        if 'gt_sem_seg' not in sample:
            continue
        labels = sample.gt_sem_seg.data
        valid = labels[labels != ignore_index]
        if valid.numel() == 0 or (int(valid.min()) >= 0 and int(valid.max()) < classes):
            continue
        bad = invalid_labels(valid, classes, ignore_index)[:10]
        path = sample.metainfo.get('seg_map_path') or sample.metainfo.get('img_path')
        raise ValueError(
            f'label out of range in {path}: values {bad} are outside [0, {classes - 1}] and '
            f'are not the ignore index {ignore_index}. Check num_classes, reduce_zero_label '
            '(ADE20K-style 1..K labels need reduce_zero_label=True) and the dataset '
            'preparation; tools/misc/check_dataset.py CONFIG scans the whole dataset.')


# ---------------------------------------------------------------------------
# Offline, a whole split (tools/misc/check_dataset.py)
# ---------------------------------------------------------------------------

#: Official split sizes: {dataset class: {split: accepted counts}}.
OFFICIAL_SIZES = {
    'ADE20KDataset': dict(train=(20210, ), val=(2000, ), test=(3352, )),
    'CityscapesDataset': dict(train=(2975, ), val=(500, ), test=(1525, )),
    # VOC 2010's split (our converter's default) / the Detail API's (mmseg's).
    'PascalContextDataset': dict(train=(4998, 4996), val=(5105, 5104)),
    'PascalContextDataset59': dict(train=(4998, 4996), val=(5105, 5104)),
    # COCO-Stuff-10K (train2014 / test2014) or 164K (train2017 / val2017).
    'COCOStuffDataset': dict(train=(9000, 118287), val=(1000, 5000), test=(1000, 5000)),
}

#: How to obtain a prepared dataset, per dataset class.
PREPARE_HINTS = {
    'ADE20KDataset': 'extract ADEChallengeData2016.zip into data/ade/ (no conversion '
                     'needed; docs/datasets.md)',
    'CityscapesDataset': 'extract leftImg8bit_trainvaltest.zip and gtFine_trainvaltest.zip '
                         'into data/cityscapes/, then run python tools/dataset_converters/'
                         'cityscapes.py data/cityscapes (docs/datasets.md)',
    'PascalContextDataset': 'extract VOCtrainval_03-May-2010.tar into data/ and the PASCAL '
                            'Context trainval.tar.gz into data/pascal_context/, then run '
                            'python tools/dataset_converters/pascal_context.py data/VOCdevkit '
                            'data/pascal_context (docs/datasets.md)',
}
PREPARE_HINTS['COCOStuffDataset'] = (
    'extract cocostuff-10k-v1.1.zip into data/coco_stuff10k/ (or COCO 2017 images and '
    'stuffthingmaps_trainval2017.zip into data/coco_stuff164k/{images,annotations}/), then run '
    'python tools/dataset_converters/coco_stuff.py {10k,164k} DIR (docs/datasets.md)')
PREPARE_HINTS['PascalContextDataset59'] = PREPARE_HINTS['PascalContextDataset']
_EXAMPLES = 5


@dataclass
class Finding:
    """One problem: what, where (a few example files), and how to fix it."""
    level: str  # 'error' or 'warning'
    kind: str
    message: str
    fix: str = ''
    examples: list[str] = field(default_factory=list)
    count: int = 0

    def format(self) -> str:
        count = f' ({self.count} files)' if self.count else ''
        lines = [f'{self.level.upper()} [{self.kind}]{count}: {self.message}']
        lines += [f'    e.g. {example}' for example in self.examples[:_EXAMPLES]]
        if self.fix:
            lines.append(f'    fix: {self.fix}')
        return '\n'.join(lines)


@dataclass
class DatasetReport:
    """The outcome of :func:`check_dataset`."""
    dataset_type: str
    split: str
    data_root: str
    num_samples: int = 0
    num_scanned: int = 0
    num_classes: int = 0
    reduce_zero_label: bool = False
    ignore_index: int = 255
    official: Optional[tuple[int, ...]] = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == 'error']

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == 'warning']

    def format(self) -> str:
        lines = [
            f'dataset: {self.dataset_type} ({self.split}) at {self.data_root}',
            f'samples: {self.num_samples} (scanned {self.num_scanned}); classes: '
            f'{self.num_classes}; reduce_zero_label: {self.reduce_zero_label}; '
            f'ignore index: {self.ignore_index}',
        ]
        if self.official:
            lines.append('official split size: ' + ' or '.join(map(str, self.official)))
        lines += [finding.format() for finding in self.findings]
        verdict = 'FAILED' if self.errors else 'OK'
        lines.append(f'{verdict}: {len(self.errors)} error(s), {len(self.warnings)} '
                     'warning(s)')
        return '\n'.join(lines)


def _official_split(dataset_cfg: dict, split: str) -> str:
    """Which official split the paths point at: train / val / test."""
    prefix = dataset_cfg.get('data_prefix', {})
    candidates = [dataset_cfg.get('ann_file') or '', prefix.get('img_path', '')]
    for text in candidates:
        tokens = re.split(r'[/\\._]', str(text).lower())
        for name, aliases in (('train', ('train', 'training')),
                              ('val', ('val', 'validation')),
                              ('test', ('test', 'testing'))):
            if any(alias in tokens for alias in aliases):
                return name
    return split


def _scan_sample(job: tuple) -> dict:
    """Reads one image / label pair with the rules above; returns its problems
    and its label values."""
    img_path, seg_path = job
    out = dict(img=img_path, seg=seg_path, problems=[])
    problem, img_hw = header_problem(img_path, label=False)
    if problem is None:
        buffer = np.fromfile(img_path, np.uint8)
        image = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
        if image is None:
            problem = FileProblem('broken', img_path, 'cannot be decoded (OpenCV)')
        else:
            img_hw = image.shape[:2]
    if problem:
        out['problems'].append(problem)
        img_hw = None
    if seg_path is None or not osp.isfile(seg_path):
        return out
    problem, _ = header_problem(seg_path, label=True)
    if problem is None:
        try:
            with Image.open(seg_path) as label_img:
                label = np.array(label_img)
        except Exception as err:  # a body that does not decode
            problem = error_problem(seg_path, err, label=True)
        else:
            problem = channels_problem(seg_path, shape=label.shape)
    if problem:
        out['problems'].append(problem)
        return out
    out['values'] = np.unique(label)
    if img_hw is not None:
        problem = size_problem(seg_path, label.shape, img_path, img_hw)
        out['problems'] += [problem] if problem else []
    return out


def _add(report: DatasetReport, level: str, kind: str, message: str, fix: str = '',
         examples: Optional[list[str]] = None) -> None:
    examples = examples or []
    report.findings.append(Finding(level, kind, message, fix, examples[:_EXAMPLES],
                                   len(examples)))


def _check_layout(report: DatasetReport, dataset_cfg: dict, hint: str) -> bool:
    root = dataset_cfg.get('data_root') or ''
    if root and not osp.isdir(root):
        _add(report, 'error', 'layout', missing_root_problem(root), f'{hint}; or point the '
             f'config at the data with --data-root /path/to/{osp.basename(osp.normpath(root))}')
        return False
    ok = True
    for key, path in dataset_cfg.get('data_prefix', {}).items():
        full = osp.join(root, path)
        if not osp.isdir(full):
            _add(report, 'error', 'layout', f'data_prefix.{key}: folder {full} does not '
                 'exist', hint)
            ok = False
    ann_file = dataset_cfg.get('ann_file')
    if ann_file and not osp.isfile(osp.join(root, ann_file)):
        _add(report, 'error', 'layout', f'ann_file {osp.join(root, ann_file)} does not '
             'exist', hint)
        ok = False
    return ok


def check_dataset(cfg: Config, split: str = 'val', *, data_root: Optional[str] = None,
                  max_images: Optional[int] = None, nproc: int = 1) -> DatasetReport:
    """Checks the dataset of ``cfg``'s ``{split}_dataloader``.

    Args:
        cfg: A config with ``train/val/test_dataloader`` (a decoder config or a
            dataset base config).
        split: Which dataloader: ``'train'``, ``'val'`` or ``'test'``.
        data_root: Overrides the dataset's ``data_root``.
        max_images: Scan only this many evenly spaced samples (pairing and
            counts still cover all of them).
        nproc: Worker processes for the scan.

    Returns:
        The report; ``report.errors`` is empty when the data is usable.
    """
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS

    loader = cfg.get(f'{split}_dataloader')
    if not loader:
        raise ValueError(f'the config has no {split}_dataloader')
    dataset_cfg = next(_datasets(loader['dataset'])).copy()  # the first leaf
    if data_root is not None:
        dataset_cfg['data_root'] = data_root
    dataset_type = str(dataset_cfg.get('type'))
    report = DatasetReport(dataset_type=dataset_type, split=split,
                           data_root=str(dataset_cfg.get('data_root')))
    hint = PREPARE_HINTS.get(dataset_type, 'prepare the dataset as docs/datasets.md says')
    official_split = _official_split(dataset_cfg, split)
    report.official = OFFICIAL_SIZES.get(dataset_type, {}).get(official_split)
    if not _check_layout(report, dataset_cfg, hint):
        return report

    # Build the dataset exactly as training would (without its transforms).
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    dataset_cfg['pipeline'] = []
    try:
        dataset = DATASETS.build(dataset_cfg)
    except Exception as err:
        _add(report, 'error', 'build', f'building {dataset_type} failed: {err}', hint)
        return report
    meta = dataset.metainfo
    report.num_classes = len(meta['classes'])
    report.reduce_zero_label = bool(meta.get('reduce_zero_label', False))
    label_map = meta.get('label_map') or None
    head = cfg.get('model', {}).get('decode_head', {})
    head = head[-1] if isinstance(head, (list, tuple)) else head
    report.ignore_index = int(head.get('ignore_index', 255)) if head else 255
    if head and isinstance(head.get('num_classes'), int):
        problem = num_classes_problem(head['num_classes'], meta['classes'], where=split,
                                      dataset_type=dataset_type)
        if problem:
            _add(report, 'error', 'model', problem)
    data_list = [dataset.get_data_info(i) for i in range(len(dataset))]
    report.num_samples = len(data_list)

    img_dir = osp.join(dataset_cfg.get('data_root') or '',
                       dataset_cfg.get('data_prefix', {}).get('img_path', ''))
    if not data_list:
        _add(report, 'error', 'pairing', f'no images (*{dataset.img_suffix}) found under '
             f'{img_dir}' + (f' for the ids in {dataset.ann_file}' if dataset.ann_file else ''),
             hint)
        return report

    # Pairing: every image has its label map (and, without an ann_file, every
    # label map its image).
    missing_img = [d['img_path'] for d in data_list if not osp.isfile(d['img_path'])]
    missing_seg = [d['seg_map_path'] for d in data_list
                   if d.get('seg_map_path') and not osp.isfile(d['seg_map_path'])]
    if missing_img:
        _add(report, 'error', 'pairing', 'images listed in the ann_file are missing',
             f'restore them from the archive ({hint})', missing_img)
    if missing_seg:
        fix = hint
        if dataset_type == 'CityscapesDataset' and osp.isfile(
                missing_seg[0].replace('_labelTrainIds.png', '_labelIds.png')):
            fix = ('the official *_gtFine_labelIds.png are there but not the train ids: '
                   'run python tools/dataset_converters/cityscapes.py '
                   f'{dataset_cfg.get("data_root")}')
        _add(report, 'error', 'pairing', 'label maps are missing for some images '
             f'(expected *{dataset.seg_map_suffix} beside each *{dataset.img_suffix})', fix,
             missing_seg)
    seg_dir = osp.join(dataset_cfg.get('data_root') or '',
                       dataset_cfg.get('data_prefix', {}).get('seg_map_path', ''))
    if not dataset.ann_file and osp.isdir(seg_dir):
        expected = {osp.normpath(d['seg_map_path']) for d in data_list}
        orphans = []
        for folder, _, files in os.walk(seg_dir):
            orphans += [osp.join(folder, f) for f in files
                        if f.endswith(dataset.seg_map_suffix)
                        and osp.normpath(osp.join(folder, f)) not in expected]
        if orphans:
            _add(report, 'error', 'pairing', f'label maps without an image (*'
                 f'{dataset.img_suffix} missing under {img_dir})',
                 f'restore the images from the archive ({hint})', sorted(orphans))

    # Counts against the official split.
    if report.official and report.num_samples not in report.official:
        _add(report, 'warning', 'count', f'{report.num_samples} samples, but the official '
             f'{official_split} split of {dataset_type} has '
             f'{" or ".join(map(str, report.official))}', 'fine for a subset; for a full '
             'download, an archive was probably extracted only partly')

    # Decode every (or every k-th) sample.
    jobs = [(d['img_path'], d.get('seg_map_path')) for d in data_list
            if osp.isfile(d['img_path'])]
    if max_images is not None and len(jobs) > max_images:
        step = len(jobs) / max_images
        jobs = [jobs[int(i * step)] for i in range(max_images)]
    report.num_scanned = len(jobs)
    if nproc > 1:
        with Pool(nproc) as pool:
            scans = pool.map(_scan_sample, jobs, chunksize=16)
    else:
        scans = [_scan_sample(job) for job in jobs]
    _report_scans(report, scans, label_map, dataset, hint)
    return report


def _report_scans(report: DatasetReport, scans: list[dict], label_map: Optional[dict],
                  dataset, hint: str) -> None:
    num_classes, ignore = report.num_classes, report.ignore_index
    problems = [problem for scan in scans for problem in scan['problems']]
    images = [str(p) for p in problems if not p.label]
    if images:
        _add(report, 'error', 'image', 'broken images (OpenCV cannot decode them, or they '
             'are empty or truncated)', f'{_FIXES[("image", "broken")]} ({hint})', images)
    for kind, message in (('broken', 'label maps Pillow cannot read'),
                          ('channels', 'multi-channel label maps'),
                          ('size', 'label map and image sizes differ')):
        found = [str(p) for p in problems if p.label and p.kind == kind]
        if not found:
            continue
        fix = _FIXES[('label', kind)]
        if kind == 'broken':
            fix = f'{fix} ({hint})'
        elif kind == 'channels' and report.dataset_type == 'CityscapesDataset':
            fix += ' (for Cityscapes: *_gtFine_labelTrainIds.png, never *_gtFine_color.png)'
        elif kind == 'size':
            fix += ' (resized copies also break the evaluation at the original size)'
        _add(report, 'error', 'label', message, fix, found)

    # Label values: what LoadAnnotations makes of them must be a class or ignore.
    allowed = f'0..{num_classes - 1} or the ignore index {ignore}'
    out_of_range, empty = [], []
    for scan in scans:
        if 'values' not in scan:
            continue
        processed = {int(v): training_label(int(v), label_map, report.reduce_zero_label)
                     for v in scan['values']}
        invalid = set(invalid_labels(np.array(list(processed.values())), num_classes, ignore))
        bad = sorted(v for v, p in processed.items() if p in invalid)
        if bad:
            out_of_range.append((scan['seg'], bad))
        if all(p == ignore for p in processed.values()):
            empty.append(scan['seg'])
    if out_of_range:
        values = sorted({v for _, bad in out_of_range for v in bad})
        if report.reduce_zero_label:
            meaning = (f'with reduce_zero_label=True, raw labels must be 0 (ignored), '
                       f'1..{num_classes} or 255')
        else:
            meaning = f'raw labels must be {allowed}'
        fix = 'check the dataset class / reduce_zero_label of the config and the preparation'
        if report.dataset_type == 'CityscapesDataset' and max(values) > 18:
            fix = ('these look like Cityscapes label ids, not train ids: the label maps '
                   'must be *_gtFine_labelTrainIds.png from tools/dataset_converters/'
                   'cityscapes.py')
        elif report.dataset_type.startswith('PascalContext') and max(values) > 59:
            fix = ('these look like 459-class PASCAL Context ids: convert the .mat files '
                   'with tools/dataset_converters/pascal_context.py')
        elif report.reduce_zero_label and max(values) == num_classes + 1:
            fix = 'labels look 0-based with a +1 shift missing; check reduce_zero_label'
        _add(report, 'error', 'label', f'label values {values[:20]} are out of range for '
             f'{report.num_classes} classes ({meaning})', fix,
             [f'{path}: {bad[:10]}' for path, bad in out_of_range])
    if empty:
        _add(report, 'warning', 'label', 'label maps with no labelled pixel (all ignored)',
             'expected only for withheld test annotations (e.g. Cityscapes test)', empty)
