"""Segment images with a trained model: coloured masks and overlays as PNGs.

    python tools/infer.py CONFIG CHECKPOINT IMAGE [IMAGE | DIR ...] --out DIR \\
        [--opacity 0.5] [--save-labels] [--device cpu] [--display-size 512] \\
        [--panel] [--gt-dir DIR]

Runs ``mmseg.apis.MMSegInferencer`` (the config's test pipeline and
``test_cfg``, e.g. sliding-window inference) and writes, per image,
``<name>_mask.png`` (the class colours), ``<name>_overlay.png`` (mask blended
over the image) and with ``--save-labels`` ``<name>_labels.png`` (class
indices, for further processing), plus ``legend.png`` with the names of the
classes that occur. Directories are searched for images (non-recursively).

Small images are enlarged for display (nearest neighbour, by a whole factor, up
to ``--display-size`` pixels on the long side; ``_labels.png`` keeps the input
size). ``--panel`` also writes ``<name>_panel.png``: image | prediction |
overlay, and | ground truth when ``--gt-dir`` holds ``<name>.png`` (read as the
config's test dataset reads it, ``reduce_zero_label`` included; ignored pixels
black).

Class names and colours come from the checkpoint's ``meta['dataset_meta']``
(written by training); a checkpoint without them uses the config's test
dataset instead of mmseg's silent Cityscapes default.
"""
import argparse
import os
import os.path as osp
from collections import Counter

import numpy as np
from mmengine.config import Config, DictAction

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Segment images: coloured masks and overlays')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('images', nargs='+', help='image files and/or directories of images')
    parser.add_argument('--out', required=True, help='output directory')
    parser.add_argument('--opacity', type=float, default=0.5, help='mask opacity in the overlay')
    parser.add_argument('--save-labels', action='store_true',
                        help='also write the class-index label maps')
    parser.add_argument('--device', default=None, help='cpu, cuda, cuda:N (default: auto)')
    parser.add_argument('--display-size', type=int, default=512,
                        help='enlarge smaller images to about this many pixels on the long '
                        'side in the PNGs meant for viewing (0: never)')
    parser.add_argument('--panel', action='store_true',
                        help='also write image | prediction | overlay [| ground truth] side by side')
    parser.add_argument('--gt-dir', help='folder of ground-truth label maps <name>.png for '
                        'the panel')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. model.test_cfg.mode=whole')
    args = parser.parse_args()
    if args.gt_dir and not args.panel:
        parser.error('--gt-dir is shown in the --panel; add --panel')
    if not 0.0 <= args.opacity <= 1.0:
        parser.error('--opacity must be in [0, 1]')
    return args


def collect_images(items: list[str]) -> list[str]:
    paths = []
    for item in items:
        if osp.isdir(item):
            found = sorted(osp.join(item, name) for name in os.listdir(item)
                           if name.lower().endswith(IMAGE_EXTENSIONS))
            if not found:
                raise FileNotFoundError(f'no images ({", ".join(IMAGE_EXTENSIONS)}) in {item}')
            paths += found
        elif osp.isfile(item):
            paths.append(item)
        else:
            raise FileNotFoundError(f'{item} is neither an image file nor a directory')
    return paths


def config_dataset_meta(cfg: Config) -> dict:
    """Classes and palette of the config's test dataset (class METAINFO + overrides)."""
    from mmseg.registry import DATASETS
    dataset = cfg.test_dataloader.dataset
    while 'dataset' in dataset:  # dataset wrappers
        dataset = dataset.dataset
    dataset_cls = DATASETS.get(dataset.type)
    meta = dict(getattr(dataset_cls, 'METAINFO', {}))
    meta.update(dataset.get('metainfo') or {})
    return dict(classes=meta.get('classes'), palette=meta.get('palette'))


