"""Timing and peak-memory measurement shared by the benchmark tools.

* :func:`time_fn`: wall time of a callable over repeated runs after warm-up;
  on CUDA with CUDA events (the GPU runs asynchronously), on CPU with
  ``time.perf_counter``.
* :func:`peak_memory`: tensor memory allocated at the peak of one call, above
  what was allocated when it started. CUDA: the caching allocator's
  ``max_memory_allocated``. CPU: torch's profiler with ``profile_memory=True``,
  replaying every tensor allocation and free in order (torch tensors only; the
  process RSS includes the allocator's cache and never shrinks, and
  ``tracemalloc`` does not see torch's allocations).
* :func:`matmul_rate`: multiply-accumulates per second of a plain matrix
  product, the ceiling a decoder's achieved rate is compared against.
* :data:`DECODER_CONFIGS` / :func:`decoder_config`: the paper config of each
  decoder at each backbone width, the set the benchmark tools compare.
* :func:`make_samples`: data samples with scene-like random labels.
"""
import os
import statistics
import time
from typing import Callable, Union

import torch

__all__ = ['time_fn', 'summarize', 'peak_memory', 'matmul_rate', 'DECODER_CONFIGS',
           'decoder_config', 'make_samples']

#: Decoder name -> config per backbone width (the papers' ADE20K configs), as
#: paths relative to the repository root. An entry is a path, or a path and the
#: ``model`` overrides that make the width.
DECODER_CONFIGS: dict[str, dict[int, Union[str, tuple[str, dict]]]] = {
    'segmenter': {
        768: 'configs/segmenter/segmenter-mask_vit-b16_8xb1-160k_ade20k-512x512.py',
        1024: 'configs/segmenter/segmenter-mask_vit-l16_8xb1-160k_ade20k-640x640.py'},
    'depict-sa': {
        768: 'configs/depict/depict-sa_vit-b16_8xb1-160k_ade20k-512x512.py',
        1024: 'configs/depict/depict-sa_vit-l16_8xb1-160k_ade20k-640x640.py'},
    'depict-ca': {
        768: 'configs/depict/depict-ca_vit-b16_8xb1-160k_ade20k-512x512.py',
        1024: 'configs/depict/depict-ca_vit-l16_8xb1-160k_ade20k-640x640.py'},
    'atm': {
        768: 'configs/segvit/segvit_vit-b16_8xb2-160k_ade20k-512x512.py',
        1024: 'configs/segvit/segvit_vit-l16_8xb2-160k_ade20k-640x640.py'},
    'atm-shrunk': {
        # No ViT-B Shrunk in the paper: the ViT-L config scaled as the paper scales
        # ATM from L to B (head width d/2, d/64 heads), QD after a third of the blocks.
        768: ('configs/segvit/segvit-shrunk_vit-l16_8xb2-160k_ade20k-640x640.py',
              dict(backbone=dict(embed_dims=768, num_layers=12, num_heads=12, shrink_index=4,
                                 out_indices=(3, 11)),
                   decode_head=dict(in_channels=768, channels=384, num_heads=12))),
        1024: 'configs/segvit/segvit-shrunk_vit-l16_8xb2-160k_ade20k-640x640.py'},
    'repsep': {
        768: 'configs/repsep/repsep_vit-b16_8xb2-160k_ade20k-512x512.py',
        1024: 'configs/repsep/repsep_vit-l16_8xb2-160k_ade20k-640x640.py'},
}


def decoder_config(name: str, width: int) -> tuple[str, dict]:
    """(config path relative to the repository, ``model`` overrides) of a
    decoder of :data:`DECODER_CONFIGS` at a backbone width."""
    if name not in DECODER_CONFIGS:
        raise KeyError(f'unknown decoder {name!r}; known: {", ".join(DECODER_CONFIGS)}')
    table = DECODER_CONFIGS[name]
    if width not in table:
        raise KeyError(f'decoder {name!r} has no config at width {width}; widths: '
                       f'{", ".join(map(str, sorted(table)))}')
    entry = table[width]
    return (entry, {}) if isinstance(entry, str) else entry


