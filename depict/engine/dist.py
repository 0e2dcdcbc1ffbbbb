"""Distributed launch without CUDA.

mmengine 0.10.7's ``init_dist`` calls ``torch.cuda.set_device`` for every
launcher, so multi-process training on CPU fails inside it. When there is no
GPU, :func:`setup_cpu_distributed` initialises a gloo process group from the
launcher's environment before the Runner is built (mmengine then skips its own
initialisation) and configures DDP for CPU modules (``device_ids=None``).
"""
import os
import subprocess
from datetime import timedelta

import torch
import torch.distributed as torch_dist
from mmengine.config import Config

__all__ = ['setup_cpu_distributed', 'shutdown_distributed']


def _launcher_env(launcher: str) -> None:
    """Fills RANK / WORLD_SIZE / LOCAL_RANK / MASTER_* from the launcher's variables."""
    if launcher == 'slurm':
        os.environ.setdefault('RANK', os.environ['SLURM_PROCID'])
        os.environ.setdefault('WORLD_SIZE', os.environ['SLURM_NTASKS'])
        os.environ.setdefault('LOCAL_RANK', os.environ.get('SLURM_LOCALID', '0'))
        if 'MASTER_ADDR' not in os.environ:
            nodes = os.environ['SLURM_NODELIST']
            os.environ['MASTER_ADDR'] = subprocess.getoutput(
                f'scontrol show hostname {nodes} | head -n1')
    elif launcher == 'mpi':
        os.environ.setdefault('RANK', os.environ['OMPI_COMM_WORLD_RANK'])
        os.environ.setdefault('WORLD_SIZE', os.environ['OMPI_COMM_WORLD_SIZE'])
        os.environ.setdefault('LOCAL_RANK', os.environ['OMPI_COMM_WORLD_LOCAL_RANK'])
        os.environ.setdefault('MASTER_ADDR', '127.0.0.1')
    elif launcher != 'pytorch':
        raise ValueError(f'unknown launcher {launcher!r}: use none, pytorch, slurm or mpi')
    os.environ.setdefault('MASTER_PORT', '29500')


def setup_cpu_distributed(cfg: Config, launcher: str) -> bool:
    """Prepares a multi-process CPU run; does nothing with CUDA or without a launcher.

    Args:
        cfg: The run's config; its ``env_cfg.dist_cfg.backend`` and
            ``model_wrapper_cfg`` are set for CPU.
        launcher: ``none``, ``pytorch``, ``slurm`` or ``mpi``.

    Returns:
        True if a gloo process group was initialised here.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return False
    _launcher_env(launcher)
    dist_cfg = cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})
    dist_cfg['backend'] = 'gloo'
    if not torch_dist.is_initialized():
        timeout = dist_cfg.get('timeout')
        kwargs = {} if timeout is None else {'timeout': timedelta(seconds=timeout)}
        torch_dist.init_process_group(backend='gloo', **kwargs)
    wrapper = cfg.get('model_wrapper_cfg') or dict(type='MMDistributedDataParallel')
    wrapper.setdefault('device_ids', None)  # DDP on CPU modules takes no device ids
    wrapper.setdefault('broadcast_buffers', False)
    cfg.model_wrapper_cfg = wrapper
    return True


def shutdown_distributed() -> None:
    """Destroys the default process group, if there is one, once every rank is done.

    PyTorch asks for ``destroy_process_group`` at the end of a distributed run;
    mmengine's Runner never calls it. Without it, a 2-process CPU (gloo) run of
    ``tools/dist_train.sh`` that had finished training and validation aborted
    once at interpreter exit in CI ("terminate called without an active
    exception" from rank 1, exit -6), and the launcher reported the run as
    failed. The barrier keeps one rank from tearing the group down while another
    is still in its last collective.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()
