"""depict.utils.benchmark: peak memory replay, timing summary, matmul rate."""
import pytest
import torch

from depict.utils.benchmark import matmul_rate, peak_memory, summarize, time_fn


def test_cpu_peak_memory_is_exact():
    """The profiler replay finds the peak of tensor memory above the start."""

    def step():
        a = torch.empty(2**20)  # 4 MiB
        b = torch.empty(2**22)  # 16 MiB: peak 20 MiB above the start
        del b
        c = torch.empty(2**21)  # 8 MiB
        return [a, c]

    peak, method = peak_memory(step, 'cpu')
    assert 'profiler' in method
    assert peak == pytest.approx(20 * 2**20, rel=0.01)


def test_time_fn_and_summary():
    calls = []
    times = time_fn(lambda: calls.append(1), repeat=5, warmup=2)
    assert len(times) == 5 and len(calls) == 7
    stats = summarize([0.001, 0.002, 0.003, 0.004, 0.010])
    assert stats['median_ms'] == pytest.approx(3.0)
    assert stats['min_ms'] == pytest.approx(1.0) and stats['max_ms'] == pytest.approx(10.0)
    assert stats['iqr_ms'] > 0


def test_matmul_rate_is_positive():
    rate, stats = matmul_rate(64, 32, 128, repeat=3, warmup=1)
    assert rate > 0 and stats['median_ms'] > 0
