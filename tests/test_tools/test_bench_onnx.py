"""tools/deployment/bench_onnx.py: eager vs ONNX Runtime, one window, JSON out.

The toy setting, one repeat: every row has both runtimes' medians and a
decoder share in (0, 1), for a decode head that reads backbone maps (Segmenter)
and for EoMT, whose head reads the queries of the encoder's last block.
"""
import json
import os.path as osp

from conftest import PYTHON, REPO, run_tool

TOOL = osp.join(REPO, 'tools', 'deployment', 'bench_onnx.py')


def test_bench_onnx_toy_rows(tmp_path):
    out = str(tmp_path / 'bench.json')
    run_tool([PYTHON, TOOL, '--setting', 'toy-64', '--decoders', 'segmenter', 'eomt',
              '--threads', '1', '--repeat', '1', '--warmup', '0', '--out', out], fork=True)
    with open(out) as f:
        rows = json.load(f)['results']['toy-64']
    assert [(row['decoder'], row['runtime']) for row in rows] == [
        ('segmenter', 'eager'), ('segmenter', 'onnxruntime'),
        ('eomt', 'eager'), ('eomt', 'onnxruntime')]
    for row in rows:
        assert row['median_s'] > 0 and 0 < row['decoder_share'] < 1, row
