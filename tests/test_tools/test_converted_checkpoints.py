"""Converted official checkpoints run in tools/test.py (convert -> config -> test, exit 0).

The official-format fixtures (tests/data/official) are converted with the converter
tools, a config with the fixture's sizes is written (the toy config of the decoder
plus the architecture the converter reports), and tools/test.py evaluates the
converted checkpoint on a generated mini toy dataset with sliding windows.
"""
import os.path as osp

import pytest
import torch
from conftest import PYTHON, REPO, run_tool

DATA = osp.join(REPO, 'tests', 'data', 'official')
CASES = {
    # name: (converter, fixture, toy config, slide window, stride, official padding)
    'depict-ca': ('segmenter2mmseg.py', 'depict-ca/checkpoint.pth',
                  'configs/depict/depict-ca_vit-toy_1xb8-2k_toy-64x64.py', 48, 16, 8),
    'segvit-atm': ('segvit2mmseg.py', 'segvit-atm/checkpoint.pth',
                   'configs/segvit/segvit_vit-toy_1xb8-2k_toy-64x64.py', 32, 24, 0),
}


@pytest.mark.parametrize('name', [
    'depict-ca',
    # Same path through tools/test.py; slow only to keep the default suite short.
    pytest.param('segvit-atm', marks=pytest.mark.slow),
])
def test_converted_checkpoint_runs_in_test_tool(name, tiny_toy_root, tmp_path):
    converter, fixture, toy_config, window, stride, pad = CASES[name]
    ckpt = tmp_path / f'{name}.pth'
    run_tool([PYTHON, osp.join('tools', 'model_converters', converter),
              osp.join(DATA, fixture), str(ckpt)])
    arch = torch.load(ckpt, weights_only=True)['meta']['architecture']
    if name == 'segvit-atm':
        from depict.converters.segvit import model_overrides
    else:
        from depict.converters.segmenter import model_overrides
    overrides = model_overrides(arch)
    test_cfg = dict(mode='slide', crop_size=(window, window), stride=(stride, stride))
    if pad:
        test_cfg['pad_to_patch'] = pad
    config = tmp_path / f'{name}_fixture.py'
    config.write_text(
        f'_base_ = [{osp.join(REPO, toy_config)!r}]\n'
        f'model = dict(backbone={overrides["backbone"]!r},\n'
        f'             decode_head={overrides["decode_head"]!r},\n'
        f'             test_cfg={test_cfg!r})\n'
        # The fixtures predict 4 classes: the toy dataset's first four (the others
        # become ignore_index through mmseg's label map).
        "test_dataloader = dict(dataset=dict(metainfo=dict(\n"
        "    classes=('sky', 'ground', 'ball', 'crate'))))\n")
    options = [f'test_dataloader.dataset.data_root={tiny_toy_root}',
               'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False']
    proc = run_tool([PYTHON, osp.join('tools', 'test.py'), str(config), str(ckpt),
                     '--work-dir', str(tmp_path / 'work'), '--cfg-options', *options],
                    fork=True)
    assert proc.returncode == 0
    assert 'mIoU' in proc.stdout + proc.stderr
