"""tools/analysis_tools/bench_models.py: stock vs fused whole models, one run, JSON.

The fast test runs tiny versions of the paper configs (overrides shrink the
ViT); the slow ones assert the fused variant's targets at full size (the time
targets on CUDA; on CPU a no-slowdown bound, see below).
"""
import json
import os.path as osp

import pytest
import torch
from conftest import PYTHON, REPO, run_tool

TOOL = osp.join(REPO, 'tools', 'analysis_tools', 'bench_models.py')
# A 2-layer, 64-wide ViT emitting both blocks (the paper backbones' out_indices name
# blocks it lacks); windows of 48 with stride 40 over a 64x160 image (4 windows).
# 8 classes, not ADE20K's 150: the per-class work of the (full-width) RepSep head
# was most of this test's time (repsep train step 1.7 s -> 0.55 s, slide 2.2 s -> 0.55 s).
TINY = ['--shape', '64', '64', '--batch', '2', '--slide-shape', '64', '160', '--runs', '1',
        '--warmup', '0', '--cfg-options', 'model.backbone.num_layers=2',
        'model.backbone.out_indices=(0,1)', 'model.backbone.embed_dims=64',
        'model.backbone.num_heads=4',
        'model.decode_head.in_channels=64', 'model.decode_head.num_classes=8',
        'model.test_cfg.crop_size=(48,48)', 'model.test_cfg.stride=(40,40)']


def load(path: str) -> dict:
    with open(path) as f:
        return json.load(f)


def check_report(result: dict, modes=('train', 'slide')) -> None:
    """Both variants measured, ratios = fused / stock, equal function."""
    variants = result['variants']
    assert set(variants) == {'stock', 'fused'}
    for mode in modes:
        stock, fused = variants['stock'][mode], variants['fused'][mode]
        for stats in (stock, fused):
            assert stats['median_ms'] > 0 and stats['min_ms'] <= stats['median_ms']
            assert stats['median_ms'] <= stats['max_ms'] and stats['peak_memory_bytes'] > 0
        assert result['ratios'][mode]['time'] == pytest.approx(
            fused['median_ms'] / stock['median_ms'])
        assert result['ratios'][mode]['peak_memory'] == pytest.approx(
            fused['peak_memory_bytes'] / stock['peak_memory_bytes'])
    # Same weights, same inputs, same dropout masks: the same losses and gradients.
    eq = result['equivalence']
    assert set(eq['losses']['stock']) == set(eq['losses']['fused'])
    assert eq['loss_max_rel_diff'] < 1e-5, eq
    assert eq['grad_norm_rel_diff'] < 1e-4, eq
    assert eq['patch_embed_grad_max_rel_diff'] < 1e-3, eq
    if 'slide' in modes:
        assert eq['slide_logits_max_rel_diff'] < 1e-4, eq


def test_bench_models_tiny_vit(tmp_path):
    out = str(tmp_path / 'bench.json')
    # A generous timeout: about a minute of CPU, slower on a loaded machine.
    proc = run_tool([PYTHON, TOOL, '--configs', 'depict-sa', 'repsep', *TINY, '--out', out],
                    timeout=1800, fork=True)
    assert 'fused' in proc.stdout and 'loss rel diff' in proc.stdout
    report = load(out)
    results = {r['config']: r for r in report['results']}
    assert set(results) == {'depict-sa', 'repsep'}
    sa = results['depict-sa']
    assert sa['backbone'] == {'stock': 'VisionTransformer', 'fused': 'FusedVisionTransformer'}
    assert results['repsep']['backbone'] == {'stock': 'TwoPathwayVisionTransformer',
                                             'fused': 'TwoPathwayVisionTransformer'}
    for result in results.values():
        check_report(result)
        # Both variants trained on the same (non-trivial) loss.
        assert result['equivalence']['losses']['stock']['decode.loss_ce'] > 0
    assert report['meta']['interleaved'] and report['meta']['batch'] == 2
    assert report['meta']['slide_shape'] == [64, 160]
    assert sa['slide_test_cfg']['crop_size'] == [48, 48]


