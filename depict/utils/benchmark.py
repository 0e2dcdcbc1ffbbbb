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
"""
import os
import statistics
import time
from typing import Callable

import torch

__all__ = ['time_fn', 'summarize', 'peak_memory', 'matmul_rate']


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
