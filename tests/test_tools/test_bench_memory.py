"""tools/analysis_tools/bench_memory.py at a tiny depth and crop: the figures it
reports exist and move the way the savers promise (ViT-L width, 2 blocks).
About 20 s on 2 cores (two ViT-L-width DEPICT-SA builds): marked slow."""
import importlib.util
import os.path as osp

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool():
    path = osp.join(REPO, 'tools', 'analysis_tools', 'bench_memory.py')
    spec = importlib.util.spec_from_file_location('bench_memory', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def tool():
    return load_tool()


def run(tool, tmp_path, name, *extra):
    out = tmp_path / f'{name}.json'
    return tool.main(['--depth', '2', '--shape', '64', '64', '--warmup', '1', '--out', str(out),
                      *extra])


@pytest.mark.slow
def test_savers_lower_the_measured_figures(tool, tmp_path):
    plain = run(tool, tmp_path, 'plain')
    frozen = run(tool, tmp_path, 'frozen', '--frozen-stages', '2', '--with-cp', '--bf16')
    assert list(plain['out_indices']) == [0, 1] and plain['depth'] == 2  # 7, 15, 23 of 24 scaled
    assert plain['optim_wrapper'] == 'OptimWrapper'
    assert frozen['optim_wrapper'] == 'AutocastOptimWrapper'
    assert plain['trainable_params_mib'] == pytest.approx(plain['params_mib'])
    # Frozen backbone: only the head is trained and holds optimizer state (SGD momentum).
    assert frozen['trainable_params_mib'] < 0.1 * plain['trainable_params_mib']
    assert frozen['optimizer_state_mib'] == pytest.approx(frozen['trainable_params_mib'])
    assert 0 < frozen['step_peak_mib'] < plain['step_peak_mib']
    assert 'torch.profiler' in plain['method']