def test_bench_models_sequential_with_profile(tmp_path):
    """One variant at a time, train step only, CPU-time clock, with the operator tables."""
    out = str(tmp_path / 'bench.json')
    run_tool([PYTHON, TOOL, '--configs', 'depict-sa', *TINY, '--modes', 'train', '--sequential',
              '--profile', '5', '--clock', 'cpu', '--out', out], fork=True)
    report = load(out)
    assert report['meta']['clock'] == 'cpu' and not report['meta']['interleaved']
    result = report['results'][0]
    check_report(result, modes=('train', ))
    assert 'slide' not in result['ratios']
    for variant in ('stock', 'fused'):
        assert 'aten::' in result['variants'][variant]['profile']['by_time']


def test_bench_models_rejects_unknown_config(tmp_path):
    proc = run_tool([PYTHON, TOOL, '--configs', 'no-such-decoder'], check=False, fork=True)
    assert proc.returncode != 0
    assert 'neither a config file nor one of' in proc.stderr


# ---- Targets of the fused variant (full size; minutes each) -----------------
# Memory and equivalence targets hold on every device. The time targets (<= 0.9x)
# are GPU targets: on a CPU the linear layers, identical in both variants, are
# two thirds of a ViT training step and CPU flash attention does the same
# products as the unfused path, so the measured CPU ratios are 0.91-1.07x
# (docs/performance.md, "Where the time goes", with the operator profile). On CPU
# these tests therefore assert that fusing costs no time beyond the call-to-call
# noise measured there (<= 1.15x), and the 0.9x target on CUDA.
CUDA = torch.cuda.is_available()
MAX_TIME_RATIO = 0.9 if CUDA else 1.15


def full_run(tmp_path, args: list[str]) -> dict:
    out = str(tmp_path / 'bench.json')
    # On CPU: one thread and the process' CPU time, robust to other load.
    device = ['--device', 'cuda'] if CUDA else ['--clock', 'cpu']
    run_tool([PYTHON, TOOL, *args, *device, '--out', out], env=dict(OMP_NUM_THREADS='1'),
             timeout=7200)
    return load(out)


@pytest.mark.slow
def test_target_vit_b_training_step(tmp_path):
    """ViT-B/16, 512x512, batch 2, DEPICT-SA: peak memory <= 0.7x; time (above)."""
    result = full_run(tmp_path, ['--configs', 'depict-sa', '--width', '768', '--shape', '512',
                                 '512', '--batch', '2', '--modes', 'train', '--runs', '3',
                                 '--warmup', '0'])['results'][0]
    check_report(result, modes=('train', ))
    assert result['equivalence']['patch_embed_grad_max_rel_diff'] < 1e-4
    assert result['ratios']['train']['peak_memory'] <= 0.7
    assert result['ratios']['train']['time'] <= MAX_TIME_RATIO


@pytest.mark.slow
def test_target_slide_inference(tmp_path):
    """One 512x2048 image, 640 windows (the ViT-L configs): time (above)."""
    result = full_run(tmp_path, ['--configs', 'depict-sa', '--width', '1024', '--shape', '640',
                                 '640', '--modes', 'slide', '--runs', '1', '--warmup', '0',
                                 '--no-memory', '--slide-shape', '512', '2048'])['results'][0]
    assert result['slide_test_cfg']['crop_size'] == [640, 640]
    assert result['equivalence']['slide_logits_max_rel_diff'] < 1e-4
    assert result['ratios']['slide']['time'] <= MAX_TIME_RATIO


@pytest.mark.slow
@pytest.mark.parametrize('config', ['depict-sa', 'atm', 'repsep'])
def test_target_vit_l_training_step(tmp_path, config):
    """ViT-L/16, 640x640, batch 1: peak memory <= 0.75x; time (above). One variant
    in memory at a time: ~11 GiB for the stock one on CPU."""
    result = full_run(tmp_path, ['--configs', config, '--width', '1024', '--shape', '640', '640',
                                 '--batch', '1', '--modes', 'train', '--runs', '1', '--warmup',
                                 '0', '--sequential'])['results'][0]
    check_report(result, modes=('train', ))
    assert result['equivalence']['patch_embed_grad_max_rel_diff'] < 1e-4
    assert result['ratios']['train']['peak_memory'] <= 0.75
    assert result['ratios']['train']['time'] <= MAX_TIME_RATIO
