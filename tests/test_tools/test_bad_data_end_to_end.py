"""tools/train.py and tools/test.py on bad input: the error names the file or key.

The tools run in processes forked from a pre-imported interpreter
(``run_tool(fork=True)``, see conftest.py): the same command lines and exit status, without re-importing
torch and mmseg for each (~9 s each on CI).
"""
import glob
import os.path as osp
import shutil
import sys

from conftest import REPO, TOY_CONFIG, fast_cfg_options, run_tool

PYTHON = sys.executable
TRAIN = osp.join(REPO, 'tools', 'train.py')
TEST = osp.join(REPO, 'tools', 'test.py')


def test_mistyped_cfg_option_is_rejected(tmp_path):
    """Before: ``trian_cfg.max_iters=1`` was added as an unused key and the full run started."""
    for tool, extra in ((TRAIN, []), (TEST, [str(tmp_path / 'none.pth')])):
        proc = run_tool([PYTHON, tool, TOY_CONFIG, *extra, '--work-dir', str(tmp_path),
                         '--cfg-options', 'trian_cfg.max_iters=1'], check=False, fork=True)
        out = proc.stdout + proc.stderr
        assert proc.returncode != 0
        assert "no top-level key 'trian_cfg'; did you mean 'train_cfg'" in out, out[-2000:]


def test_zero_byte_image_is_named_before_training(tiny_toy_root, tmp_path):
    """Before: cv2's ``!buf.empty()`` from inside a worker, naming no file."""
    root = shutil.copytree(tiny_toy_root, str(tmp_path / 'toy'))
    broken = sorted(glob.glob(osp.join(root, 'images', 'training', '*.jpg')))[2]
    open(broken, 'wb').close()
    proc = run_tool([PYTHON, TRAIN, TOY_CONFIG, '--work-dir', str(tmp_path / 'w'),
                     '--cfg-options', *fast_cfg_options(root, iters=2)], check=False, fork=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f'image {broken} is empty (0 bytes)' in out, out[-3000:]
    assert 'Iter(train)' not in out  # caught before the first iteration
