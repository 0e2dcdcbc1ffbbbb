"""tools/analysis_tools/get_flops.py on the toy configs (any head, any shape)."""
import os.path as osp

from conftest import PYTHON, REPO, run_tool

TOOL = osp.join(REPO, 'tools', 'analysis_tools', 'get_flops.py')


def test_get_flops_tool_reports_whole_model_and_decoder():
    config = osp.join(REPO, 'configs', 'segvit', 'segvit_vit-toy_1xb8-2k_toy-64x64.py')
    out = run_tool([PYTHON, TOOL, config, '--shape', '48', '80'], timeout=300).stdout
    assert 'input 1x3x48x80' in out
    for row in ('whole model', 'backbone', 'decoder'):
        assert row in out
