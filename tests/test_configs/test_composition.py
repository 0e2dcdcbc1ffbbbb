"""Config composition (docs/configs.md): swapping the decoder of a paper leaf is
one `_base_` line, for every decoder x every backbone size, with the dataset,
schedule, backbone and its conventions unchanged; the parts declare, they
compute nothing.

Each variant is generated from a DEPICT-SA paper config (one per backbone size)
by replacing its decoder line, ``decoders/depict-sa.py``, with another
decoder's. Shrunk and repsep also change the backbone (query-based
downsampling, the local pathway): their swap adds the backbone line a Shrunk /
repsep leaf states. The test checks which lines changed, that the resolved
config wires the decoder to the backbone (input width, layers, final norm, CLS
token) and keeps everything else, builds every swap, and runs a forward pass at
the tiny size. The toy leaves (own toy-sized decoders) are checked separately.
"""
import ast
import difflib
import glob
import os.path as osp
import statistics

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from conftest import REPO

CONFIGS = osp.join(REPO, 'configs')
# The reference leaf per backbone size: DEPICT-SA on ADE20K.
LEAVES = {
    'vit-t16': 'depict/depict-sa_vit-t16_8xb1-160k_ade20k-512x512.py',
    'vit-s16': 'depict/depict-sa_vit-s16_8xb1-160k_ade20k-512x512.py',
    'vit-b16': 'depict/depict-sa_vit-b16_8xb1-160k_ade20k-512x512.py',
    'vit-l16': 'depict/depict-sa_vit-l16_8xb1-160k_ade20k-640x640.py',
}
WIDTH = {'vit-t16': 192, 'vit-s16': 384, 'vit-b16': 768, 'vit-l16': 1024}
HEADS = {'vit-t16': 3, 'vit-s16': 6, 'vit-b16': 12, 'vit-l16': 16}
# decoder part -> (head type, backbone type, needs final norm + CLS token)
DECODERS = {
    'segmenter-mask': ('SegmenterMaskHead', 'FusedVisionTransformer', True),
    'depict-sa': ('DepictSAHead', 'FusedVisionTransformer', True),
    'depict-ca': ('DepictCAHead', 'FusedVisionTransformer', True),
    'segvit': ('ATMHead', 'FusedVisionTransformer', False),
    'segvit-shrunk': ('ShrunkATMHead', 'ShrunkVisionTransformer', False),
    'repsep': ('RepSepHead', 'TwoPathwayVisionTransformer', True),
}
# The layers the backbone part outputs (SegViT's choice per depth).
LAYERS = {'vit-l16': (7, 15, 23), None: (5, 7, 11)}
# What a swap to a backbone-changing method adds to the leaf's backbone (the
# lines its own leaves state; docs/configs.md, "Swapping the decoder").
BACKBONE_LINE = {
    'segvit-shrunk': {
        'vit-l16': "type='ShrunkVisionTransformer', shrink_index=8, out_indices=(7, 23),",
        None: "type='ShrunkVisionTransformer', shrink_index=4, out_indices=(3, 11),"},
    'repsep': {None: "type='TwoPathwayVisionTransformer',"},
}
# Everything a decoder swap must leave alone.
UNCHANGED = ('train_dataloader', 'val_dataloader', 'test_dataloader', 'val_evaluator',
             'test_evaluator', 'tta_pipeline', 'optim_wrapper', 'param_scheduler', 'train_cfg',
             'val_cfg', 'test_cfg', 'default_hooks')
BACKBONE_SIZE = ('embed_dims', 'num_layers', 'num_heads', 'patch_size', 'img_size',
                 'drop_rate', 'attn_drop_rate', 'norm_cfg', 'patch_bias', 'interpolate_mode',
                 'drop_path_rate')


def absolute(text: str) -> str:
    """A leaf's text with its `_base_` paths made absolute (to load it from tmp)."""
    return text.replace("'../_base_/", f"'{CONFIGS}/_base_/")


def variant(backbone: str, decoder: str, tmp_path) -> tuple[Config, Config]:
    """(reference config, the reference with its decoder swapped)."""
    path = osp.join(CONFIGS, LEAVES[backbone])
    reference = absolute(open(path).read())
    line = "_base_/decoders/depict-sa.py',"
    assert reference.count(line) == 1
    swapped = reference.replace(line, f"_base_/decoders/{decoder}.py',")
    extra = BACKBONE_LINE.get(decoder, {})
    extra = extra.get(backbone, extra.get(None))
    if extra:
        anchor = '        img_size=crop_size,\n'
        assert swapped.count(anchor) == 1
        swapped = swapped.replace(anchor, anchor + f'        {extra}\n')
    changed = [d for d in difflib.ndiff(reference.splitlines(), swapped.splitlines())
               if d.startswith(('- ', '+ '))]
    # One line changed (- and +), plus the added backbone line where the method has one.
    assert len(changed) == (0 if decoder == 'depict-sa' else 2 + bool(extra)), changed
    ref_file, new_file = tmp_path / 'reference.py', tmp_path / f'{decoder}_{backbone}.py'
    ref_file.write_text(reference)
    new_file.write_text(swapped)
    return Config.fromfile(str(ref_file)), Config.fromfile(str(new_file))


