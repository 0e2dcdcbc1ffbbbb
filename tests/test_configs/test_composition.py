"""Config composition (docs/configs.md): swapping the decoder of a leaf config is
one `_base_` line, for every decoder x every backbone size, with the dataset,
schedule and backbone size unchanged.

Each variant is generated from a DEPICT-SA paper config (one per backbone size)
by replacing its model line, ``models/depict-sa_<backbone>.py``, with another
decoder's; the test checks that exactly one line changed, that the resolved
config wires the decoder to the backbone (input width, layers, final norm, CLS
token, backbone type) and keeps everything else, and runs a forward pass.
"""
import difflib
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from conftest import REPO

CONFIGS = osp.join(REPO, 'configs')
# The reference leaf per backbone size: DEPICT-SA on ADE20K (toy: the toy dataset).
LEAVES = {
    'vit-t16': 'depict/depict-sa_vit-t16_8xb1-160k_ade20k-512x512.py',
    'vit-s16': 'depict/depict-sa_vit-s16_8xb1-160k_ade20k-512x512.py',
    'vit-b16': 'depict/depict-sa_vit-b16_8xb1-160k_ade20k-512x512.py',
    'vit-l16': 'depict/depict-sa_vit-l16_8xb1-160k_ade20k-640x640.py',
    'vit-toy': 'depict/depict-sa_vit-toy_1xb8-2k_toy-64x64.py',
}
WIDTH = {'vit-t16': 192, 'vit-s16': 384, 'vit-b16': 768, 'vit-l16': 1024, 'vit-toy': 64}
HEADS = {'vit-t16': 3, 'vit-s16': 6, 'vit-b16': 12, 'vit-l16': 16, 'vit-toy': 2}
# decoder part -> (head type, backbone type, needs final norm + CLS token)
DECODERS = {
    'segmenter-mask': ('SegmenterMaskTransformerHead', 'FusedVisionTransformer', True),
    'depict-sa': ('DepictSAHead', 'FusedVisionTransformer', True),
    'depict-ca': ('DepictCAHead', 'FusedVisionTransformer', True),
    'segvit': ('ATMHead', 'FusedVisionTransformer', False),
    'segvit-shrunk': ('ShrunkATMHead', 'ShrunkVisionTransformer', False),
    'repsep': ('RepSepHead', 'TwoPathwayVisionTransformer', True),
}
# The layers each decoder reads (backbone out_indices; None: mmseg's default, the last).
LAYERS = {
    'segvit': {'vit-l16': (7, 15, 23), 'vit-toy': (1, 2, 3), None: (5, 7, 11)},
    'segvit-shrunk': {'vit-l16': (7, 23), 'vit-toy': (1, 3), None: (3, 11)},
}
# Everything a decoder swap must leave alone.
UNCHANGED = ('train_dataloader', 'val_dataloader', 'test_dataloader', 'val_evaluator',
             'test_evaluator', 'tta_pipeline', 'optim_wrapper', 'param_scheduler', 'train_cfg',
             'val_cfg', 'test_cfg', 'default_hooks', 'protocols')
BACKBONE_SIZE = ('embed_dims', 'num_layers', 'num_heads', 'patch_size', 'img_size',
                 'drop_rate', 'attn_drop_rate', 'norm_cfg', 'patch_bias')


def absolute(text: str) -> str:
    """A leaf's text with its `_base_` paths made absolute (to load it from tmp)."""
    return text.replace("'../_base_/", f"'{CONFIGS}/_base_/")


def variant(backbone: str, decoder: str, tmp_path) -> tuple[Config, Config]:
    """(reference config, the reference with its decoder line swapped)."""
    path = osp.join(CONFIGS, LEAVES[backbone])
    reference = absolute(open(path).read())
    line = f"models/depict-sa_{backbone}.py'"
    assert reference.count(line) == 1
    swapped = reference.replace(line, f"models/{decoder}_{backbone}.py'")
    changed = [d for d in difflib.ndiff(reference.splitlines(), swapped.splitlines())
               if d.startswith(('- ', '+ '))]
    assert len(changed) == (0 if decoder == 'depict-sa' else 2), changed  # one line, - and +
    ref_file, new_file = tmp_path / 'reference.py', tmp_path / f'{decoder}_{backbone}.py'
    ref_file.write_text(reference)
    new_file.write_text(swapped)
    return Config.fromfile(str(ref_file)), Config.fromfile(str(new_file))


@pytest.fixture(autouse=True)
def _mmseg_scope():
    init_default_scope('mmseg')


def test_every_decoder_has_a_model_part_per_backbone():
    for decoder in DECODERS:
        for backbone in LEAVES:
            assert osp.isfile(osp.join(CONFIGS, '_base_', 'models', f'{decoder}_{backbone}.py'))


