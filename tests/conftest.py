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
             timeout: int = 600, check: bool = True,
             fork: bool = False) -> subprocess.CompletedProcess:
    """Runs a command line (a tool) and returns it; fails with its output.

    ``fork=True`` (for ``[PYTHON, 'script.py', ...]`` only) runs the script in a
    forked copy of the test process (see :func:`_run_forked`): the same command
    line, exit status and output, without paying the ~5-10 s of importing torch,
    mmseg and depict again. Tests about imports themselves (what a fresh
    interpreter registers) must keep the default, a real new interpreter.
    """
    # The interpreter's bin first, so that scripts calling `python` (dist_train.sh)
    # run the same environment as the tests.
    path = os.pathsep.join([osp.dirname(sys.executable), os.environ.get('PATH', '')])
    full_env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore', PATH=path)
    full_env.update(env or {})
    if (fork and hasattr(os, 'fork') and len(args) >= 2 and args[0] == sys.executable
            and args[1].endswith('.py') and not torch.cuda.is_available()):
        # (With CUDA, a forked child could not initialise it: a real process.)
        proc = _run_forked(args, cwd, full_env, timeout)
    else:
        proc = subprocess.run(args, cwd=cwd, env=full_env, capture_output=True, text=True,
                              timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f'{" ".join(args)} failed ({proc.returncode}):\n'
                             f'{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}')
    return proc


def _run_forked(args: list[str], cwd: str, env: dict,
                timeout: float) -> subprocess.CompletedProcess:
    """``python SCRIPT ARGS...`` in a forked child of this (already importing
    torch, mmseg and depict) process, as the interpreter would run it: ``sys.argv``,
    ``sys.path[0]``, working directory and environment of the command, the script
    as ``__main__``, stdout/stderr to their own files, exit status from
    ``SystemExit`` or 1 with the traceback, atexit handlers and non-daemon threads
    run at exit. The child uses OMP_NUM_THREADS intra-op threads, as a new
    interpreter would."""
    import tempfile
    import time
    with tempfile.TemporaryFile() as out_f, tempfile.TemporaryFile() as err_f:
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001
                pass
        pid = os.fork()
        if pid == 0:  # the child: never returns into pytest
            code = 1
            try:
                code = _forked_main(args, cwd, env, out_f.fileno(), err_f.fileno())
            finally:
                os._exit(code)
        deadline = time.monotonic() + timeout
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                os.waitpid(pid, 0)
                raise subprocess.TimeoutExpired(args, timeout)
            time.sleep(0.02)
        returncode = os.waitstatus_to_exitcode(status)
        outputs = []
        for f in (out_f, err_f):
            f.seek(0)
            outputs.append(f.read().decode('utf-8', errors='replace'))
    return subprocess.CompletedProcess(args, returncode, *outputs)


def _forked_main(args: list[str], cwd: str, env: dict, out_fd: int, err_fd: int) -> int:
    import atexit
    import logging
    import runpy
    import threading
    import traceback
    import warnings
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    sys.stdout = sys.__stdout__ = open(1, 'w', buffering=1, closefd=False)
    sys.stderr = sys.__stderr__ = open(2, 'w', buffering=1, closefd=False)
    atexit._clear()  # pytest's own handlers are the parent's business
    logging.root.handlers.clear()  # pytest's log capture
    logging.root.setLevel(logging.WARNING)
    warnings.resetwarnings()
    if env.get('PYTHONWARNINGS'):
        warnings.simplefilter(env['PYTHONWARNINGS'])
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    torch.set_num_threads(int(env.get('OMP_NUM_THREADS') or os.cpu_count() or 1))
    torch.hub._hub_dir = None  # a test's torch.hub.set_dir: back to $TORCH_HOME
    script = osp.abspath(args[1])
    sys.argv = [args[1], *args[2:]]
    sys.path[0:0] = [osp.dirname(script)]
    code = 0
    try:
        runpy.run_path(script, run_name='__main__')
    except SystemExit as exc:
        if exc.code is None:
            code = 0
        elif isinstance(exc.code, int):
            code = exc.code
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException:  # noqa: BLE001  the interpreter prints it and exits 1
        traceback.print_exc()
        code = 1
    try:
        threading._shutdown()  # joins non-daemon threads, as at interpreter exit
        atexit._run_exitfuncs()
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
    sys.stdout.flush()
    sys.stderr.flush()
    return code


PYTHON = sys.executable

_PARSED_CONFIGS: dict = {}


def parsed_config(path: str):
    """``Config.fromfile(path)``, parsed once per test session; each call gets
    its own deep copy (to change freely). Several test files read every config
    of configs/ (test_all_configs.py, test_vit_convert.py, ...): parsing one
    takes ~0.2-0.35 s (mmengine's base merging), a copy ~5 ms."""
    import copy

    from mmengine.config import Config
    key = osp.realpath(path)
    if key not in _PARSED_CONFIGS:
        _PARSED_CONFIGS[key] = Config.fromfile(path)
    return copy.deepcopy(_PARSED_CONFIGS[key])


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
