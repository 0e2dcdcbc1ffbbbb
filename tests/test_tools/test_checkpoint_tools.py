"""Our tools load checkpoints safely and strictly, and bare --resume is safe.

Hostile checkpoints run ``touch MARKER`` when unpickled unsafely; every tool
must refuse them naming the global, exit non-zero and leave no marker.
"""
import importlib.util
import os.path as osp
import re
import subprocess

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from conftest import PYTHON, REPO, TOY_CONFIG, fast_cfg_options, run_tool
from depict.engine import CheckpointMismatchError
from depict.compat.safe_unpickling import UnsafeCheckpointError
from hostile import SYSTEM_GLOBAL, serve_directory, write_hostile_checkpoint

TRAIN = osp.join(REPO, 'tools', 'train.py')
TEST = osp.join(REPO, 'tools', 'test.py')
VIT2MMSEG = osp.join(REPO, 'tools', 'model_converters', 'vit2mmseg.py')


@pytest.fixture(scope='module')
def served(tmp_path_factory):
    """A loopback server with a hostile checkpoint; yields (url, marker path)."""
    root = tmp_path_factory.mktemp('served')
    marker = str(root / 'code_ran')
    write_hostile_checkpoint(str(root / 'evil.pth'), marker)
    with serve_directory(str(root)) as url:
        yield f'{url}/evil.pth', marker
    assert not osp.exists(marker), 'a hostile checkpoint ran code'


def _refused(args, tmp_path, *patterns, fork=True):
    # fork: see run_tool; the tools import depict before loading any checkpoint.
    proc = run_tool(args, check=False, env={'TORCH_HOME': str(tmp_path / 'torch_home')},
                    fork=fork)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    for pattern in patterns:
        assert re.search(pattern, out), f'{pattern!r} not in:\n{out[-3000:]}'
    return out


def test_train_load_from_url(served, tiny_toy_root, tmp_path):
    url, marker = served
    _refused([PYTHON, TRAIN, TOY_CONFIG, '--work-dir', str(tmp_path / 'w'), '--cfg-options',
              *fast_cfg_options(tiny_toy_root, iters=1), f'load_from={url}'],
             tmp_path, 'UnsafeCheckpointError', SYSTEM_GLOBAL)
    assert not osp.exists(marker)


def test_train_bare_resume_with_url_in_last_checkpoint(served, tiny_toy_root, tmp_path):
    url, marker = served
    work_dir = tmp_path / 'w'
    work_dir.mkdir()
    (work_dir / 'last_checkpoint').write_text(url)
    _refused([PYTHON, TRAIN, TOY_CONFIG, '--work-dir', str(work_dir), '--resume',
              '--cfg-options', *fast_cfg_options(tiny_toy_root, iters=1)],
             tmp_path, 'UnsafeCheckpointError', SYSTEM_GLOBAL)
    assert not osp.exists(marker)


def test_test_tool_with_url(served, tiny_toy_root, tmp_path):
    url, marker = served
    _refused([PYTHON, TEST, TOY_CONFIG, url, '--work-dir', str(tmp_path / 'w'), '--cfg-options',
              *fast_cfg_options(tiny_toy_root)], tmp_path, 'UnsafeCheckpointError',
             SYSTEM_GLOBAL)
    assert not osp.exists(marker)


def test_converter_refuses_a_hostile_file(tmp_path):
    marker = str(tmp_path / 'code_ran')
    src = write_hostile_checkpoint(str(tmp_path / 'vit.pth'), marker, fmt='legacy')
    _refused([PYTHON, VIT2MMSEG, src, str(tmp_path / 'out.pth')], tmp_path,
             'UnsafeCheckpointError', SYSTEM_GLOBAL, fork=False)  # a fresh interpreter
    assert not osp.exists(marker) and not osp.exists(tmp_path / 'out.pth')


def test_bare_resume_without_checkpoint_fails_naming_the_work_dir(tiny_toy_root, tmp_path):
    work_dir = str(tmp_path / 'fresh')
    out = _refused([PYTHON, TRAIN, TOY_CONFIG, '--work-dir', work_dir, '--resume',
                    '--cfg-options', *fast_cfg_options(tiny_toy_root, iters=1)], tmp_path,
                   'no checkpoint to resume from', re.escape(work_dir))
    assert 'Iter(train)' not in out


def _save_model(path: str, **head) -> str:
    cfg = Config.fromfile(TOY_CONFIG)
    cfg.model.decode_head.update(head)
    init_default_scope('mmseg')
    torch.save({'meta': {}, 'state_dict': MODELS.build(cfg.model).state_dict()}, path)
    return path


def test_test_tool_fails_on_a_checkpoint_that_does_not_fit(tiny_toy_root, tmp_path):
    ckpt = _save_model(str(tmp_path / 'c5.pth'), num_classes=5)
    out = _refused([PYTHON, TEST, TOY_CONFIG, ckpt, '--work-dir', str(tmp_path / 'w'),
                    '--cfg-options', *fast_cfg_options(tiny_toy_root)], tmp_path,
                   'CheckpointMismatchError', r'decode_head\.cls_emb: \(1, 5, 64\) vs \(1, 8, 64\)')
    assert not re.search(r'mIoU: [0-9.]+', out)


def _infer_module():
    spec = importlib.util.spec_from_file_location('depict_infer_tool',
                                                  osp.join(REPO, 'tools', 'infer.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_infer_is_strict_and_safe(served, tmp_path):
    infer = _infer_module()
    cfg = Config.fromfile(TOY_CONFIG)
    ckpt = _save_model(str(tmp_path / 'c5.pth'), num_classes=5)
    with pytest.raises(CheckpointMismatchError, match=r'^inference: [\s\S]*cls_emb'):
        infer.build_inferencer(cfg, ckpt, 'cpu')
    url, marker = served
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / 'hub'))
    try:
        with pytest.raises(UnsafeCheckpointError, match=SYSTEM_GLOBAL):
            infer.build_inferencer(cfg, url, 'cpu')
    finally:
        torch.hub.set_dir(old)
    assert not osp.exists(marker)
    good = _save_model(str(tmp_path / 'c8.pth'))
    assert infer.build_inferencer(cfg, good, 'cpu').model.decode_head.num_classes == 8


def test_checkpoints_we_write_load_in_plain_torch(tiny_toy_root, tmp_path):
    """No allow-list needed: a fresh interpreter without depict reads them."""
    work_dir = str(tmp_path / 'w')
    run_tool([PYTHON, TRAIN, TOY_CONFIG, '--work-dir', work_dir, '--cfg-options',
              *fast_cfg_options(tiny_toy_root, iters=1)], fork=True)
    assert open(osp.join(work_dir, 'last_checkpoint')).read() == 'iter_1.pth'
    code = ('import sys, torch; c = torch.load(sys.argv[1], weights_only=True); '
            "assert 'depict' not in sys.modules and 'mmengine' not in sys.modules; "
            "print(sorted(c), c['resume_state']['sampler']['position'])")
    proc = subprocess.run([PYTHON, '-c', code, osp.join(work_dir, 'iter_1.pth')],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "'message_hub'" in proc.stdout and "'resume_state'" in proc.stdout
    assert proc.stdout.strip().endswith(' 2')  # 1 iteration of batch size 2