def _synchronize(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def time_fn(fn: Callable[[], object], *, repeat: int, warmup: int,
            device: torch.device | str = 'cpu') -> list[float]:
    """Seconds per call of ``fn`` for ``repeat`` calls after ``warmup`` calls."""
    device = torch.device(device)
    for _ in range(warmup):
        fn()
    _synchronize(device)
    times = []
    for _ in range(repeat):
        if device.type == 'cuda':
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize(device)
            times.append(start.elapsed_time(end) / 1e3)
        else:
            start_time = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start_time)
    return times


def summarize(times: list[float]) -> dict[str, float]:
    """Median and spread (interquartile range, min, max) in milliseconds."""
    ms = sorted(1e3 * t for t in times)
    if len(ms) >= 4:
        q1, _, q3 = statistics.quantiles(ms, n=4)
    else:
        q1, q3 = ms[0], ms[-1]
    return dict(median_ms=statistics.median(ms), iqr_ms=q3 - q1, min_ms=ms[0], max_ms=ms[-1])


def peak_memory(fn: Callable[[], object], device: torch.device | str = 'cpu') -> tuple[int, str]:
    """(bytes above the starting allocation at the peak of one call, method)."""
    device = torch.device(device)
    if device.type == 'cuda':
        _synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        fn()
        _synchronize(device)
        return torch.cuda.max_memory_allocated(device) - base, 'torch.cuda.max_memory_allocated'
    # Silences kineto's "gpuGetDeviceCount failed" line on CPU-only machines.
    os.environ.setdefault('KINETO_LOG_LEVEL', '5')
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                    if e.name() == '[memory]'
                    and e.device_type() == torch.autograd.DeviceType.CPU)
    level = peak = 0
    for _, nbytes in events:
        level += nbytes
        peak = max(peak, level)
    return peak, 'torch.profiler (profile_memory, CPU tensor allocations)'


def matmul_rate(rows: int, inner: int, cols: int, *, device: torch.device | str = 'cpu',
                dtype: torch.dtype = torch.float32, repeat: int = 10,
                warmup: int = 3) -> tuple[float, dict[str, float]]:
    """Multiply-accumulates per second of ``(rows, inner) @ (inner, cols)``.

    Returns:
        The median rate (MAC/s) and the timing summary.
    """
    a = torch.randn(rows, inner, device=device, dtype=dtype)
    b = torch.randn(inner, cols, device=device, dtype=dtype)
    times = time_fn(lambda: a @ b, repeat=repeat, warmup=warmup, device=device)
    stats = summarize(times)
    return rows * inner * cols / (stats['median_ms'] / 1e3), stats


def make_samples(batch: int, shape: tuple[int, int], classes: int, device: torch.device,
                 classes_per_image: int = 12, grid: int = 8):
    """Data samples with scene-like labels: a ``grid`` x ``grid`` map of regions,
    each one of ``classes_per_image`` classes drawn for the image (an ADE20K
    image shows about a dozen classes; per-pixel random labels would make every
    class present and inflate the cost of losses that work per present class).

    Returns:
        The ``SegDataSample`` list and their meta dicts.
    """
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    generator = torch.Generator().manual_seed(0)
    samples, metas = [], []
    for _ in range(batch):
        meta = dict(img_shape=shape, ori_shape=shape, pad_shape=shape)
        sample = SegDataSample(metainfo=meta)
        present = torch.randperm(classes, generator=generator)[:classes_per_image]
        regions = present[torch.randint(0, len(present), (1, 1, grid, grid), generator=generator)]
        # (1, 1, grid, grid) -> (1, H, W): nearest upsampling keeps whole regions.
        labels = torch.nn.functional.interpolate(regions.float(), size=shape,
                                                 mode='nearest').long()[0]
        sample.gt_sem_seg = PixelData(data=labels.to(device))
        samples.append(sample)
        metas.append(meta)
    return samples, metas