def build_inferencer(cfg: Config, checkpoint: str, device):
    # Imported here: mmseg.apis imports mmseg.models, which needs the
    # compatibility layer that the config's custom_imports (depict) installs.
    from mmseg.apis import MMSegInferencer

    from depict.engine import load_state_dict_strictly
    from depict.compat.safe_unpickling import check_all_schemes_safe
    check_all_schemes_safe()

    weights = checkpoint

    class Inferencer(MMSegInferencer):
        """Falls back to the config's dataset classes, not Cityscapes'."""

        def _init_collate(self, cfg):
            # What mmengine falls back to for configs without a collate_fn, minus
            # its lookup in mmseg's (non-existent) "function" registry, which
            # only logs a scope warning.
            from mmengine.dataset import pseudo_collate
            return pseudo_collate

        def _load_weights_to_model(self, model, checkpoint, cfg) -> None:
            if checkpoint is None:
                raise ValueError('a checkpoint is required')
            # Strict: a checkpoint that does not fit the model fails, keys listed.
            load_state_dict_strictly(model, checkpoint, source=weights, what='inference')
            meta = checkpoint.get('meta') or {}
            if 'dataset_meta' in meta:
                model.dataset_meta = {k: meta['dataset_meta'].get(k)
                                      for k in ('classes', 'palette')}
            elif 'CLASSES' in meta:  # mmseg 0.x checkpoints
                model.dataset_meta = dict(classes=meta['CLASSES'], palette=meta.get('PALETTE'))
            else:
                model.dataset_meta = config_dataset_meta(cfg)

    # The PNGs are drawn here; the config's logging backends (which need a work
    # dir and warn without one) are not used.
    if cfg.get('visualizer'):
        cfg.visualizer.vis_backends = None
    return Inferencer(model=cfg, weights=checkpoint, device=device)


