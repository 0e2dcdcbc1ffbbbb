"""The Segmenter and DEPICT paper configs carry the official code's conventions
(docs/protocols.md, "Parity with the official code" #1-3, #12-13); nothing else does."""
import glob
import os.path as osp

import pytest

from conftest import parsed_config

CONFIGS = osp.join(osp.dirname(__file__), '..', '..', 'configs')
PAPER = sorted(p for family in ('segmenter', 'depict')
               for p in glob.glob(osp.join(CONFIGS, family, '*.py')) if '_toy-' not in p)
OTHERS = sorted(p for family in ('segvit', 'repsep')
                for p in glob.glob(osp.join(CONFIGS, family, '*.py'))) + sorted(
    glob.glob(osp.join(CONFIGS, '*', '*_toy-64x64.py')))


def test_every_segmenter_and_depict_paper_config_is_covered():
    assert len(PAPER) == 18


@pytest.mark.parametrize('path', PAPER, ids=osp.basename)
def test_paper_configs_use_the_official_conventions(path):
    model = parsed_config(path).model
    assert model.backbone.norm_cfg.eps == 1e-5
    assert model.backbone.interpolate_mode == 'bilinear'
    window = tuple(model.test_cfg.crop_size)
    assert model.test_cfg.mode == 'slide' and model.test_cfg.pad_to_patch == 16
    assert tuple(model.test_cfg.stride) == (window[0] - 32, window[1] - 32)  # segm/eval/miou.py
    assert tuple(model.backbone.img_size) == window


@pytest.mark.parametrize('path', OTHERS, ids=osp.basename)
def test_other_configs_keep_mmseg_conventions(path):
    model = parsed_config(path).model
    assert model.backbone.get('norm_cfg', {}).get('eps', 1e-6) == 1e-6
    assert model.backbone.get('interpolate_mode', 'bicubic') == 'bicubic'
    assert not model.test_cfg.get('pad_to_patch')
