"""tools/analysis_tools/repsep_complexity.py on the toy config (non-square window)."""
import json
import os.path as osp

import pytest

from conftest import PYTHON, REPO, run_tool

TOY = osp.join(REPO, 'configs', 'repsep', 'repsep_vit-toy_1xb8-2k_toy-64x64.py')


def test_complexity_tool_counts_components_and_the_aux_branch(tmp_path):
    out = tmp_path / 'cx.json'
    proc = run_tool([PYTHON, 'tools/analysis_tools/repsep_complexity.py', TOY,
                     '--shape', '32', '48', '--json', str(out)], fork=True)
    assert 'training graph' in proc.stdout
    result = json.loads(out.read_text())
    params, flops = result['params'], result['flops']
    assert result['window'] == [32, 48]
    assert all(v > 0 for v in params.values())
    aux = 'DCA auxiliary branch (training only)'
    inference_parts = sum(v for k, v in flops.items() if k != aux)
    assert inference_parts == pytest.approx(result['inference_flops'])
    assert result['training_flops'] > result['inference_flops']
    assert flops[aux] == pytest.approx(result['training_flops'] - result['inference_flops'])