@pytest.fixture(autouse=True)
def _mmseg_scope():
    init_default_scope('mmseg')


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
    # The backbone and its conventions (the paper leaf's LN eps, position
    # resizing, drop-path) are kept: a swap changes the decoder only.
    for key in BACKBONE_SIZE:
        assert vit.get(key) == ref_vit.get(key), key
    assert cfg.model.pretrained == reference.model.pretrained
    assert cfg.model.data_preprocessor == reference.model.data_preprocessor
    assert cfg.model.test_cfg == reference.model.test_cfg
    # The decoder gets its input width from the backbone, its classes from the leaf ...
    assert head.in_channels == vit.embed_dims == WIDTH[backbone]
    assert head.num_classes == reference.model.decode_head.num_classes
    # ... and states what it needs: final norm, CLS token; the layers are the
    # backbone part's (Shrunk's are its backbone line's).
    assert vit.final_norm == vit.with_cls_token == needs_cls_and_norm
    if decoder == 'segvit-shrunk':
        assert tuple(vit.out_indices) == ((7, 23) if backbone == 'vit-l16' else (3, 11))
    else:
        assert tuple(vit.out_indices) == LAYERS.get(backbone, LAYERS[None])
    # No width is written anywhere: heads derive them (test_..._builds_and_runs).
    for key in ('channels', 'embed_dims'):
        assert key not in head, key


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
    if backbone != 'vit-t16':
        with MetaWeights():
            model = MODELS.build(cfg.model)
    else:
        model = MODELS.build(cfg.model)
    head = model.decode_head
    widths = head.in_channels
    assert set(widths if isinstance(widths, list) else [widths]) == {WIDTH[backbone]}
    # The widths each paper derives from the backbone's (decode_heads/widths.py).
    heads = {m.num_heads for name, m in head.named_modules()
             if hasattr(m, 'num_heads') and not name.startswith('dca')}
    if decoder in ('segmenter-mask', 'repsep'):
        assert head.channels == head.dec_proj.out_features == WIDTH[backbone]
        assert heads == {HEADS[backbone]}
    if decoder.startswith('segvit'):
        assert head.channels == WIDTH[backbone] // 2
        assert heads == {HEADS[backbone]}
    if backbone != 'vit-t16':
        return
    model.eval()
    with torch.no_grad():
        logits = model.encode_decode(torch.randn(1, 3, 64, 64),
                                     [dict(img_shape=(64, 64), pad_shape=(64, 64))])
    assert logits.shape == (1, cfg.model.decode_head.num_classes, 64, 64)


def _parts(kind):
    return sorted(glob.glob(osp.join(CONFIGS, '_base_', kind, '*.py')))


def _leaves():
    return sorted(p for p in glob.glob(osp.join(CONFIGS, '**', '*.py'), recursive=True)
                  if '_base_' not in p)


def test_each_backbone_type_is_set_in_one_file():
    """A backbone family's type is set in its family part; a method's own
    backbone (Shrunk's QD, repsep's two pathways) in the leaves that use it;
    never in a decoder part."""
    files = sorted(glob.glob(osp.join(CONFIGS, '**', '*.py'), recursive=True))
    for backbone, expected in (('FusedVisionTransformer', ['_base_/backbones/vit.py']),
                               ('TimmViT', ['_base_/backbones/timm-vit.py']),
                               ('BEiT', ['_base_/backbones/beit.py']),
                               ('SwinTransformer', ['_base_/backbones/swin-b.py'])):
        holders = [osp.relpath(p, CONFIGS) for p in files if f"'{backbone}'" in open(p).read()]
        assert holders == expected, backbone
    for method in ('ShrunkVisionTransformer', 'TwoPathwayVisionTransformer', 'TwoPathwayBEiT',
                   'TwoPathwaySwinTransformer'):
        holders = [osp.relpath(p, CONFIGS) for p in files if f"'{method}'" in open(p).read()]
        assert holders and all(not h.startswith('_base_') for h in holders), (method, holders)


