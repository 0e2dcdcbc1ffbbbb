"""segvit2mmseg: official SegViT (ATM, Shrunk) checkpoints reproduce the official outputs.

The fixtures (tests/data/official/segvit-atm, segvit-shrunk; README in
tests/data/official) are mmseg 0.x checkpoints of tiny models: mmseg's ViT and the
official ``ATMHead``; the official ``vit_shrink`` backbone and ``TPNATMHead``
(zbwxp/SegVit), with the official float64 output on a fixed input. The official
heads reshape their attention maps as square and resize the masks to ``img_size``:
they run only on square windows of the training size, so that is the input here
(32x32, patch 8).
"""
import copy
import os.path as osp

import pytest
import torch
from conftest import PYTHON, REPO, run_tool
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from depict.converters.official import ConversionError, load_official_checkpoint
from depict.converters.segvit import (convert_segvit_checkpoint, model_overrides,
                                      read_official_config)

OFFICIAL = osp.join(REPO, 'tests', 'data', 'official')
DATA = osp.join(OFFICIAL, 'segvit-atm')
TOY_CONFIGS = {
    'segvit-atm': osp.join(REPO, 'configs', 'segvit', 'segvit_vit-toy_1xb8-2k_toy-64x64.py'),
    'segvit-shrunk': osp.join(REPO, 'configs', 'segvit',
                              'segvit-shrunk_vit-toy_1xb8-2k_toy-64x64.py'),
}


def _converted(fmt='segvit-atm'):
    return convert_segvit_checkpoint(
        load_official_checkpoint(osp.join(OFFICIAL, fmt, 'checkpoint.pth')), source='fixture')


def _without_meta(fmt='segvit-atm') -> dict:
    """The official fixture re-saved without its meta (no config text, no classes)."""
    ckpt = load_official_checkpoint(osp.join(OFFICIAL, fmt, 'checkpoint.pth'))
    return dict(state_dict=ckpt['state_dict'])


#: What the fixtures' meta config says (tests/data/official/README.md).
STATED = {
    'segvit-atm': dict(num_heads=2, out_indices=(0, 1, 2), decoder_heads=2),
    'segvit-shrunk': dict(num_heads=2, out_indices=(0, 2), decoder_heads=2, shrink_index=1),
}


@pytest.mark.parametrize('fmt', ['segvit-atm', 'segvit-shrunk'])
def test_matches_official_outputs(fmt):
    converted = _converted(fmt)
    assert converted['meta']['source_format'] == fmt
    _check_official_outputs(converted, fmt)


@pytest.mark.parametrize('fmt', ['segvit-atm', 'segvit-shrunk'])
def test_stated_values_replace_a_missing_meta(fmt):
    """Without meta, the stated values give the same architecture, tensors and outputs."""
    with pytest.raises(ConversionError, match='the meta has no config') as err:
        convert_segvit_checkpoint(_without_meta(fmt))
    assert '--out-indices' in str(err.value) and '--config' in str(err.value)
    converted = convert_segvit_checkpoint(_without_meta(fmt), stated=STATED[fmt])
    reference = _converted(fmt)
    assert converted['meta']['architecture'] == reference['meta']['architecture']
    assert set(converted['meta']['architecture_sources'].values()) == {'stated'}
    assert set(reference['meta']['architecture_sources'].values()) == {'meta config'}
    assert converted['state_dict'].keys() == reference['state_dict'].keys()
    _check_official_outputs(converted, fmt)


def test_stated_values_take_precedence_and_are_checked():
    arch = convert_segvit_checkpoint(_converted_source(), stated=dict(num_heads=4))
    assert arch['meta']['architecture']['num_heads'] == 4  # over the meta's 2
    assert arch['meta']['architecture_sources']['num_heads'] == 'stated'
    with pytest.raises(ConversionError, match=r'num_heads = 3 does not divide.*--num-heads'):
        convert_segvit_checkpoint(_without_meta(), stated=dict(STATED['segvit-atm'], num_heads=3))
    with pytest.raises(ConversionError, match=r'decoder stages.*--out-indices'):
        convert_segvit_checkpoint(_without_meta(), stated=dict(out_indices=(0, 2)))
    with pytest.raises(ConversionError, match=r'outside the 3 backbone layers'):
        convert_segvit_checkpoint(_without_meta(), stated=dict(out_indices=(0, 1, 3)))
    with pytest.raises(ConversionError, match=r'Shrunk downsamples.*--shrink-index'):
        convert_segvit_checkpoint(_without_meta('segvit-shrunk'),
                                  stated=dict(out_indices=(0, 2)))


def _official_config(tmp_path, fmt='segvit-atm') -> str:
    """An official-style config pair: the fixture's meta config as the ``_base_``
    file, and a leaf that sets ``out_indices`` through a variable, as the official
    SegViT configs do."""
    ckpt = load_official_checkpoint(osp.join(OFFICIAL, fmt, 'checkpoint.pth'))
    (tmp_path / '_base_').mkdir(exist_ok=True)
    (tmp_path / '_base_' / 'model.py').write_text(ckpt['meta']['config'])
    indices = list(STATED[fmt]['out_indices'])
    leaf = tmp_path / f'{fmt}_official.py'
    leaf.write_text(f"_base_ = ['./_base_/model.py']\nout_indices = {indices}\n"
                    'model = dict(backbone=dict(out_indices=out_indices))\n')
    return str(leaf)


@pytest.mark.parametrize('fmt', ['segvit-atm', 'segvit-shrunk'])
def test_official_config_file(tmp_path, fmt):
    assert read_official_config(_official_config(tmp_path, fmt)) == STATED[fmt]
    with pytest.raises(ConversionError, match='cannot read the official config'):
        read_official_config(str(tmp_path / 'missing.py'))


