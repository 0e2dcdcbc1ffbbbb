"""The start that ``tools/train.py`` and ``tools/test.py`` share."""
import os.path as osp
from typing import Optional

from mmengine.config import Config

from depict.utils.config import load_config

from .dist import prepare_launcher_env
from .preflight import check_cfg_options

__all__ = ['setup_tool_config']


def setup_tool_config(config: str, *, launcher: str = 'none',
                      cfg_options: Optional[dict] = None, work_dir: Optional[str] = None,
                      local_rank: Optional[int] = None) -> Config:
    """Loads a run's config the way every config-based tool starts.

    1. The config file (:func:`depict.utils.config.load_config`: no yapf on
       every dump).
    2. ``--cfg-options`` merged, after :func:`~depict.engine.preflight.check_cfg_options`
       rejected mistyped top-level keys (with the closest valid name).
    3. The work dir: ``--work-dir``, else the config's ``work_dir``, else
       ``./work_dirs/<config file name>``.
    4. The launcher recorded (``cfg.launcher``) and its environment prepared
       for every rank (:func:`~depict.engine.dist.prepare_launcher_env`), before
       anything reads ``RANK`` / ``LOCAL_RANK``.

    Args:
        config: Path of the config file.
        launcher: ``none``, ``pytorch``, ``slurm`` or ``mpi``.
        cfg_options: ``--cfg-options`` as parsed by mmengine's ``DictAction``.
        work_dir: ``--work-dir``, or None.
        local_rank: ``--local-rank`` (the legacy ``torch.distributed.launch``
            passes it), or None.
    """
    cfg = load_config(config)
    if cfg_options:
        check_cfg_options(cfg, cfg_options)
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config))[0])
    cfg.launcher = launcher
    prepare_launcher_env(launcher, local_rank)
    return cfg
