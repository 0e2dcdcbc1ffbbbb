"""depict.utils.benchmark: peak memory replay, timing summary, matmul rate."""
import pytest
import torch

from depict.utils import benchmark
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


def test_matmul_rate_is_macs_over_the_median_time(monkeypatch):
    """rate = rows * inner * cols / median time, for the product it was asked for."""
    shapes = []

    def fake_time_fn(fn, *, repeat, warmup, device):
        shapes.append(tuple(fn().shape))
        assert (repeat, warmup, device) == (3, 1, 'cpu')
        return [0.002, 0.001, 0.004]  # seconds: median 2 ms

    monkeypatch.setattr(benchmark, 'time_fn', fake_time_fn)
    rate, stats = matmul_rate(64, 32, 128, repeat=3, warmup=1)
    assert shapes == [(64, 128)]
    assert stats['median_ms'] == pytest.approx(2.0)
    assert rate == pytest.approx(64 * 32 * 128 / 2e-3)


def test_matmul_rate_measures_a_real_product():
    rate, stats = matmul_rate(64, 32, 128, repeat=3, warmup=1)
    # A 262k-MAC product takes between a nanosecond and a second on any CPU.
    assert 64 * 32 * 128 / 1.0 < rate < 64 * 32 * 128 / 1e-9
    assert rate == pytest.approx(64 * 32 * 128 / (stats['median_ms'] / 1e3))


def test_decoder_configs_exist_and_resolve():
    """The benchmark tools' decoder table points at configs of the repository."""
    import os.path as osp

    from depict.utils.benchmark import DECODER_CONFIGS, decoder_config
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    for name, table in DECODER_CONFIGS.items():
        for width in table:
            path, overrides = decoder_config(name, width)
            assert osp.isfile(osp.join(repo, path)), path
            assert isinstance(overrides, dict)
    assert decoder_config('atm-shrunk', 768)[1]['backbone']['embed_dims'] == 768
    with pytest.raises(KeyError, match="unknown decoder 'atn'"):
        decoder_config('atn', 768)
    with pytest.raises(KeyError, match='no config at width 512; widths: 768, 1024'):
        decoder_config('atm', 512)


def test_make_samples_scene_like_labels():
    """Each image's labels are 8x8 regions of at most 12 classes, reproducibly."""
    from depict.utils.benchmark import make_samples
    samples, metas = make_samples(2, (32, 48), 150, torch.device('cpu'))
    assert len(samples) == 2 and metas[0]['ori_shape'] == (32, 48)
    labels = samples[0].gt_sem_seg.data
    assert labels.shape == (1, 32, 48)
    assert len(torch.unique(labels)) <= 12 and int(labels.max()) < 150
    # Constant over each (32 / 8) x (48 / 8) region.
    regions = labels[0].reshape(8, 4, 8, 6)
    assert (regions == regions[:, :1, :, :1]).all()
    again, _ = make_samples(2, (32, 48), 150, torch.device('cpu'))
    assert torch.equal(again[0].gt_sem_seg.data, labels)
