"""Distributed launch: the launcher's environment, and multi-process runs without CUDA.

mmengine 0.10.7's ``init_dist`` calls ``torch.cuda.set_device`` for every
launcher, so multi-process training on CPU fails inside it. When there is no
GPU, :func:`setup_cpu_distributed` initialises a gloo process group from the
launcher's environment before the Runner is built (mmengine then skips its own
initialisation) and configures DDP for CPU modules (``device_ids=None``).
"""
import os
from datetime import timedelta
from typing import Optional

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.logging import print_log

__all__ = ['prepare_launcher_env', 'setup_cpu_distributed', 'shutdown_distributed']


def prepare_launcher_env(launcher: str, local_rank: Optional[int] = None) -> None:
    """Sets torch.distributed's variables from the launcher's, with CUDA or without.

    Runs before the Runner is built, so that mmengine's own initialisation (with
    CUDA) finds them: it keeps an existing ``MASTER_ADDR``, which is how the
    Slurm address of :func:`~depict.engine.slurm.slurm_master_addr` replaces
    mmengine's ``scontrol`` output (an error text when ``scontrol`` fails).

    * ``pytorch``: torchrun has set them; ``local_rank`` (``--local-rank`` from
      the legacy ``torch.distributed.launch``) fills ``LOCAL_RANK`` if unset.
    * ``slurm``: :func:`~depict.engine.slurm.slurm_dist_env`; ``LOCAL_RANK``
      always follows ``SLURM_LOCALID`` (the task's GPU on its node), whatever
      the environment held. Every task logs its rank and master address.
    * ``mpi``: Open MPI's ``OMPI_COMM_WORLD_*``.

    Raises:
        RuntimeError: a variable the launcher should have set is missing,
            naming it and how to start the tool instead.
    """
    if launcher == 'none':
        return
    if launcher == 'pytorch':
        if local_rank is not None:
            os.environ.setdefault('LOCAL_RANK', str(local_rank))
        missing = [v for v in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')
                   if v not in os.environ]
        if missing:
            raise RuntimeError(
                f'--launcher pytorch needs {", ".join(missing)}, which torchrun sets: start '
                'the tool with tools/dist_train.sh / tools/dist_test.sh (or torchrun), or '
                'leave --launcher out for one process')
    elif launcher == 'slurm':
        from .slurm import slurm_dist_env
        values, line = slurm_dist_env()
        os.environ.update(values)
        print_log(line, logger='current')
    elif launcher == 'mpi':
        os.environ.setdefault('RANK', os.environ['OMPI_COMM_WORLD_RANK'])
        os.environ.setdefault('WORLD_SIZE', os.environ['OMPI_COMM_WORLD_SIZE'])
        os.environ.setdefault('LOCAL_RANK', os.environ['OMPI_COMM_WORLD_LOCAL_RANK'])
        os.environ.setdefault('MASTER_ADDR', '127.0.0.1')
        os.environ.setdefault('MASTER_PORT', '29500')
    else:
        raise ValueError(f'unknown launcher {launcher!r}: use none, pytorch, slurm or mpi')


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
    if 'RANK' not in os.environ or 'WORLD_SIZE' not in os.environ:
        prepare_launcher_env(launcher)  # the tools have done it already
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
