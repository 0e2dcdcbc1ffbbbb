"""segmenter2mmseg: official Segmenter / DEPICT checkpoints reproduce the official outputs.

The fixtures (tests/data/official/, README there) are official-format
checkpoints of tiny models built with the official code, with the official
model's float64 outputs on two fixed inputs: 16x40 (non-square) and 13x37
(not a multiple of the patch size 8, so the official model pads).
"""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from depict.converters.official import ConversionError, load_official_checkpoint
from depict.converters.segmenter import (convert_segmenter_checkpoint, model_overrides,
                                            read_variant)

from conftest import PYTHON, REPO, run_tool

DATA = osp.join(REPO, 'tests', 'data', 'official')
TOY_CONFIGS = {
    'segmenter': 'configs/segmenter/segmenter-mask_vit-toy_1xb8-2k_toy-64x64.py',
    'depict-sa': 'configs/depict/depict-sa_vit-toy_1xb8-2k_toy-64x64.py',
    'depict-ca': 'configs/depict/depict-ca_vit-toy_1xb8-2k_toy-64x64.py',
}


def _fixture(fmt):
    ckpt = load_official_checkpoint(osp.join(DATA, fmt, 'checkpoint.pth'))
    variant = read_variant(osp.join(DATA, fmt, 'variant.yml'))
    return ckpt, variant


def build_converted(fmt, converted, pad_to_patch=True):
    """The toy config of the format with the fixture's sizes (cfg overrides), loaded strictly."""
    init_default_scope('mmseg')
    cfg = Config.fromfile(osp.join(REPO, TOY_CONFIGS[fmt]))
    overrides = model_overrides(converted['meta']['architecture'])
    cfg.model.backbone.update(overrides['backbone'])
    cfg.model.decode_head.update(overrides['decode_head'])
    cfg.model.test_cfg = dict(mode='whole')
    if pad_to_patch:
        cfg.model.test_cfg['pad_to_patch'] = overrides['backbone']['patch_size']
    model = MODELS.build(cfg.model)
    model.load_state_dict(converted['state_dict'], strict=True)
    return model.double().eval()


@pytest.mark.parametrize('fmt', ['segmenter', 'depict-sa', 'depict-ca'])
def test_matches_official_outputs(fmt):
    ckpt, variant = _fixture(fmt)
    converted = convert_segmenter_checkpoint(ckpt, variant, source='fixture')
    assert converted['meta']['source_format'] == fmt
    model = build_converted(fmt, converted)
    inputs = torch.load(osp.join(DATA, 'inputs.pth'), weights_only=True)
    expected = torch.load(osp.join(DATA, fmt, 'outputs.pth'), weights_only=True)
    for name, image in inputs.items():
        h, w = image.shape[-2:]
        with torch.no_grad():
            logits = model.encode_decode(image, [dict(img_shape=(h, w), ori_shape=(h, w))])
        assert logits.dtype == torch.float64 and logits.shape == expected[name].shape
        torch.testing.assert_close(logits, expected[name], rtol=1e-5, atol=1e-8, msg=name)


@pytest.mark.parametrize('fmt', ['segmenter', 'depict-sa'])
def test_stated_heads_replace_a_missing_variant(fmt, tmp_path):
    """Without variant.yml the heads fall back to width / 64 (1 here, not the
    fixture's 2); --num-heads / --decoder-heads state them and give the official
    outputs again."""
    ckpt, variant = _fixture(fmt)
    reference = convert_segmenter_checkpoint(ckpt, variant)['meta']['architecture']
    assert convert_segmenter_checkpoint(ckpt)['meta']['architecture']['num_heads'] == 1
    decoder_heads = 2 if fmt == 'segmenter' else 3  # DEPICT: read from the tensors
    converted = convert_segmenter_checkpoint(ckpt, num_heads=2, decoder_heads=decoder_heads)
    assert converted['meta']['architecture'] == reference
    model = build_converted(fmt, converted)
    image = torch.load(osp.join(DATA, 'inputs.pth'), weights_only=True)['13x37']
    expected = torch.load(osp.join(DATA, fmt, 'outputs.pth'), weights_only=True)['13x37']
    with torch.no_grad():
        logits = model.encode_decode(image, [dict(img_shape=(13, 37), ori_shape=(13, 37))])
    torch.testing.assert_close(logits, expected, rtol=1e-5, atol=1e-8)
    with pytest.raises(ConversionError, match='--num-heads 3 does not divide'):
        convert_segmenter_checkpoint(ckpt, num_heads=3)
    if fmt != 'segmenter':
        with pytest.raises(ConversionError, match="DEPICT's heads are in the tensors"):
            convert_segmenter_checkpoint(ckpt, decoder_heads=2)
    # The tool, from a folder without variant.yml.
    src = tmp_path / 'checkpoint.pth'
    torch.save(ckpt, src)
    proc = run_tool([PYTHON, 'tools/model_converters/segmenter2mmseg.py', str(src),
                     str(tmp_path / 'out.pth'), '--num-heads', '2', '--decoder-heads',
                     str(decoder_heads)], fork=True)
    assert 'assumed width / 64' not in proc.stdout
    saved = torch.load(tmp_path / 'out.pth', weights_only=True)['meta']['architecture']
    assert saved == reference


