"""End to end: EoMT's toy config through tools/train.py and tools/test.py (ss, --tta).

As tests/test_tools/test_train_test_tools.py does for the Segmenter toy config: the
command lines a user runs, on the 16-image toy dataset for a few iterations. The
training log shows the annealed mask probabilities and every block's losses; a run
resumed half-way continues them exactly.
"""
import os.path as osp
import re

import pytest

from conftest import PYTHON, REPO, fast_cfg_options, run_tool

CONFIG = osp.join(REPO, 'configs', 'eomt', 'eomt_vit-toy_1xb8-2k_toy-64x64.py')
TRAIN = osp.join(REPO, 'tools', 'train.py')
TEST = osp.join(REPO, 'tools', 'test.py')


def _options(root):
    # Annealing within the 4 iterations (P changes every step), a checkpoint at 2.
    return fast_cfg_options(root, iters=4) + [
        'default_hooks.checkpoint.interval=2', 'custom_hooks.1.start_iters=[1,2]',
        'custom_hooks.1.end_iters=[3,4]']


@pytest.fixture(scope='module')
def trained(tmp_path_factory, tiny_toy_root):
    work_dir = str(tmp_path_factory.mktemp('eomt_train'))
    proc = run_tool([PYTHON, TRAIN, CONFIG, '--work-dir', work_dir, '--cfg-options',
                     *_options(tiny_toy_root)], fork=True)
    return work_dir, proc.stdout + proc.stderr


def _steps(log):
    """Per logged training iteration: the mask probabilities and the total loss."""
    return {int(m.group(1)): (m.group(2), m.group(3)) for m in re.finditer(
        r'Iter\(train\) \[(\d+)/4\].*?(attn_mask_prob_0: \S+\s+attn_mask_prob_1: \S+)'
        r'.*?\s(loss: \S+)', log)}


def test_train(trained):
    work_dir, log = trained
    assert osp.isfile(osp.join(work_dir, 'iter_4.pth'))
    steps = _steps(log)
    # The official schedule at iterations 0..3: block 0 from 1 at 1 to 0 at 3.
    assert steps[1][0].startswith('attn_mask_prob_0: 1.0000')
    assert steps[3][0].startswith(f'attn_mask_prob_0: {0.5 ** 0.9:.4f}')
    assert steps[4][0] == 'attn_mask_prob_0: 0.0000  attn_mask_prob_1: 0.5359'
    assert 'decode.p1.loss_dice' in log
    assert re.search(r'Iter\(val\).*mIoU: [0-9.]+', log)


def test_resume_continues_the_annealing_exactly(trained, tiny_toy_root, tmp_path):
    """Resumed at iteration 2: the same probabilities and losses as the uninterrupted run."""
    work_dir, log = trained
    proc = run_tool([PYTHON, TRAIN, CONFIG, '--work-dir', str(tmp_path), '--resume',
                     osp.join(work_dir, 'iter_2.pth'), '--cfg-options',
                     *_options(tiny_toy_root)], fork=True)
    resumed = _steps(proc.stdout + proc.stderr)
    assert set(resumed) == {3, 4}
    assert resumed == {i: _steps(log)[i] for i in (3, 4)}


@pytest.mark.parametrize('tta', [False, True], ids=['ss', 'tta'])
def test_test(trained, tiny_toy_root, tmp_path, tta):
    work_dir, _ = trained
    proc = run_tool([PYTHON, TEST, CONFIG, osp.join(work_dir, 'iter_4.pth'), *(['--tta'] if tta else []), '--work-dir',
                     str(tmp_path), '--cfg-options', *fast_cfg_options(tiny_toy_root)],
                    fork=True)
    assert re.search(r'aAcc: [0-9.]+\s+mIoU: [0-9.]+', proc.stdout + proc.stderr)
