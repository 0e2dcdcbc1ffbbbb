"""End to end: tools/train.py and tools/test.py on the toy config.

Every run is the command line a user would start, on a 16-image toy dataset
for a handful of iterations: in a process forked from a pre-imported interpreter
(``run_tool(fork=True)``, see conftest.py; the same argv, exit status and
output without re-importing torch and mmseg, ~9 s a run on CI), except where
the new interpreter is the point (dist_train.sh, mmseg's own train tool).
"""
import glob
import os
import os.path as osp
import re
import shutil
import socket

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import PYTHON, REPO, TOY_CONFIG, fast_cfg_options, run_tool

TRAIN = osp.join(REPO, 'tools', 'train.py')
TEST = osp.join(REPO, 'tools', 'test.py')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.fixture(scope='module')
def trained(tmp_path_factory, tiny_toy_root):
    """A toy run of 4 iterations: work dir and checkpoint."""
    work_dir = str(tmp_path_factory.mktemp('train'))
    proc = run_tool([PYTHON, TRAIN, TOY_CONFIG, '--work-dir', work_dir, '--cfg-options',
                     *fast_cfg_options(tiny_toy_root, iters=4)], fork=True)
    return work_dir, osp.join(work_dir, 'iter_4.pth'), proc.stdout + proc.stderr


def test_train_trains_validates_and_checkpoints(trained):
    work_dir, ckpt, log = trained
    assert osp.isfile(ckpt)
    assert 'Iter(train) [4/4]' in log
    assert re.search(r'Iter\(val\).*mIoU: [0-9.]+', log)
    # Scalars are recorded for TensorBoard when it is installed ([tools] extra).
    if shutil.which('tensorboard') or _has_tensorboard():
        assert glob.glob(osp.join(work_dir, '*', 'vis_data', 'events.out.tfevents.*'))


def _has_tensorboard() -> bool:
    import importlib.util
    return importlib.util.find_spec('tensorboard') is not None


def test_test_prints_per_class_table_and_miou(trained, tiny_toy_root, tmp_path):
    _, ckpt, _ = trained
    proc = run_tool([PYTHON, TEST, TOY_CONFIG, ckpt, '--work-dir', str(tmp_path),
                     '--cfg-options', *fast_cfg_options(tiny_toy_root)], fork=True)
    out = proc.stdout + proc.stderr
    assert 'per class results' in out and '| balloon |' in out
    assert re.search(r'aAcc: [0-9.]+\s+mIoU: [0-9.]+\s+mAcc: [0-9.]+', out)


def test_test_with_tta_prints_multiscale_miou(trained, tiny_toy_root, tmp_path):
    _, ckpt, _ = trained
    proc = run_tool([PYTHON, TEST, TOY_CONFIG, ckpt, '--tta', '--work-dir', str(tmp_path),
                     '--cfg-options', *fast_cfg_options(tiny_toy_root)], fork=True)
    assert re.search(r'mIoU: [0-9.]+', proc.stdout + proc.stderr)


def _adamw_step(ckpt_path: str) -> int:
    ckpt = torch.load(ckpt_path, weights_only=True)
    steps = {int(s['step']) for s in ckpt['optimizer']['state'].values()}
    assert len(steps) == 1
    return steps.pop()


def test_resume_continues_from_saved_iteration(tiny_toy_root, tmp_path):
    work_dir = str(tmp_path / 'resume')
    opts = fast_cfg_options(tiny_toy_root, iters=4) + ['default_hooks.checkpoint.interval=2',
                                                       'default_hooks.checkpoint.max_keep_ckpts=5',
                                                       'train_cfg.val_interval=100']
    run_tool([PYTHON, TRAIN, TOY_CONFIG, '--work-dir', work_dir, '--cfg-options', *opts],
             fork=True)
    assert _adamw_step(osp.join(work_dir, 'iter_4.pth')) == 4

    # Bare --resume: the latest checkpoint (iter 4); 2 more iterations to reach 6.
    longer = opts + ['train_cfg.max_iters=6']
    proc = run_tool([PYTHON, TRAIN, TOY_CONFIG, '--work-dir', work_dir, '--resume',
                     '--cfg-options', *longer], fork=True)
    log = proc.stdout + proc.stderr
    assert 'resumed epoch: 0, iter: 4' in log
    assert 'Iter(train) [5/6]' in log and 'Iter(train) [1/6]' not in log
    final = torch.load(osp.join(work_dir, 'iter_6.pth'), weights_only=True)
    assert _adamw_step(osp.join(work_dir, 'iter_6.pth')) == 6  # optimizer state carried
    # The schedulers continued too: they have seen 6 iterations in total.
    assert all(s['_global_step'] == 6 for s in final['param_schedulers'])
    assert final['param_schedulers'][0]['last_step'] == 6  # the warm-up

    # --resume PATH: that checkpoint, here iteration 2.
    proc = run_tool([PYTHON, TRAIN, TOY_CONFIG, '--work-dir', str(tmp_path / 'other'),
                     '--resume', osp.join(work_dir, 'iter_2.pth'), '--cfg-options', *opts],
                    fork=True)
    log = proc.stdout + proc.stderr
    assert 'resumed epoch: 0, iter: 2' in log and 'Iter(train) [3/4]' in log