@pytest.mark.parametrize('backbone', list(LEAVES))
@pytest.mark.parametrize('decoder', list(DECODERS))
def test_one_line_swap_resolves_and_wires(decoder, backbone, tmp_path):
    reference, cfg = variant(backbone, decoder, tmp_path)
    for key in UNCHANGED:
        assert cfg.get(key) == reference.get(key), key
    head_type, backbone_type, needs_cls_and_norm = DECODERS[decoder]
    head, vit = cfg.model.decode_head, cfg.model.backbone
    ref_vit = reference.model.backbone
    assert head.type == head_type and vit.type == backbone_type
    for key in BACKBONE_SIZE:
        assert vit.get(key) == ref_vit.get(key), key
    assert cfg.model.pretrained == reference.model.pretrained
    assert cfg.model.data_preprocessor == reference.model.data_preprocessor
    assert cfg.model.test_cfg == reference.model.test_cfg
    # The decoder gets its input width from the backbone, its classes from the dataset.
    assert head.in_channels == vit.embed_dims == WIDTH[backbone]
    assert head.num_classes == reference.model.decode_head.num_classes
    # ... and states what it needs: layers, final norm, CLS token. The toy ViT
    # keeps its CLS token and final LN for every decoder (one toy backbone).
    layers = LAYERS.get(decoder, {})
    expected = layers.get(backbone, layers.get(None))
    if backbone == 'vit-toy':
        assert vit.final_norm and vit.with_cls_token
        assert tuple(vit.out_indices) == (expected or (1, 2, 3))
    else:
        assert vit.final_norm == vit.with_cls_token == needs_cls_and_norm
        assert vit.get('out_indices') == expected
    if decoder in ('segmenter-mask', 'repsep'):
        assert head.channels == head.embed_dims == WIDTH[backbone]
        assert head.num_heads == HEADS[backbone]
    if decoder.startswith('segvit'):
        assert head.num_heads == HEADS[backbone]
        assert head.channels == (64 if backbone == 'vit-toy' else WIDTH[backbone] // 2)
        assert len(head.in_index) == len(vit.out_indices)


class MetaWeights(torch.overrides.TorchFunctionMode):
    """Parameters on the meta device (ViT-L builds without allocating weights)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func is torch.empty:
            kwargs['device'] = 'meta'
        return func(*args, **kwargs)


@pytest.mark.parametrize('backbone', list(LEAVES))
@pytest.mark.parametrize('decoder', list(DECODERS))
def test_one_line_swap_builds_and_runs(decoder, backbone, tmp_path):
    """Every swap builds; the tiny sizes (ViT-T, the toy ViT) run a 64x64 forward
    pass at their real width and depth. ViT-S/B/L build with their parameters on
    the meta device: every layer is constructed with the wired widths, in
    seconds."""
    _, cfg = variant(backbone, decoder, tmp_path)
    cfg.model.pretrained = None
    if decoder == 'segvit-shrunk':
        cfg.model.decode_head.query_grid = (4, 4)  # 64 / 16: the tiny input's grid
    if backbone not in ('vit-t16', 'vit-toy'):
        with MetaWeights():
            model = MODELS.build(cfg.model)
        widths = model.decode_head.in_channels
        assert set(widths if isinstance(widths, list) else [widths]) == {WIDTH[backbone]}
        return
    model = MODELS.build(cfg.model)
    model.eval()
    with torch.no_grad():
        logits = model.encode_decode(torch.randn(1, 3, 64, 64),
                                     [dict(img_shape=(64, 64), pad_shape=(64, 64))])
    assert logits.shape == (1, cfg.model.decode_head.num_classes, 64, 64)


def test_each_backbone_type_is_set_in_one_file():
    """The plain ViT's type in backbones/vit.py, each custom ViT's in the decoder
    part that needs it: changing a backbone class is a one-file edit."""
    import glob
    files = sorted(glob.glob(osp.join(CONFIGS, '**', '*.py'), recursive=True))
    for backbone, expected in (('FusedVisionTransformer', '_base_/backbones/vit.py'),
                               ('ShrunkVisionTransformer', '_base_/decoders/segvit-shrunk.py'),
                               ('TwoPathwayVisionTransformer', '_base_/decoders/repsep.py'),
                               # other families (docs/backbones.md): family part, or the
                               # repsep join for a two-pathway variant
                               ('TimmViT', '_base_/backbones/timm-vit.py'),
                               ('BEiT', '_base_/backbones/beit.py'),
                               ('SwinTransformer', '_base_/backbones/swin-b.py'),
                               ('TwoPathwayBEiT', '_base_/models/repsep_beit-l16.py'),
                               ('TwoPathwaySwinTransformer', '_base_/models/repsep_swin-b.py')):
        holders = [osp.relpath(p, CONFIGS) for p in files if f"'{backbone}'" in open(p).read()]
        assert holders == [expected], backbone


# What the runner and mmseg's tools read (test_pipeline: mmseg.apis.inference_model;
# load_cfg: our tools' strict-loading allowances, docs/tools.md), plus the two
# documented helpers.
RUNNER_KEYS = {'model', 'train_dataloader', 'val_dataloader', 'test_dataloader', 'val_evaluator',
               'test_evaluator', 'tta_model', 'tta_pipeline', 'test_pipeline', 'optim_wrapper',
               'param_scheduler',
               'train_cfg', 'val_cfg', 'test_cfg', 'default_hooks', 'custom_hooks', 'env_cfg',
               'vis_backends', 'visualizer', 'log_processor', 'log_level', 'load_from', 'resume',
               'randomness', 'default_scope', 'custom_imports', 'load_cfg'}


@pytest.mark.parametrize('backbone', ['vit-b16', 'vit-toy'])
def test_dumped_configs_hold_no_stray_helpers(backbone, tmp_path):
    _, cfg = variant(backbone, 'segvit', tmp_path)
    assert set(cfg.keys()) - RUNNER_KEYS == {'decoder', 'protocols'}
    # The dump (what tools/train.py writes to the work dir) loads back as the same config.
    cfg.dump(str(tmp_path / 'dumped.py'))
    assert Config.fromfile(str(tmp_path / 'dumped.py')).to_dict() == cfg.to_dict()
