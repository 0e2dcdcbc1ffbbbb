"""tools/analysis_tools/bench_decoders.py: one run, identical features, ratios, JSON."""
import json
import os.path as osp

from conftest import PYTHON, REPO, run_tool

TOOL = osp.join(REPO, 'tools', 'analysis_tools', 'bench_decoders.py')


def test_bench_decoders_small_run(tmp_path):
    out = str(tmp_path / 'bench.json')
    proc = run_tool([PYTHON, TOOL, '--width', '768', '--shape', '64', '96', '--classes', '10',
                     '--batch', '1', '--repeat', '2', '--warmup', '1', '--decoders',
                     'segmenter', 'depict-sa', 'atm', '--out', out], fork=True)
    assert 'matmul' in proc.stdout and 'depict-sa' in proc.stdout
    with open(out) as f:
        report = json.load(f)
    results = {r['decoder']: r for r in report['results']}
    assert set(results) == {'segmenter', 'depict-sa', 'atm'}
    assert report['meta']['matmul_shape'] == [1 * 4 * 6, 768, 3072]
    # Identical features: Segmenter and DEPICT-SA both read the last ViT-B layer.
    assert results['segmenter']['feature_shapes'] == [[1, 768, 4, 6]]
    assert results['depict-sa']['feature_shapes'] == [[1, 768, 4, 6]]
    assert len(results['atm']['feature_shapes']) == 3
    for r in results.values():
        assert r['params'] > 0 and r['macs'] > 0 and r['forward']['median_ms'] > 0
        assert r['forward_backward']['median_ms'] > 0 and r['peak_memory_bytes'] > 0
        assert r['train_step']['median_ms'] > 0
        assert r['rate_vs_matmul'] > 0
    assert results['segmenter']['vs_segmenter']['forward'] == 1.0
    assert results['depict-sa']['vs_segmenter']['params'] < 0.1
