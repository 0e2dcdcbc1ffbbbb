"""Checks a prepared dataset against its config before a long run.

Used by ``tools/misc/check_dataset.py``; see ``docs/datasets.md``. The checks
read the data exactly as training does: the dataset is built from the config
(so its class, suffixes, ``ann_file``, ``reduce_zero_label`` and ``label_map``
decide which files are paired and how labels are read), images are decoded with
OpenCV (mmcv's default backend) and label maps with Pillow, as
``LoadAnnotations`` does.

Findings are errors (training would crash or silently learn wrong labels) or
warnings (e.g. a split size that differs from the official one, which is
expected for a subset but not for a full download).
"""
import os
import os.path as osp
import re
from dataclasses import dataclass, field
from multiprocessing import Pool
from typing import Optional

import cv2
import numpy as np
from mmengine.config import Config
from PIL import Image

__all__ = ['Finding', 'DatasetReport', 'check_dataset', 'OFFICIAL_SIZES']

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


def _leaf_dataset(dataset_cfg) -> dict:
    """The dataset config inside RepeatDataset / ConcatDataset wrappers."""
    while 'dataset' in dataset_cfg or 'datasets' in dataset_cfg:
        inner = dataset_cfg.get('dataset', dataset_cfg.get('datasets'))
        dataset_cfg = inner[0] if isinstance(inner, (list, tuple)) else inner
    return dataset_cfg


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


def _processed_value(value: int, label_map: Optional[dict], reduce_zero_label: bool) -> int:
    """A raw label value as ``LoadAnnotations`` turns it into a training label."""
    if label_map:
        value = label_map.get(value, value)
    if reduce_zero_label:
        # mmseg: gt[gt == 0] = 255; gt = gt - 1; gt[gt == 254] = 255
        value = 255 if value in (0, 255) else value - 1
    return value


def _scan_sample(job: tuple) -> dict:
    """Reads one image / label pair; returns what is wrong with it."""
    img_path, seg_path = job
    out = dict(img=img_path, seg=seg_path)
    buffer = np.fromfile(img_path, np.uint8) if osp.isfile(img_path) else None
    image = cv2.imdecode(buffer, cv2.IMREAD_COLOR) if buffer is not None and buffer.size \
        else None
    if image is None:
        out['unreadable_image'] = True
    if seg_path is None or not osp.isfile(seg_path):
        return out
    try:
        with Image.open(seg_path) as label_img:
            out['seg_mode'] = label_img.mode
            label = np.array(label_img)
    except Exception as err:  # truncated or not an image
        out['unreadable_label'] = str(err)
        return out
    if label.ndim != 2:
        out['multichannel'] = label.shape
        return out
    out['values'] = np.unique(label)
    if image is not None and image.shape[:2] != label.shape:
        out['size_mismatch'] = (image.shape[:2], label.shape)
    return out


def _add(report: DatasetReport, level: str, kind: str, message: str, fix: str = '',
         examples: Optional[list[str]] = None) -> None:
    examples = examples or []
    report.findings.append(Finding(level, kind, message, fix, examples[:_EXAMPLES],
                                   len(examples)))


def _check_layout(report: DatasetReport, dataset_cfg: dict, hint: str) -> bool:
    root = dataset_cfg.get('data_root') or ''
    if root and not osp.isdir(root):
        _add(report, 'error', 'layout', f'data_root {root!r} does not exist (relative to '
             f'{os.getcwd()})', f'{hint}; or point the config at the data with '
             f'--data-root /path/to/{osp.basename(osp.normpath(root))}')
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
    dataset_cfg = _leaf_dataset(loader['dataset']).copy()
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
    unreadable = [s['img'] for s in scans if s.get('unreadable_image')]
    if unreadable:
        _add(report, 'error', 'image', 'images OpenCV cannot decode (truncated or not an '
             'image)', f'replace them from the archive ({hint})', unreadable)
    bad_labels = [f'{s["seg"]}: {s["unreadable_label"]}' for s in scans
                  if 'unreadable_label' in s]
    if bad_labels:
        _add(report, 'error', 'label', 'label maps Pillow cannot read', hint, bad_labels)
    multichannel = [f'{s["seg"]} (mode {s.get("seg_mode")}, shape {s["multichannel"]})'
                    for s in scans if 'multichannel' in s]
    if multichannel:
        fix = 'label maps must be single-channel class indices, not colour renderings'
        if report.dataset_type == 'CityscapesDataset':
            fix += ' (use *_gtFine_labelTrainIds.png, never *_gtFine_color.png)'
        _add(report, 'error', 'label', 'multi-channel label maps', fix, multichannel)
    mismatched = [f'{s["seg"]}: image {s["size_mismatch"][0]} vs label '
                  f'{s["size_mismatch"][1]}' for s in scans if 'size_mismatch' in s]
    if mismatched:
        _add(report, 'error', 'label', 'label map and image sizes differ',
             'pair each image with its own label map (resized copies break the '
             'evaluation at the original size)', mismatched)

    # Label values: what LoadAnnotations makes of them must be a class or ignore.
    allowed = f'0..{num_classes - 1} or the ignore index {ignore}'
    out_of_range, empty = [], []
    for scan in scans:
        if 'values' not in scan:
            continue
        processed = {int(v): _processed_value(int(v), label_map, report.reduce_zero_label)
                     for v in scan['values']}
        bad = sorted(v for v, p in processed.items() if not (0 <= p < num_classes or p == ignore))
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
