"""tools/analysis_tools/presence_oracle.py: mIoU with the image's classes given."""
import importlib.util
import os.path as osp
import re
import sys

import pytest
import torch
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from conftest import REPO, fast_cfg_options, parsed_config, run_tool

TOOL = osp.join(REPO, 'tools', 'analysis_tools', 'presence_oracle.py')
ATM = 'configs/segvit/segvit_vit-toy_1xb8-2k_toy-64x64.py'
SHRUNK = 'configs/segvit/segvit-shrunk_vit-toy_1xb8-2k_toy-64x64.py'
SEGMENTER = 'configs/segmenter/segmenter-mask_vit-toy_1xb8-2k_toy-64x64.py'
TOY_CLASSES = ('sky', 'ground', 'ball', 'crate', 'kite', 'tent', 'balloon', 'ring')


def load_tool():
    spec = importlib.util.spec_from_file_location('presence_oracle', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('config', [ATM, SEGMENTER])
def test_absent_classes_never_win_and_the_head_is_restored(config):
    tool = load_tool()
    init_default_scope('mmseg')
    head = MODELS.build(parsed_config(osp.join(REPO, config)).model.decode_head)
    head.init_weights()
    head.eval()
    present = torch.tensor([True, False, True, True, False, False, True, False])
    inputs = [torch.randn(1, 64, 5, 7) for _ in range(3)]  # odd, non-square
    metas = [dict(img_shape=(40, 56))]
    with torch.no_grad():
        plain = head.predict(inputs, metas, {})
        with tool.absent_classes_removed(head, present):
            oracle = head.predict(inputs, metas, {})
        restored = head.predict(inputs, metas, {})
    assert 'predict' not in vars(head)  # the class's own method again
    torch.testing.assert_close(restored, plain)
    torch.testing.assert_close(oracle[:, present], plain[:, present])
    assert (oracle[:, ~present] == tool.ABSENT_SCORE).all()
    assert present[oracle.argmax(1)].all()


@pytest.mark.parametrize('config', [ATM, SHRUNK, SEGMENTER])
def test_tool_reports_every_class(tmp_path, tiny_toy_root, config):
    """End to end on a random-weights toy model: one row per class, then the mIoUs;
    the class-branch columns for SegViT heads only."""
    init_default_scope('mmseg')
    cfg = parsed_config(osp.join(REPO, config))
    model = MODELS.build(cfg.model)
    model.init_weights()
    checkpoint = str(tmp_path / 'model.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, checkpoint)
    options = [o for o in fast_cfg_options(tiny_toy_root) if o.startswith('val_dataloader')]
    out = run_tool([sys.executable, TOOL, config, checkpoint, '--cfg-options', *options],
                   fork=True).stdout
    assert f'4 validation images, {cfg.model.decode_head.type}' in out
    rows = re.findall(r'^\| (\w+) \| ([\d.]+|nan) \| ([\d.]+|nan) \|(.*)$', out, re.M)
    assert [r[0] for r in rows] == [*TOY_CLASSES, 'mIoU']
    assert ('mean p(c)' in out) == ('ATM' in cfg.model.decode_head.type)
    predicted, oracle = float(rows[-1][1]), float(rows[-1][2])
    assert 0 <= predicted <= 100 and 0 <= oracle <= 100
