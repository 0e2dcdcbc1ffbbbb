"""CPU threads: never more model threads + dataloader workers than usable cores."""
import pytest
import torch
from mmengine.config import Config

from depict.engine import threads as threads_mod
from depict.engine.threads import available_cpus, cpu_threads_for, setup_cpu_threads


@pytest.mark.parametrize('cpus, workers, processes, expected', [
    (16, 2, 1, 14), (16, 0, 1, 16), (16, 2, 4, 2), (2, 2, 1, 1), (1, 0, 1, 1), (8, 8, 2, 1),
])
def test_rule(cpus, workers, processes, expected):
    threads = cpu_threads_for(cpus, workers, processes)
    assert threads == expected
    # Never oversubscribed unless even one thread per process is too many.
    assert threads * processes + workers * processes <= max(cpus, processes * (1 + workers))


def test_cgroup_quota_caps_the_cores(tmp_path, monkeypatch):
    monkeypatch.setattr(threads_mod.os, 'sched_getaffinity', lambda pid: set(range(32)))
    (tmp_path / 'cpu.max').write_text('250000 100000\n')  # 2.5 cores
    assert available_cpus(str(tmp_path)) == 2
    (tmp_path / 'cpu.max').write_text('max 100000\n')
    assert available_cpus(str(tmp_path)) == 32
    (tmp_path / 'cpu.max').unlink()
    (tmp_path / 'cpu').mkdir()
    (tmp_path / 'cpu' / 'cpu.cfs_quota_us').write_text('400000')
    (tmp_path / 'cpu' / 'cpu.cfs_period_us').write_text('100000')
    assert available_cpus(str(tmp_path)) == 4


@pytest.fixture
def set_threads(monkeypatch):
    calls = []
    monkeypatch.setattr(torch, 'set_num_threads', calls.append)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    monkeypatch.setattr(threads_mod, 'available_cpus', lambda: 8)
    monkeypatch.delenv('LOCAL_WORLD_SIZE', raising=False)
    return calls


def _cfg(**env_cfg):
    return Config(dict(env_cfg=env_cfg, train_dataloader=dict(num_workers=2)))


def test_setup_uses_the_rule(set_threads, monkeypatch):
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    assert setup_cpu_threads(_cfg(), 'train_dataloader') == 6
    assert set_threads == [6]


def test_user_choices_win(set_threads, monkeypatch):
    monkeypatch.setenv('OMP_NUM_THREADS', '3')
    assert setup_cpu_threads(_cfg(), 'train_dataloader') is None  # torch follows OMP
    assert setup_cpu_threads(_cfg(cpu_threads=5), 'train_dataloader') == 5
    assert set_threads == [5]


def test_untouched_with_cuda(set_threads, monkeypatch):
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    assert setup_cpu_threads(_cfg(), 'train_dataloader') is None and set_threads == []
