"""Checks a config before a run starts, so that a typo fails in a second with an
actionable message instead of deep inside the Runner.

The data checks (:func:`check_data_roots`, :func:`check_dataset_files`) live
with the other data rules in :mod:`depict.datasets.checker`; they are
importable from here and from :mod:`depict.engine` too.
"""
import difflib
from typing import Optional

from mmengine.config import Config

from depict.datasets.checker import check_data_roots, check_dataset_files

__all__ = ['check_data_roots', 'check_cfg_options', 'check_dataset_files']

#: Top-level keys that mmengine's Runner (and our tools) read although a config
#: need not define them: ``--cfg-options`` may add these.
RUNNER_KEYS = frozenset({
    'model', 'work_dir', 'train_dataloader', 'val_dataloader', 'test_dataloader',
    'train_cfg', 'val_cfg', 'test_cfg', 'auto_scale_lr', 'optim_wrapper', 'param_scheduler',
    'val_evaluator', 'test_evaluator', 'default_hooks', 'custom_hooks', 'data_preprocessor',
    'load_from', 'resume', 'launcher', 'env_cfg', 'log_processor', 'log_level', 'visualizer',
    'default_scope', 'randomness', 'experiment_name', 'runner_type', 'custom_imports',
    'tta_model', 'tta_pipeline', 'strategy', 'compile', 'cfg', 'vis_backends',
})


def check_cfg_options(cfg: Config, options: Optional[dict]) -> None:
    """Rejects ``--cfg-options`` whose top-level key the config does not have.

    ``merge_from_dict`` happily adds ``trian_cfg.max_iters=1`` as a new, unused
    key and the full run starts; an unknown top-level key is almost always a
    typo. Keys that the Runner reads without the config defining them
    (:data:`RUNNER_KEYS`) are allowed.

    Raises:
        KeyError: naming the key and the closest valid names.
    """
    if not options:
        return
    known = set(cfg.keys()) | RUNNER_KEYS
    for option in options:
        key = option.split('.', 1)[0]
        if key in known:
            continue
        close = difflib.get_close_matches(key, sorted(known), n=3, cutoff=0.6)
        hint = f'did you mean {" or ".join(repr(c) for c in close)}? ' if close else ''
        raise KeyError(
            f'--cfg-options {option}: the config has no top-level key {key!r}; {hint}'
            f'(valid top-level keys: {", ".join(sorted(cfg.keys()))})')