def test_dist_train_two_cpu_processes(tiny_toy_root, tmp_path):
    work_dir = str(tmp_path / 'dist')
    proc = run_tool(['bash', osp.join(REPO, 'tools', 'dist_train.sh'), TOY_CONFIG, '2',
                     '--work-dir', work_dir, '--cfg-options',
                     *fast_cfg_options(tiny_toy_root, iters=4)],
                    env={'PORT': str(_free_port())})
    log = proc.stdout + proc.stderr
    assert 'Distributed training: True' in log
    # 4 validation images shared by 2 processes: 2 per process.
    assert 'Iter(val) [2/2]' in log
    assert sorted(osp.basename(p) for p in glob.glob(osp.join(work_dir, '*.pth'))) == ['iter_4.pth']


def test_mmseg_own_train_tool_sees_depict(tiny_toy_root, tmp_path):
    import mmseg
    mmseg_train = osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools', 'train.py')
    assert osp.isfile(mmseg_train)
    run_tool([PYTHON, mmseg_train, TOY_CONFIG, '--work-dir', str(tmp_path), '--cfg-options',
              *fast_cfg_options(tiny_toy_root, iters=2)], cwd=str(tmp_path))
    assert osp.isfile(tmp_path / 'iter_2.pth')


# ---------------------------------------------------------------- bad input


def _fails_with(args, *patterns):
    proc = run_tool(args, check=False, fork=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    for pattern in patterns:
        assert re.search(pattern, out), f'{pattern!r} not in:\n{out[-3000:]}'
    return out


def test_missing_data_root_names_the_path(tmp_path):
    missing = str(tmp_path / 'no_such_dataset')
    opts = [f'{loader}.dataset.{key}' for loader in ('train_dataloader', 'val_dataloader')
            for key in (f'data_root={missing}', 'generate=False')]
    _fails_with([PYTHON, TRAIN, TOY_CONFIG, '--work-dir', str(tmp_path / 'w'),
                 '--cfg-options', *opts], re.escape(missing), 'data_root')


def test_num_classes_mismatch_is_reported(tiny_toy_root, tmp_path):
    _fails_with([PYTHON, TRAIN, TOY_CONFIG, '--work-dir', str(tmp_path), '--cfg-options',
                 *fast_cfg_options(tiny_toy_root, iters=2), 'model.decode_head.num_classes=5'],
                r'num_classes mismatch.*num_classes=5.*8 classes',
                r'Set model\.decode_head\.num_classes=8')


def _copy_dataset(src: str, dst: str) -> str:
    shutil.copytree(src, dst)
    return dst


def test_unreadable_image_is_named(tiny_toy_root, tmp_path):
    root = _copy_dataset(tiny_toy_root, str(tmp_path / 'toy'))
    broken = sorted(glob.glob(osp.join(root, 'images', 'training', '*.jpg')))[0]
    with open(broken, 'wb') as f:
        f.write(b'this is not a jpeg')
    _fails_with([PYTHON, TRAIN, TOY_CONFIG, '--work-dir', str(tmp_path / 'w'), '--cfg-options',
                 *fast_cfg_options(root, iters=20), 'train_dataloader.batch_size=16'],
                re.escape(osp.basename(broken)))


def test_label_out_of_range_is_named(tiny_toy_root, tmp_path):
    root = _copy_dataset(tiny_toy_root, str(tmp_path / 'toy'))
    for path in glob.glob(osp.join(root, 'annotations', '*', '*.png')):
        label = np.array(Image.open(path))
        label[:8, :8] = 42  # 41 after reduce_zero_label: outside 0..7
        Image.fromarray(label).save(path)
    _fails_with([PYTHON, TRAIN, TOY_CONFIG, '--work-dir', str(tmp_path / 'w'), '--cfg-options',
                 *fast_cfg_options(root, iters=2)],
                r'label out of range in .*toy_training_\d+\.png.*\[41\]', 'reduce_zero_label')


def test_amp_training_runs_on_cpu(tiny_toy_root, tmp_path):
    """--amp picks bf16 autocast where mmengine's AmpOptimWrapper needs a GPU."""
    proc = run_tool([PYTHON, TRAIN, TOY_CONFIG, '--amp', '--work-dir', str(tmp_path),
                     '--cfg-options', *fast_cfg_options(tiny_toy_root, iters=2)], fork=True)
    log = proc.stdout + proc.stderr
    expected = 'AmpOptimWrapper' if torch.cuda.is_available() else 'AutocastOptimWrapper'
    assert expected in log
    loss = float(re.search(r'Iter\(train\) \[2/2\].*? loss: ([0-9.]+)', log).group(1))
    assert np.isfinite(loss)