def _converted_source(fmt='segvit-atm') -> dict:
    return load_official_checkpoint(osp.join(OFFICIAL, fmt, 'checkpoint.pth'))


def _check_official_outputs(converted: dict, fmt: str) -> None:
    init_default_scope('mmseg')
    cfg = Config.fromfile(TOY_CONFIGS[fmt])
    overrides = model_overrides(converted['meta']['architecture'])
    cfg.model.backbone.update(overrides['backbone'])
    cfg.model.decode_head.update(overrides['decode_head'])
    cfg.model.test_cfg = dict(mode='whole')
    model = MODELS.build(cfg.model)
    # The model's own key names, not names that load_state_dict renames on the way
    # (FFN's version-1 ``ffn.0`` / ``ffn.3``): tools/test.py checks the keys before
    # loading, and rejected the converter's old ``ffn.0`` names.
    assert set(converted['state_dict']) == set(model.state_dict())
    model.load_state_dict(converted['state_dict'], strict=True)
    model.double().eval()
    io = torch.load(osp.join(OFFICIAL, fmt, 'io.pth'), weights_only=True)
    with torch.no_grad():
        scores = model.encode_decode(io['input'], [dict(img_shape=(32, 32))])
    torch.testing.assert_close(scores, io['output'], rtol=1e-5, atol=1e-8)


def test_split_and_dropped_keys():
    ckpt = load_official_checkpoint(osp.join(DATA, 'checkpoint.pth'))
    converted = _converted()
    sd, src = converted['state_dict'], ckpt['state_dict']
    packed = src['decode_head.decoder_2.layers.1.self_attn.in_proj_weight']
    torch.testing.assert_close(
        torch.cat([sd[f'decode_head.decoder.stages.1.1.self_attn.{p}_proj.weight']
                   for p in 'qkv']), packed)
    assert not any('loss_decode' in k for k in sd)
    arch = converted['meta']['architecture']
    assert (arch['num_heads'], arch['decoder_heads'], arch['out_indices']) == (2, 2, (0, 1, 2))
    assert converted['meta']['classes'] == ('a', 'b', 'c', 'd')


def test_unknown_and_missing_keys_are_listed():
    ckpt = load_official_checkpoint(osp.join(DATA, 'checkpoint.pth'))
    bad = copy.copy(ckpt)
    bad['state_dict'] = dict(ckpt['state_dict'], **{'decode_head.mystery.weight': torch.ones(1)})
    with pytest.raises(ConversionError, match='decode_head.mystery.weight'):
        convert_segvit_checkpoint(bad)
    state = dict(ckpt['state_dict'])
    del state['decode_head.decoder_3.layers.0.linear2.bias']
    with pytest.raises(ConversionError, match=r'decode_head\.decoder\.stages\.2\.0\.ffn\.fc2\.bias'):
        convert_segvit_checkpoint(dict(ckpt, state_dict=state))


def test_tool(tmp_path):
    dst = tmp_path / 'atm.pth'
    proc = run_tool([PYTHON, 'tools/model_converters/segvit2mmseg.py',
                     osp.join(DATA, 'checkpoint.pth'), str(dst)], fork=True)
    assert 'segvit-atm' in proc.stdout
    assert 'out_indices=[0, 1, 2] (meta config)' in proc.stdout
    assert set(torch.load(dst, weights_only=True)) == {'state_dict', 'meta'}


def test_tool_without_meta(tmp_path):
    """A checkpoint without meta: a one-line error naming the options, then the
    explicit options or the official config file give the meta's conversion."""
    src = tmp_path / 'nometa.pth'
    torch.save(_without_meta(), src)
    tool = [PYTHON, 'tools/model_converters/segvit2mmseg.py', str(src)]
    failed = run_tool(tool + [str(tmp_path / 'x.pth')], fork=True, check=False)
    assert failed.returncode != 0 and 'Traceback' not in failed.stderr
    assert 'the meta has no config' in failed.stderr and '--out-indices' in failed.stderr
    reference = _converted()['state_dict']
    for name, options in (('explicit', ['--out-indices', '0', '1', '2', '--num-heads', '2',
                                        '--decoder-heads', '2']),
                          ('config', ['--config', _official_config(tmp_path)])):
        dst = tmp_path / f'{name}.pth'
        proc = run_tool(tool + [str(dst)] + options, fork=True)
        assert 'official default' not in proc.stdout, proc.stdout
        out = torch.load(dst, weights_only=True)
        assert tuple(out['meta']['architecture']['out_indices']) == (0, 1, 2)
        assert out['state_dict'].keys() == reference.keys()
        for key, value in reference.items():
            torch.testing.assert_close(out['state_dict'][key], value, rtol=0, atol=0)


def test_shrunk_query_grid_and_packed_cross_attention():
    ckpt = load_official_checkpoint(osp.join(OFFICIAL, 'segvit-shrunk', 'checkpoint.pth'))
    src, converted = ckpt['state_dict'], _converted('segvit-shrunk')
    sd, arch = converted['state_dict'], converted['meta']['architecture']
    assert arch['query_grid'] == (4, 4) and arch['shrink_index'] == 1
    grid = sd['decode_head.upsampler.grid']  # (1, C, h, w); query i = row i // w, col i % w
    assert grid.shape == (1, 8, 4, 4)
    torch.testing.assert_close(grid[0, :, 1, 2], src['decode_head.q.weight'][1 * 4 + 2])
    packed = src['decode_head.decoder_1.layers.0.multihead_attn.in_proj_bias']
    torch.testing.assert_close(
        torch.cat([sd[f'decode_head.upsampler.stages.0.0.cross_attn.{p}_proj.bias']
                   for p in 'qkv']), packed)
    assert not any('loss_decode' in k for k in sd)
