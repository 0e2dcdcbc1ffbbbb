"""tools/analysis_tools/get_flops.py on the toy configs (any head, any shape)."""
import argparse
import importlib.util
import os.path as osp
import re

from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from conftest import PYTHON, REPO, run_tool
from depict.utils.flops import count_segmentor_flops

TOOL = osp.join(REPO, 'tools', 'analysis_tools', 'get_flops.py')
CONFIG = osp.join(REPO, 'configs', 'segvit', 'segvit_vit-toy_1xb8-2k_toy-64x64.py')


def _rows(out: str) -> dict[str, tuple[float, float]]:
    """The table's rows: part -> (GFLOPs, params in M)."""
    rows = {}
    for line in out.splitlines():
        match = re.match(r'^(whole model|backbone|decoder \(all after backbone/neck\))\s+'
                         r'([\d.]+)\s+([\d.]+)$', line)
        if match:
            rows[match.group(1).split(' (')[0]] = (float(match.group(2)), float(match.group(3)))
    return rows


def test_get_flops_tool_reports_whole_model_and_decoder():
    out = run_tool([PYTHON, TOOL, CONFIG, '--shape', '48', '80'], timeout=300, fork=True).stdout
    assert 'input 1x3x48x80' in out
    rows = _rows(out)
    assert set(rows) == {'whole model', 'backbone', 'decoder'}
    # The tool prints what depict.utils.flops counts (itself tested against
    # closed-form counts in tests/test_utils/test_flops.py) for this model.
    cfg = Config.fromfile(CONFIG)
    cfg.model.pretrained = None
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    expected = count_segmentor_flops(model, (48, 80))
    assert rows['whole model'][0] == round(expected.total / 1e9, 3) > 0
    assert rows['backbone'][0] == round(expected.backbone / 1e9, 3) > 0
    assert rows['decoder'][0] == round(expected.decoder / 1e9, 3) > 0
    assert expected.total == expected.backbone + expected.decoder
    # Parameter columns: the model's own counts.
    count = lambda module: round(sum(p.numel() for p in module.parameters()) / 1e6, 2)  # noqa
    assert rows['whole model'][1] == count(model)
    assert rows['backbone'][1] == count(model.backbone)
    assert rows['decoder'][1] == count(model.decode_head)


def test_default_shape_is_the_configs_window():
    spec = importlib.util.spec_from_file_location('get_flops_tool', TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    cfg = Config.fromfile(CONFIG)
    assert tool.input_shape(argparse.Namespace(shape=None, config=CONFIG), cfg) == (64, 64)
    assert tool.input_shape(argparse.Namespace(shape=[96], config=CONFIG), cfg) == (96, 96)
