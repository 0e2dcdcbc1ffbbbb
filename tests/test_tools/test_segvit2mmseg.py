"""segvit2mmseg: an official SegViT (ATM) checkpoint reproduces the official outputs.

The fixture (tests/data/official/segvit-atm, README in tests/data/official) is an
mmseg 0.x checkpoint of a tiny model: mmseg's ViT and the official ``ATMHead``
(zbwxp/SegVit ``decode_heads/atm_head.py``), with the official float64 output on a
fixed input. The official head reshapes its attention maps as square and resizes
the masks to ``img_size``: it runs only on square windows of the training size,
so that is the input here (32x32, patch 8).
"""
import copy
import os.path as osp

import pytest
import torch
from conftest import PYTHON, REPO, run_tool
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from depict.utils.official_convert import ConversionError, load_official_checkpoint
from depict.utils.segvit_convert import convert_segvit_checkpoint, model_overrides

DATA = osp.join(REPO, 'tests', 'data', 'official', 'segvit-atm')
TOY_CONFIG = osp.join(REPO, 'configs', 'segvit', 'segvit_vit-toy_1xb8-2k_toy-64x64.py')


def _converted():
    return convert_segvit_checkpoint(load_official_checkpoint(osp.join(DATA, 'checkpoint.pth')),
                                     source='fixture')


def test_matches_official_outputs():
    converted = _converted()
    init_default_scope('mmseg')
    cfg = Config.fromfile(TOY_CONFIG)
    overrides = model_overrides(converted['meta']['architecture'])
    cfg.model.backbone.update(overrides['backbone'])
    cfg.model.decode_head.update(overrides['decode_head'])
    cfg.model.test_cfg = dict(mode='whole')
    model = MODELS.build(cfg.model)
    model.load_state_dict(converted['state_dict'], strict=True)
    model.double().eval()
    io = torch.load(osp.join(DATA, 'io.pth'), weights_only=True)
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
    with pytest.raises(ConversionError, match=r'decode_head\.decoder\.stages\.2\.0\.ffn\.3\.bias'):
        convert_segvit_checkpoint(dict(ckpt, state_dict=state))


def test_tool(tmp_path):
    dst = tmp_path / 'atm.pth'
    proc = run_tool([PYTHON, 'tools/model_converters/segvit2mmseg.py',
                     osp.join(DATA, 'checkpoint.pth'), str(dst)])
    assert 'segvit-atm' in proc.stdout
    assert set(torch.load(dst, weights_only=True)) == {'state_dict', 'meta'}