def display_scale(height: int, width: int, display_size: int) -> int:
    """Whole enlargement factor that brings the long side up to ``display_size``."""
    if display_size <= 0:
        return 1
    return max(1, display_size // max(height, width))


def enlarge(image: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour enlargement: every label pixel stays one solid block."""
    if scale == 1:
        return image
    return np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)


PANEL_GAP = 4  # white pixels between panels


def make_panel(images: list[np.ndarray]) -> np.ndarray:
    """Side by side (H, W, 3) images with a white gap."""
    height = images[0].shape[0]
    gap = np.full((height, PANEL_GAP, 3), 255, np.uint8)
    parts = []
    for index, image in enumerate(images):
        parts += [gap, image] if index else [image]
    return np.concatenate(parts, axis=1)


def gt_reduce_zero_label(cfg: Config) -> bool:
    """Whether the config's test dataset shifts labels (ADE20K-style 1..K)."""
    import inspect

    from mmseg.registry import DATASETS
    dataset = cfg.test_dataloader.dataset
    while 'dataset' in dataset:
        dataset = dataset.dataset
    if 'reduce_zero_label' in dataset:
        return bool(dataset.reduce_zero_label)
    param = inspect.signature(DATASETS.get(dataset.type).__init__).parameters.get(
        'reduce_zero_label')
    return bool(param.default) if param is not None else False


def read_gt(path: str, reduce_zero_label: bool, shape: tuple,
            image_path: str = 'the input') -> np.ndarray:
    """Ground-truth class indices (255 = ignored), as LoadAnnotations reads them.

    Raises:
        DataFileError: if the label map is not single-channel or not the
            image's ``shape`` (the rules of depict.datasets.checker).
    """
    from PIL import Image

    from depict.datasets.checker import channels_problem, size_problem
    label = np.array(Image.open(path))
    problem = channels_problem(path, shape=label.shape) or size_problem(
        path, label.shape, image_path, shape)
    if problem:
        raise problem.error()
    label = label.astype(np.int64)
    if reduce_zero_label:
        label = np.where(label == 0, 255, label - 1)
        label[label == 254] = 255
    return label


def colour_labels(labels: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Class colours; labels outside the palette (ignored) black."""
    valid = (labels >= 0) & (labels < len(palette))
    out = np.zeros((*labels.shape, 3), np.uint8)
    out[valid] = palette[labels[valid]]
    return out


def make_palette(classes, palette) -> np.ndarray:
    if palette is not None and len(palette) >= len(classes):
        return np.asarray(palette, dtype=np.uint8)[:len(classes)]
    rng = np.random.default_rng(0)  # deterministic colours when none are defined
    return rng.integers(0, 256, (len(classes), 3), dtype=np.uint8)


def legend_entries(classes, counts: Counter) -> list[tuple[int, str]]:
    """(class index, class name) of the classes that occur, most pixels first."""
    present = sorted(counts, key=lambda c: -counts[c])
    return [(c, str(classes[c])) for c in present]


def save_legend(path: str, classes, palette: np.ndarray, counts: Counter) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    entries = legend_entries(classes, counts)
    fig = plt.figure(figsize=(2.5, 0.3 * len(entries) + 0.4), dpi=100)
    fig.legend(handles=[Patch(color=palette[c] / 255.0, label=name) for c, name in entries],
               loc='center', frameon=False)
    fig.savefig(path, bbox_inches='tight')
    plt.close(fig)


def main() -> None:
    args = parse_args()
    cfg = Config.fromfile(args.config)  # custom_imports registers depict
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if '://' not in args.checkpoint and not osp.isfile(args.checkpoint):  # URLs: safe loader
        raise FileNotFoundError(f'checkpoint {args.checkpoint} does not exist')
    images = collect_images(args.images)
    inferencer = build_inferencer(cfg, args.checkpoint, args.device)
    inferencer.show_progress = False  # one line per image below instead
    classes = inferencer.model.dataset_meta['classes']
    palette = make_palette(classes, inferencer.model.dataset_meta.get('palette'))
    reduce_zero = gt_reduce_zero_label(cfg) if args.gt_dir else False

    import mmcv
    from PIL import Image
    os.makedirs(args.out, exist_ok=True)
    names, counts = Counter(), Counter()
    for path in images:
        sample = inferencer(path, return_datasamples=True)
        labels = sample.pred_sem_seg.data[0].cpu().numpy()  # (H, W) class indices
        image = mmcv.imread(path, channel_order='rgb')
        if image.shape[:2] != labels.shape:
            raise RuntimeError(f'prediction {labels.shape} does not match {path} {image.shape[:2]}')
        mask = palette[labels]  # (H, W) -> (H, W, 3)
        overlay = ((1 - args.opacity) * image + args.opacity * mask).round().astype(np.uint8)
        stem = osp.splitext(osp.basename(path))[0]
        names[stem] += 1
        if names[stem] > 1:  # same file name in two input directories
            stem = f'{stem}_{names[stem]}'
        scale = display_scale(*labels.shape, args.display_size)
        Image.fromarray(enlarge(mask, scale)).save(osp.join(args.out, f'{stem}_mask.png'))
        Image.fromarray(enlarge(overlay, scale)).save(osp.join(args.out, f'{stem}_overlay.png'))
        if args.panel:
            parts = [image, mask, overlay]
            gt_path = osp.join(args.gt_dir, osp.splitext(osp.basename(path))[0] + '.png') \
                if args.gt_dir else None
            if gt_path and osp.isfile(gt_path):
                parts.append(colour_labels(read_gt(gt_path, reduce_zero, labels.shape, path), palette))
            elif gt_path:
                print(f'{path}: no ground truth {gt_path}; panel without it')
            panel = make_panel([enlarge(part, scale) for part in parts])
            Image.fromarray(panel).save(osp.join(args.out, f'{stem}_panel.png'))
        if args.save_labels:
            dtype = np.uint8 if len(classes) <= 256 else np.uint16
            Image.fromarray(labels.astype(dtype)).save(osp.join(args.out, f'{stem}_labels.png'))
        values, pixels = np.unique(labels, return_counts=True)
        counts.update(dict(zip(values.tolist(), pixels.tolist())))
        print(f'{path}: ' + ', '.join(f'{classes[v]} {100 * p / labels.size:.0f}%'
                                      for v, p in sorted(zip(values, pixels), key=lambda x: -x[1])
                                      if p / labels.size >= 0.01))
    save_legend(osp.join(args.out, 'legend.png'), classes, palette, counts)
    print(f'wrote {len(images)} masks and overlays to {args.out}')


if __name__ == '__main__':
    main()
