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
    process forked from a pre-imported interpreter (see :func:`_run_forked`): the
    same command line, exit status and output, without paying the ~5-10 s of
    importing torch, mmseg and depict again. Tests about imports themselves (what a fresh
    interpreter registers) must keep the default, a real new interpreter.
    """
    # The interpreter's bin first, so that scripts calling `python` (dist_train.sh)
    # run the same environment as the tests.
    path = os.pathsep.join([osp.dirname(sys.executable), os.environ.get('PATH', '')])
    full_env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore', PATH=path)
    full_env.update(env or {})
    if (fork and hasattr(os, 'fork') and len(args) >= 2 and args[0] == sys.executable
            and args[1].endswith('.py') and not torch.cuda.is_available()):
        # (With CUDA: a real process, as CUDA does not mix well with fork.)
        proc = _run_forked(args, cwd, full_env, timeout)
    else:
        proc = subprocess.run(args, cwd=cwd, env=full_env, capture_output=True, text=True,
                              timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f'{" ".join(args)} failed ({proc.returncode}):\n'
                             f'{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}')
    return proc


_ZYGOTE: dict = {}


def _zygote(env: dict) -> subprocess.Popen:
    """The session's tests/tool_zygote.py (started on first use)."""
    proc = _ZYGOTE.get('proc')
    if proc is None or proc.poll() is not None:
        import atexit
        script = osp.join(osp.dirname(osp.abspath(__file__)), 'tool_zygote.py')
        proc = subprocess.Popen([sys.executable, script], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
                                cwd=REPO, text=True)
        _ZYGOTE.update(proc=proc, buffer=bytearray())
        atexit.register(_stop_zygote, proc)
    return proc


def _stop_zygote(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.stdin.close()  # its loop ends
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _zygote_answer(proc: subprocess.Popen, deadline) -> dict | None:
    """The zygote's next answer line; None if the deadline passes first."""
    import json
    import select
    import time
    buffer = _ZYGOTE.setdefault('buffer', bytearray())
    fd = proc.stdout.fileno()
    while b'\n' not in buffer:
        wait = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not select.select([fd], [], [], wait)[0]:
            return None
        chunk = os.read(fd, 65536)
        if not chunk:
            raise RuntimeError('tests/tool_zygote.py exited')
        buffer += chunk
    line, _, rest = bytes(buffer).partition(b'\n')
    buffer[:] = rest
    return json.loads(line)


def _run_forked(args: list[str], cwd: str, env: dict,
                timeout: float) -> subprocess.CompletedProcess:
    """``python SCRIPT ARGS...`` forked from the session's pre-imported zygote
    (tests/tool_zygote.py): a new process started as the interpreter would start
    the script, without importing torch, mmseg and depict again. Not forked from
    this process: its threads (OpenMP, TensorBoard writers of in-process runs)
    can leave a forked child hanging on a lock."""
    import json
    import tempfile
    import time
    proc = _zygote(env)
    with tempfile.TemporaryDirectory() as tmp:
        out, err = osp.join(tmp, 'out'), osp.join(tmp, 'err')
        proc.stdin.write(json.dumps(dict(args=list(args), cwd=cwd, env=env, out=out,
                                         err=err)) + '\n')
        proc.stdin.flush()
        deadline = time.monotonic() + timeout
        pid = returncode = None
        while returncode is None:
            answer = _zygote_answer(proc, deadline)
            if answer is None:  # timed out: end the child, collect its status
                if pid is None:
                    pid = _zygote_answer(proc, None)['pid']
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass
                _zygote_answer(proc, None)
                raise subprocess.TimeoutExpired(args, timeout)
            pid = answer.get('pid', pid)
            returncode = answer.get('returncode')
        outputs = []
        for path in (out, err):
            with open(path, 'rb') as f:
                outputs.append(f.read().decode('utf-8', errors='replace'))
    return subprocess.CompletedProcess(args, returncode, *outputs)


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


def wire_pyramid_head(head, decoder: str, widths) -> None:
    """Points a toy config's decode head (in place) at a four-stage pyramid
    backbone whose stages are ``widths`` wide (outputs at 1/4 ... 1/32).

    Multi-level heads read stages 1-3 (ATM; representation separation
    concatenated), Shrunk the early 1/8 and late 1/32 maps with the 1/8 grid
    of a 64 crop as its query grid, single-map heads the last stage.
    """
    if decoder == 'atm':
        head.update(in_channels=widths[1:], in_index=(1, 2, 3))
    elif decoder in ('shrunk', 'atm-shrunk-head'):
        head.update(in_channels=[widths[1], widths[3]], in_index=(1, 3), query_grid=(8, 8))
    elif decoder == 'repsep':
        head.update(in_channels=widths[1:], in_index=(1, 2, 3), input_transform='resize_concat')
    else:
        head.update(in_channels=widths[-1], in_index=-1)
        if decoder.startswith('depict'):
            # K * p = d: the subspaces span the last stage's width.
            head.head_dims = widths[-1] // head.num_heads


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
