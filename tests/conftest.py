"""Shared fixtures: the package is imported once (registration + compat layer)."""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

import depict  # noqa: F401  registers depict's modules, applies the compat layer

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TOY_CONFIG = osp.join(REPO, 'configs', 'segmenter',
                      'segmenter-mask_vit-toy_1xb8-2k_toy-64x64.py')

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope='session')
def tiny_toy_root(tmp_path_factory) -> str:
    """A small toy dataset (16 train / 4 val images) for end-to-end runs."""
    from depict.datasets import generate_toy_dataset
    return generate_toy_dataset(str(tmp_path_factory.mktemp('data') / 'toy'),
                                num_train=16, num_val=4, seed=1)


def fast_cfg_options(data_root: str, iters: int = 4) -> list[str]:
    """--cfg-options that make a toy config run in seconds."""
    opts = [
        f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
        f'default_hooks.checkpoint.interval={iters}', 'default_hooks.logger.interval=1',
        'train_dataloader.batch_size=2',
    ]
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.num_workers=0', f'{loader}.persistent_workers=False',
                 f'{loader}.dataset.data_root={data_root}']
    return opts


def run_tool(args: list[str], cwd: str = REPO, env: dict | None = None,
             timeout: int = 600, check: bool = True) -> subprocess.CompletedProcess:
    """Runs a command line (a tool) and returns it; fails with its output."""
    # The interpreter's bin first, so that scripts calling `python` (dist_train.sh)
    # run the same environment as the tests.
    path = os.pathsep.join([osp.dirname(sys.executable), os.environ.get('PATH', '')])
    full_env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore', PATH=path)
    full_env.update(env or {})
    proc = subprocess.run(args, cwd=cwd, env=full_env, capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f'{" ".join(args)} failed ({proc.returncode}):\n'
                             f'{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}')
    return proc


PYTHON = sys.executable


def logged_mious(log: str) -> list[float]:
    """Every mIoU a tool logged, each checked against the per-class IoU table
    mmseg's IoUMetric prints before it: in [0, 100] and the mean of the table's
    IoUs (NaN classes, absent from the labels, excluded; both sides rounded to
    0.01, hence the tolerance). Fails if the log holds no result."""
    import math
    import re
    mious = []
    lines = log.splitlines()
    for start, line in enumerate(lines):
        if not re.match(r'^\|\s*Class\s*\|\s*IoU\s*\|', line):
            continue
        ious = []
        end = start + 1
        while end < len(lines) and lines[end].startswith(('|', '+')):
            cells = [c.strip() for c in lines[end].strip('|').split('|')]
            if len(cells) >= 2 and cells[1] not in ('IoU', ''):
                ious.append(float(cells[1]))
            end += 1
        found = re.search(r'mIoU: ([\d.]+)', '\n'.join(lines[end:]))
        assert found, 'a per-class table without its mIoU'
        miou = float(found.group(1))
        present = [v for v in ious if not math.isnan(v)]
        assert ious and 0.0 <= miou <= 100.0, (ious, miou)
        assert abs(sum(present) / len(present) - miou) <= 0.011, (ious, miou)
        mious.append(miou)
    assert mious, 'no mIoU result in the log'
    return mious