def test_configs_declare_and_compute_nothing():
    """No function or lambda anywhere under configs/ (docs/configs.md)."""
    for path in glob.glob(osp.join(CONFIGS, '**', '*.py'), recursive=True):
        tree = ast.parse(open(path).read())
        found = [type(n).__name__ for n in ast.walk(tree)
                 if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))]
        assert not found, (osp.relpath(path, CONFIGS), found)


def _top_level_names(path):
    return {t.id for n in ast.parse(open(path).read()).body if isinstance(n, ast.Assign)
            for t in n.targets if isinstance(t, ast.Name)}


def test_each_setting_lives_in_its_part():
    # Dataset parts hold data only; schedules hold the recipe; decoder parts
    # name no backbone type.
    for path in _parts('datasets'):
        assert 'model' not in _top_level_names(path), path
    for path in _parts('schedules'):
        assert not {'model', 'train_dataloader', 'val_dataloader'} & _top_level_names(path), path
    for path in _parts('decoders'):
        assert _top_level_names(path) == {'decoder'}, path
        cfg = Config.fromfile(path)
        assert 'type' not in cfg.decoder.get('backbone', {}), path
    # Backbone parts give every head its input width and nothing else of the head.
    for path in _parts('backbones'):
        head = Config.fromfile(path).model.get('decode_head', {})
        assert set(head) <= {'in_channels'}, path


def _base_files(path, seen=None):
    """The files a config pulls in (itself included), following `_base_`."""
    seen = set() if seen is None else seen
    seen.add(osp.normpath(path))
    tree = ast.parse(open(path).read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], 'id', None) == '_base_':
            bases = ast.literal_eval(node.value)
            for base in [bases] if isinstance(bases, str) else bases:
                base = osp.normpath(osp.join(osp.dirname(path), base))
                if base not in seen:
                    _base_files(base, seen)
    return seen


def test_a_leaf_reads_in_one_sitting():
    """At most 7 files at the median and 8 at most (mmseg 1.2.2's leaves: 6 and
    8; one more for our backbone x decoder composition)."""
    counts = {osp.relpath(p, CONFIGS): len(_base_files(p)) for p in _leaves()}
    assert statistics.median(counts.values()) <= 7, counts
    assert max(counts.values()) <= 8, counts


def test_toy_leaves_share_everything_but_the_decoder():
    """The toy leaves run every decoder on one toy backbone, dataset, schedule
    and runtime; the toy-sized decoder settings are marked in the leaf."""
    toys = [p for p in _leaves() if p.endswith('_vit-toy_1xb8-2k_toy-64x64.py')]
    assert len(toys) >= 9
    for path in toys:
        text = open(path).read()
        for part in ('backbones/vit-toy.py', 'datasets/toy.py', 'schedules/schedule_toy.py',
                     'default_runtime.py'):
            assert f"_base_/{part}'" in text, (path, part)
        cfg = Config.fromfile(path)
        assert cfg.model.backbone.final_norm and cfg.model.backbone.with_cls_token, path
        assert cfg.model.test_cfg == dict(mode='slide', crop_size=(64, 64), stride=(48, 48))


# What the runner and mmseg's tools read (test_pipeline: mmseg.apis.inference_model;
# load_cfg: our tools' strict-loading allowances, docs/tools.md), plus the two
# documented helpers.
RUNNER_KEYS = {'model', 'train_dataloader', 'val_dataloader', 'test_dataloader', 'val_evaluator',
               'test_evaluator', 'tta_model', 'tta_pipeline', 'test_pipeline', 'optim_wrapper',
               'param_scheduler',
               'train_cfg', 'val_cfg', 'test_cfg', 'default_hooks', 'custom_hooks', 'env_cfg',
               'vis_backends', 'visualizer', 'log_processor', 'log_level', 'load_from', 'resume',
               'randomness', 'default_scope', 'custom_imports', 'load_cfg'}


@pytest.mark.parametrize('backbone', ['vit-b16', 'vit-l16'])
def test_dumped_configs_hold_no_stray_helpers(backbone, tmp_path):
    _, cfg = variant(backbone, 'segvit', tmp_path)
    # mmseg's leaf helpers (crop_size, dataset_type, data_root, train_pipeline)
    # and the decoder part's `decoder`.
    assert set(cfg.keys()) - RUNNER_KEYS == {'decoder', 'crop_size', 'dataset_type', 'data_root',
                                             'train_pipeline'}
    # The dump (what tools/train.py writes to the work dir) loads back as the same config.
    cfg.dump(str(tmp_path / 'dumped.py'))
    assert Config.fromfile(str(tmp_path / 'dumped.py')).to_dict() == cfg.to_dict()
