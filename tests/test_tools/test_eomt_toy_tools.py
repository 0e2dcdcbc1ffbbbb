"""End to end: EoMT's toy config through tools/train.py and tools/test.py (ss, --tta).

As tests/test_tools/test_train_test_tools.py does for the Segmenter toy config: the
command lines a user runs, on the 16-image toy dataset for a few iterations. The
training log shows the annealed mask probabilities and every block's losses.
"""
import os.path as osp
import re

import pytest

from conftest import PYTHON, REPO, fast_cfg_options, run_tool

CONFIG = osp.join(REPO, 'configs', 'eomt', 'eomt_vit-toy_1xb8-2k_toy-64x64.py')
TRAIN = osp.join(REPO, 'tools', 'train.py')
TEST = osp.join(REPO, 'tools', 'test.py')


@pytest.fixture(scope='module')
def trained(tmp_path_factory, tiny_toy_root):
    work_dir = str(tmp_path_factory.mktemp('eomt_train'))
    proc = run_tool([PYTHON, TRAIN, CONFIG, '--work-dir', work_dir, '--cfg-options',
                     *fast_cfg_options(tiny_toy_root, iters=2)], fork=True)
    return osp.join(work_dir, 'iter_2.pth'), proc.stdout + proc.stderr


def test_train(trained):
    ckpt, log = trained
    assert osp.isfile(ckpt)
    assert 'Iter(train) [2/2]' in log
    assert 'attn_mask_prob_0: 1.0000' in log and 'decode.p1.loss_dice' in log
    assert re.search(r'Iter\(val\).*mIoU: [0-9.]+', log)


@pytest.mark.parametrize('tta', [False, True], ids=['ss', 'tta'])
def test_test(trained, tiny_toy_root, tmp_path, tta):
    ckpt, _ = trained
    proc = run_tool([PYTHON, TEST, CONFIG, ckpt, *(['--tta'] if tta else []), '--work-dir',
                     str(tmp_path), '--cfg-options', *fast_cfg_options(tiny_toy_root)],
                    fork=True)
    assert re.search(r'aAcc: [0-9.]+\s+mIoU: [0-9.]+', proc.stdout + proc.stderr)
