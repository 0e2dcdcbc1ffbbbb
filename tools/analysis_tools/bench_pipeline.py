"""Throughput of a config's training data pipeline, and the workers it needs.

    python tools/analysis_tools/bench_pipeline.py CONFIG [--image-size 2048 1536] \\
        [--num-images 8] [--iters 40] [--warmup 4] [--data-root DIR] \\
        [--step-time 0.5 | --bench-json bench_models.json] [--gpus 8] [--out result.json]

A dataloader worker runs the config's ``train_dataloader.dataset`` pipeline one
sample at a time: decode the JPEG and the PNG label, random resize, random crop
(with ``cat_max_ratio`` retries), flip, photometric distortion, packing. This
tool does exactly that in one process (one worker's work, without the
inter-process transfer), over ``--iters`` samples after ``--warmup``, and
reports images per second per worker. Like a worker (mmengine sets this up for
``num_workers > 0``) it runs single-threaded: one torch thread, OpenCV's own
threads off. The rate is the process' CPU time per sample: the capacity of a
worker that has a core to itself, which is what sizing asks for and what a
shared machine's wall clock would understate; the wall-clock rate is reported
alongside.

Data: unless ``--data-root`` points at a real dataset, a temporary ADE20K-layout
folder (``images/training/*.jpg``, ``annotations/training/*.png``, labels 0-150)
of ``--num-images`` synthetic scenes of ``--image-size`` (W H; default
2048x1536, a large ADE20K image) is written and removed afterwards. The scenes
are smooth colour regions with texture noise, saved at JPEG quality 90, so the
decoder does the work of a photograph rather than of a flat image.

Workers: each GPU process has its own dataloader, so one GPU training at
``step time`` seconds per iteration with ``batch`` images per GPU consumes
``batch / step_time`` images per second and needs
``ceil(batch / step_time / rate)`` workers; ``--gpus`` of them need that many
times more (and as many CPU cores). The step time is ``--step-time``, or the
fused training-step median of a ``bench_models.py`` JSON (``--bench-json``,
with its batch); without either, the table is given for a range of step times.
"""
import argparse
import copy
import json
import math
import os
import os.path as osp
import platform
import shutil
import statistics
import tempfile
import time

import numpy as np

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: Step times (s) of the table printed when no step time is given.
STEP_TIMES = (0.1, 0.2, 0.3, 0.5, 1.0)


