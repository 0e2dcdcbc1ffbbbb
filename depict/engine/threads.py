"""CPU threads for training and testing without a GPU.

PyTorch starts one intra-op thread per core of the machine, not per core the
process may use, and each dataloader worker is a process of its own: in a
container limited to a few cores, or beside other jobs, the threads outnumber
the cores and every step waits for descheduled threads (measured on the toy
task: 1.2-12.8 s per iteration with the default, 0.15-0.4 s with one thread).
:func:`setup_cpu_threads` sizes the pool from the cores this process may
actually use.
"""
import math
import os
from typing import Optional

from mmengine.config import Config
from mmengine.logging import print_log

__all__ = ['available_cpus', 'cpu_threads_for', 'setup_cpu_threads']


def _cgroup_cpu_limit(root: str = '/sys/fs/cgroup') -> Optional[float]:
    """The CPU quota of this process's cgroup in cores, or None if unlimited."""
    try:  # cgroup v2: "max 100000" or "<quota> <period>"
        with open(os.path.join(root, 'cpu.max')) as f:
            quota, period = f.read().split()[:2]
        return None if quota == 'max' else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:  # cgroup v1
        with open(os.path.join(root, 'cpu', 'cpu.cfs_quota_us')) as f:
            quota = int(f.read())
        with open(os.path.join(root, 'cpu', 'cpu.cfs_period_us')) as f:
            period = int(f.read())
        return None if quota <= 0 else quota / period
    except (OSError, ValueError):
        return None


def available_cpus(cgroup_root: str = '/sys/fs/cgroup') -> int:
    """Cores this process may run on: its CPU affinity, capped by a cgroup quota."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    quota = _cgroup_cpu_limit(cgroup_root)
    if quota is not None:
        cpus = min(cpus, max(1, math.floor(quota)))
    return max(1, cpus)


def cpu_threads_for(cpus: int, workers: int, processes: int = 1) -> int:
    """Intra-op threads per training/testing process.

    Each of the ``processes`` (distributed ranks on this machine) gets an equal
    share of the cores, and from its share one core per dataloader worker,
    because a worker is a process that keeps one core busy decoding and
    augmenting (PyTorch sets one thread in workers, mmengine's ``mp_cfg`` turns
    OpenCV's pool off). The model gets the rest, at least one thread:

        threads = max(1, cpus // processes - workers)

    so that model threads + workers never exceed the cores.
    """
    return max(1, cpus // max(1, processes) - max(0, workers))


def setup_cpu_threads(cfg: Config, loader: str) -> Optional[int]:
    """Sets torch's intra-op threads for a CPU run; returns them (None: untouched).

    Applies only without CUDA, and only if neither ``OMP_NUM_THREADS`` nor the
    config (``env_cfg.cpu_threads``, e.g. ``--cfg-options env_cfg.cpu_threads=8``)
    chose a number; ``env_cfg.cpu_threads`` set to a number is used as is.

    Args:
        cfg: The run's config.
        loader: The dataloader the run iterates (``'train_dataloader'`` or
            ``'test_dataloader'``): its ``num_workers`` are set aside.
    """
    import torch
    if torch.cuda.is_available():
        return None
    chosen = (cfg.get('env_cfg') or {}).get('cpu_threads')
    if chosen is not None:
        threads, why = int(chosen), 'env_cfg.cpu_threads'
    elif os.environ.get('OMP_NUM_THREADS'):
        return None  # torch already follows it
    else:
        cpus = available_cpus()
        workers = int((cfg.get(loader) or {}).get('num_workers', 0) or 0)
        processes = int(os.environ.get('LOCAL_WORLD_SIZE', '1'))
        threads = cpu_threads_for(cpus, workers, processes)
        why = (f'{cpus} available core(s), {workers} {loader} worker(s), {processes} '
               'process(es) on this machine; override with OMP_NUM_THREADS=N or '
               '--cfg-options env_cfg.cpu_threads=N')
    torch.set_num_threads(threads)
    print_log(f'CPU run: {threads} intra-op thread(s) ({why})', logger='current')
    return threads