def test_padding_convention_matters():
    """Without pad_to_patch the size that is not a multiple of 8 differs (the other matches)."""
    ckpt, variant = _fixture('segmenter')
    model = build_converted('segmenter', convert_segmenter_checkpoint(ckpt, variant),
                            pad_to_patch=False)
    inputs = torch.load(osp.join(DATA, 'inputs.pth'), weights_only=True)
    expected = torch.load(osp.join(DATA, 'segmenter', 'outputs.pth'), weights_only=True)
    with torch.no_grad():
        aligned = model.encode_decode(inputs['16x40'], [dict(img_shape=(16, 40))])
        unaligned = model.encode_decode(inputs['13x37'], [dict(img_shape=(13, 37))])
    torch.testing.assert_close(aligned, expected['16x40'], rtol=1e-5, atol=1e-8)
    assert (unaligned - expected['13x37']).abs().max() > 1e-3


def test_meta_and_architecture():
    ckpt, variant = _fixture('depict-ca')
    meta = convert_segmenter_checkpoint(ckpt, variant, source='x.pth')['meta']
    assert meta['converter'] == 'tools/model_converters/segmenter2mmseg.py'
    assert meta['source'] == 'x.pth'
    assert meta['dataset_meta']['classes'] == ('class0', 'class1', 'class2', 'class3')
    assert len(meta['dataset_meta']['palette']) == 4
    assert meta['architecture'] == dict(
        format='depict-ca', embed_dims=16, num_layers=2, num_heads=2, patch_size=8, img_size=48,
        num_classes=4, decoder_layers=2, decoder_heads=3, head_dims=100, cross_layers=3,
        cross_heads=3, cross_head_dims=50)
    # segm/eval/miou.py: window = training crop, stride = crop - 32.
    assert meta['official_test']['window_size'] == 48
    assert meta['official_test']['window_stride'] == 16


@pytest.mark.parametrize('field, value, message', [
    ('d_model', 32, 'net_kwargs.d_model = 32'),
    ('n_layers', 12, 'net_kwargs.n_layers = 12'),
    ('patch_size', 16, 'net_kwargs.patch_size = 16'),
    ('image_size', (512, 512), 'net_kwargs.image_size = 512'),
    ('decoder.n_layers', 3, 'net_kwargs.decoder.n_layers = 3'),
    ('decoder.n_heads', 6, 'net_kwargs.decoder.n_heads = 6'),
])
def test_variant_mismatch_names_the_field(field, value, message):
    ckpt, variant = _fixture('depict-sa')
    variant = copy.deepcopy(variant)
    target = variant['net_kwargs']
    *parents, leaf = field.split('.')
    for parent in parents:
        target = target[parent]
    target[leaf] = value
    with pytest.raises(ConversionError, match=message.replace('(', r'\(')):
        convert_segmenter_checkpoint(ckpt, variant)


def test_unknown_and_missing_keys_are_listed():
    ckpt, _ = _fixture('segmenter')
    extra = dict(ckpt, model=dict(ckpt['model'], **{'decoder.extra_param': torch.zeros(1)}))
    with pytest.raises(ConversionError, match='decoder.extra_param'):
        convert_segmenter_checkpoint(extra)
    state = dict(ckpt['model'])
    del state['decoder.mask_norm.bias'], state['encoder.blocks.1.mlp.fc2.weight']
    with pytest.raises(ConversionError, match='backbone.layers.1.ffn.layers.1.weight, '
                       'decode_head.mask_norm.bias'):
        convert_segmenter_checkpoint(dict(ckpt, model=state))
    with pytest.raises(ConversionError, match='expected a dict with a "model" entry'):
        convert_segmenter_checkpoint({'state_dict': {}})


def test_refuses_pickled_objects(tmp_path):
    """The source is read with weights_only=True: a pickled class is refused, by name."""
    from depict.compat.safe_unpickling import UnsafeCheckpointError
    ckpt, _ = _fixture('segmenter')
    path = tmp_path / 'checkpoint.pth'
    torch.save(dict(ckpt, args=Config(dict(a=1))), path)
    with pytest.raises(UnsafeCheckpointError, match='mmengine.config'):
        load_official_checkpoint(str(path))


def test_tool_writes_loadable_checkpoint(tmp_path):
    dst = tmp_path / 'converted.pth'
    proc = run_tool([PYTHON, 'tools/model_converters/segmenter2mmseg.py',
                     osp.join(DATA, 'depict-sa', 'checkpoint.pth'), str(dst)], fork=True)
    assert 'depict-sa' in proc.stdout and 'window 48, stride 16' in proc.stdout
    assert 'model.test_cfg.pad_to_patch=8' in proc.stdout
    out = torch.load(dst, weights_only=True)
    assert set(out) == {'state_dict', 'meta'}
    bad = tmp_path / 'variant.yml'
    bad.write_text(open(osp.join(DATA, 'depict-sa', 'variant.yml')).read().replace(
        'd_model: 16', 'd_model: 1024'))
    proc = run_tool([PYTHON, 'tools/model_converters/segmenter2mmseg.py',
                     osp.join(DATA, 'depict-sa', 'checkpoint.pth'), str(dst), '--variant',
                     str(bad)], check=False, fork=True)
    assert proc.returncode != 0 and 'net_kwargs.d_model = 1024' in proc.stderr


def test_explicit_allow_list(tmp_path):
    """A global is read only when passed explicitly (e.g. a training Namespace)."""
    import argparse

    from depict.compat.safe_unpickling import UnsafeCheckpointError
    ckpt, _ = _fixture('segmenter')
    path = tmp_path / 'checkpoint.pth'
    torch.save(dict(ckpt, args=argparse.Namespace(lr=0.001)), path)
    with pytest.raises(UnsafeCheckpointError, match='argparse.Namespace'):
        load_official_checkpoint(str(path))
    loaded = load_official_checkpoint(str(path), extra_globals=[argparse.Namespace])
    assert loaded['args'].lr == 0.001
    assert convert_segmenter_checkpoint(loaded)['meta']['source_format'] == 'segmenter'