def parse_args(argv=None) -> argparse.Namespace:
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description='Training data pipeline throughput per worker')
    parser.add_argument('config')
    parser.add_argument('--image-size', type=int, nargs=2, default=(2048, 1536),
                        metavar=('W', 'H'), help='synthetic images (ADE20K-like JPEGs)')
    parser.add_argument('--num-images', type=int, default=8)
    parser.add_argument('--iters', type=int, default=40, help='samples timed')
    parser.add_argument('--warmup', type=int, default=4)
    parser.add_argument('--data-root', help='a real dataset instead of synthetic images')
    parser.add_argument('--step-time', type=float, help='seconds per training iteration')
    parser.add_argument('--bench-json', help='bench_models.py output: its fused training step '
                        'median and batch give the step time')
    parser.add_argument('--gpus', type=int, default=8)
    parser.add_argument('--batch', type=int, help="images per GPU (default: the config's "
                        'train_dataloader.batch_size)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    parser.add_argument('--out', help='write the results as JSON here')
    args = parser.parse_args(argv)
    if args.iters < 1 or args.num_images < 1 or args.warmup < 0:
        parser.error('--iters and --num-images must be >= 1, --warmup >= 0')
    if args.step_time is not None and args.step_time <= 0:
        parser.error('--step-time must be positive (seconds per training iteration)')
    if args.step_time is not None and args.bench_json:
        parser.error('give --step-time or --bench-json, not both')
    return args


def write_ade20k_like(root: str, num_images: int, size: tuple[int, int], seed: int = 0) -> str:
    """``num_images`` synthetic scenes in ADE20K's layout; returns the data root.

    Each scene is a grid of colour regions with a random class each (0 = other,
    as in ADE20K's PNGs), blurred edges and texture noise.
    """
    from PIL import Image, ImageFilter
    width, height = size
    rng = np.random.default_rng(seed)
    img_dir = osp.join(root, 'images', 'training')
    ann_dir = osp.join(root, 'annotations', 'training')
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(ann_dir, exist_ok=True)
    for index in range(1, num_images + 1):
        rows, cols = rng.integers(3, 8, size=2)
        cells = rng.integers(0, 151, size=(rows, cols)).astype(np.uint8)
        # (rows, cols) -> (H, W): nearest upsampling keeps whole regions.
        label = np.asarray(Image.fromarray(cells).resize((width, height), Image.NEAREST))
        palette = rng.integers(0, 256, size=(151, 3)).astype(np.float32)
        colours = Image.fromarray(palette[label].astype(np.uint8))
        colours = np.asarray(colours.filter(ImageFilter.GaussianBlur(4)), np.float32)
        texture = rng.normal(0, 12, size=(height, width, 1)).astype(np.float32)
        image = np.clip(colours + texture, 0, 255).astype(np.uint8)
        name = f'ADE_train_{index:08d}'
        Image.fromarray(image).save(osp.join(img_dir, f'{name}.jpg'), quality=90)
        Image.fromarray(label).save(osp.join(ann_dir, f'{name}.png'))
    return root


def build_dataset(cfg, data_root: str):
    """The config's training dataset, reading ``data_root``."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    inner = dataset_cfg
    while 'dataset' in inner:  # wrappers (RepeatDataset, ...)
        inner = inner.dataset
    inner.data_root = data_root
    return DATASETS.build(dataset_cfg)


def time_pipeline(dataset, iters: int, warmup: int, seed: int) -> tuple[list[float], float]:
    """CPU seconds per sample of ``dataset[i]`` (load + transforms), cycling the
    images, and the wall-clock seconds of all timed samples."""
    import random

    import cv2
    import torch
    # A dataloader worker's threading (mmengine's set_multi_processing).
    cv2.setNumThreads(0)
    torch.set_num_threads(1)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    times, wall = [], 0.
    for step in range(warmup + iters):
        start, start_wall = time.process_time(), time.perf_counter()
        dataset[step % len(dataset)]
        if step >= warmup:
            times.append(time.process_time() - start)
            wall += time.perf_counter() - start_wall
    return times, wall


def step_time_from_bench(path: str) -> tuple[float, int, str]:
    """(seconds per step, batch, source) from a bench_models.py JSON."""
    with open(path) as f:
        report = json.load(f)
    for result in report['results']:
        train = result['variants'].get('fused', {}).get('train')
        if train:
            return (train['median_ms'] / 1e3, report['meta']['batch'],
                    f"{path}: {result['config']} fused training step")
    raise SystemExit(f'{path} has no fused training-step timing: run bench_models.py with '
                     '--modes train')


def workers_needed(rate: float, batch: int, step_time: float, gpus: int) -> dict:
    """Workers per GPU (and in all) to feed ``batch`` images every ``step_time`` s."""
    demand = batch / step_time
    per_gpu = max(1, math.ceil(demand / rate))
    return dict(step_time_s=step_time, images_per_s_per_gpu=demand, workers_per_gpu=per_gpu,
                workers_total=per_gpu * gpus, images_per_s_total=demand * gpus)


def main(argv=None) -> None:
    args = parse_args(argv)
    from mmengine.config import Config
    cfg = Config.fromfile(args.config)  # custom_imports registers depict
    cfg.merge_from_dict(copy.deepcopy(args.cfg_options))
    batch = args.batch or cfg.train_dataloader.batch_size
    tmp = None
    if args.data_root:
        data_root = args.data_root
    else:
        tmp = tempfile.mkdtemp(prefix='bench_pipeline_')
        data_root = write_ade20k_like(tmp, args.num_images, tuple(args.image_size), args.seed)
    try:
        dataset = build_dataset(cfg, data_root)
        if len(dataset) == 0:
            raise SystemExit(f'no training samples under {data_root}: check --data-root')
        times, wall = time_pipeline(dataset, args.iters, args.warmup, args.seed)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    rate = len(times) / sum(times)
    if args.step_time:
        step_times, source = [args.step_time], '--step-time'
    elif args.bench_json:
        step_time, batch, source = step_time_from_bench(args.bench_json)
        step_times = [step_time]
    else:
        step_times, source = list(STEP_TIMES), 'table (no step time given)'
    needs = [workers_needed(rate, batch, t, args.gpus) for t in step_times]
    ms = sorted(1e3 * t for t in times)
    result = dict(
        config=args.config, data_root=args.data_root or 'synthetic',
        image_size=list(args.image_size) if not args.data_root else None,
        pipeline=[t['type'] for t in cfg.train_dataloader.dataset.get('pipeline', [])],
        samples=len(times), images_per_s_per_worker=rate,
        images_per_s_wall_clock=len(times) / wall,
        sample_ms=dict(median=statistics.median(ms), min=ms[0], max=ms[-1]),
        batch_per_gpu=batch, gpus=args.gpus, step_time_source=source, workers=needs,
        current=dict(num_workers=cfg.train_dataloader.get('num_workers'),
                     persistent_workers=cfg.train_dataloader.get('persistent_workers')),
        machine=f'{platform.machine()} {platform.processor() or ""}'.strip(),
        cpu_count=os.cpu_count())
    print(f"{args.config}: {rate:.2f} images/s per worker (median "
          f"{result['sample_ms']['median']:.0f} CPU ms per sample, {len(times)} samples of {result['image_size'] or data_root}; "
          f"wall clock here {result['images_per_s_wall_clock']:.2f} images/s)")
    print(f"{args.gpus} GPUs x batch {batch}; step time from {source}:")
    print(f"{'step s':>8}{'img/s per GPU':>15}{'workers/GPU':>13}{'workers total':>15}")
    for need in needs:
        print(f"{need['step_time_s']:>8.2f}{need['images_per_s_per_gpu']:>15.1f}"
              f"{need['workers_per_gpu']:>13}{need['workers_total']:>15}")
    print(f"config now: num_workers={result['current']['num_workers']}, "
          f"persistent_workers={result['current']['persistent_workers']}")
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=1)
        print(f'wrote {args.out}')


if __name__ == '__main__':
    main()
