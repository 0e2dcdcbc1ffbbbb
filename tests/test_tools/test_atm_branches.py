"""tools/analysis_tools/atm_branches.py: class branch vs mask branch of ATM heads (issue 15)."""
import importlib.util
import os.path as osp
import re

import pytest
import torch
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from conftest import REPO, fast_cfg_options, parsed_config, run_tool

PYTHON = __import__('sys').executable
TOOL = osp.join(REPO, 'tools', 'analysis_tools', 'atm_branches.py')
ATM = 'configs/segvit/segvit_vit-toy_1xb8-2k_toy-64x64.py'
SHRUNK = 'configs/segvit/segvit-shrunk_vit-toy_1xb8-2k_toy-64x64.py'
TOY_CLASSES = ('sky', 'ground', 'ball', 'crate', 'kite', 'tent', 'balloon', 'ring')


def load_tool():
    spec = importlib.util.spec_from_file_location('atm_branches', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_oracle_scores_are_presence_times_mask():
    """With the oracle class logits the head's class-weighted score of class c is
    [c in image] · σ(M[c]): the masks alone."""
    tool = load_tool()
    init_default_scope('mmseg')
    head = MODELS.build(parsed_config(osp.join(REPO, ATM)).model.decode_head)
    head.init_weights()
    head.eval()
    c = head.num_classes
    present = torch.tensor([True, False, True, True, False, False, True, False])
    inputs = [torch.randn(1, 64, 5, 7) for _ in range(3)]  # odd, non-square
    with torch.no_grad():
        plain = head(inputs)
        with load_tool().class_branch_replaced(head, present):
            oracle = head(inputs)
            scores = head.predict_by_feat(oracle, [dict(img_shape=(40, 56))])
        restored = head(inputs)
    assert 'forward' not in vars(head)  # the class's own method again
    torch.testing.assert_close(restored.cls_logits[-1], plain.cls_logits[-1])
    torch.testing.assert_close(oracle.mask_logits[-1], plain.mask_logits[-1])
    assert oracle.cls_logits[-1].shape == (1, c, c + 1)
    masks = torch.nn.functional.interpolate(plain.mask_logits[-1], size=(40, 56),
                                            mode='bilinear', align_corners=False).sigmoid()
    torch.testing.assert_close(scores, present[None, :, None, None] * masks)
    assert tool.oracle_class_logits(present, c).softmax(-1)[0, 1, c] == 1  # absent -> no object


@pytest.mark.parametrize('config', [ATM, SHRUNK])
def test_tool_reports_per_class_branches(tmp_path, tiny_toy_root, config):
    """End to end on a random-weights toy model: one row per class, then the mIoUs."""
    init_default_scope('mmseg')
    cfg = parsed_config(osp.join(REPO, config))
    model = MODELS.build(cfg.model)
    model.init_weights()
    checkpoint = str(tmp_path / 'model.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, checkpoint)
    options = [o for o in fast_cfg_options(tiny_toy_root) if o.startswith('val_dataloader')]
    out = run_tool([PYTHON, TOOL, config, checkpoint, '--cfg-options', *options],
                   fork=True).stdout
    assert f'4 validation images, {cfg.model.decode_head.type}' in out
    rows = re.findall(r'^\| (\w+) \| ([\d.na]+) \| ([\d.na]+) \|', out, re.M)
    assert [r[0] for r in rows] == [*TOY_CLASSES, 'mIoU']
    predicted, oracle = float(rows[-1][1]), float(rows[-1][2])
    assert 0 <= predicted <= 100 and 0 <= oracle <= 100
