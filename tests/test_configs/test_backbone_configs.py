"""Configs of the new backbones (timm ViTs, BEiT) and of COCO-Stuff: each says
what is ours and what is a paper's, swaps exactly the backbone of its base
config, and trains / predicts at toy size (backbone and head shrunk, same
types, same dataset classes, windows of the toy crop)."""
import difflib
import glob
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from conftest import parsed_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', 'backbones', '*.py'))
                 + glob.glob(osp.join(REPO, 'configs', 'coco_stuff', '*.py')))
CLASSES = {'ade20k': 150, 'pascal-context': 60, 'coco-stuff10k': 171, 'coco-stuff164k': 171,
           'cityscapes': 19}


@pytest.fixture(autouse=True)
def _mmseg_scope():
    init_default_scope('mmseg')


def test_expected_configs_exist():
    names = {osp.basename(p) for p in CONFIGS}
    for backbone in ('dinov2-l14', 'eva02-l14'):
        for decoder in ('segmenter-mask_{}_8xb1', 'depict-sa_{}_8xb1', 'depict-ca_{}_8xb1',
                        'segvit_{}_8xb2', 'repsep_{}_8xb2'):
            assert f'{decoder.format(backbone)}-160k_ade20k-512x512.py' in names
    assert {'depict-sa_beit-b16_8xb1-160k_ade20k-512x512.py',
            'segvit_beit-b16_8xb2-160k_ade20k-512x512.py',
            'repsep_beit-l16_8xb2-80k_pascal-context-480x480.py',
            'segvit_vit-l16_8xb2-80k_coco-stuff10k-512x512.py',
            'depict-sa_vit-l16_8xb1-160k_coco-stuff164k-512x512.py',
            'repsep_vit-l16_8xb2-160k_coco-stuff164k-512x512.py',
            'repsep_two-pathway-swin-b_8xb2-80k_cityscapes-768x768.py'} <= names


def shrink(cfg: Config) -> None:
    """Toy-size backbone and head of the same types (64 wide, 4 layers)."""
    model = cfg.model
    model.pretrained = None
    backbone, head = model.backbone, model.decode_head
    deepest_first = len(backbone.get('out_indices', (0, ))) == 3
    out_indices = (1, 2, 3) if deepest_first else (3, )
    if backbone.type == 'TwoPathwaySwinTransformer':
        backbone.update(embed_dims=16, depths=(1, 1, 1, 1), num_heads=(1, 2, 2, 4),
                        window_size=3, pretrain_img_size=64, local_channels=8, init_cfg=None)
        head.in_channels = [32, 64, 128]
        for key, value in (('channels', 64), ('embed_dims', 64), ('num_heads', 2)):
            head[key] = value
        model.data_preprocessor.size = (64, 64)
        model.test_cfg = dict(mode='slide', crop_size=(64, 64), stride=(48, 48))
        return
    if backbone.type == 'TimmViT':
        patch = 14 if 'patch14' in backbone.model_name else 16
        backbone.update(pretrained=False, checkpoint_file=None, img_size=(64, 64),
                        out_indices=out_indices, model_kwargs=dict(
                            embed_dim=64, depth=4, num_heads=2, patch_size=patch // 2))
    else:
        backbone.update(embed_dims=64, num_layers=4, num_heads=2, img_size=(64, 64),
                        patch_size=8, out_indices=out_indices)
        if 'local_channels' in backbone or backbone.type.startswith('TwoPathway'):
            backbone.update(local_channels=16, lsb_indices=None)
    head.in_channels = 64
    for key, value in (('channels', 64), ('embed_dims', 64), ('num_heads', 2),
                       ('head_dims', 32)):
        if key in head:
            head[key] = value
    model.data_preprocessor.size = (64, 64)
    model.test_cfg = dict(mode='slide', crop_size=(64, 64), stride=(48, 48))


def samples(batch, shape, classes):
    out = []
    for i in range(batch):
        label = torch.randint(0, classes, (1, 4, 4), generator=torch.Generator().manual_seed(i))
        label = label.repeat_interleave(shape[0] // 4, 1).repeat_interleave(shape[1] // 4, 2)
        sample = SegDataSample(gt_sem_seg=PixelData(data=label))
        sample.set_metainfo(dict(img_shape=shape, ori_shape=shape, pad_shape=shape))
        out.append(sample)
    return out


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_says_whose_it_is_and_runs_at_toy_size(path):
    text = open(path).read()
    name = osp.basename(path)
    official = 'official' in text.lower()
    assert official or 'OUR configuration' in text or 'our choice' in text.lower()
    cfg = parsed_config(path)
    dataset = next(k for k in sorted(CLASSES, key=len, reverse=True) if f'_{k}-' in name)
    classes = CLASSES[dataset]
    assert cfg.model.decode_head.num_classes == classes
    if 'coco-stuff' in name:
        assert cfg.train_dataloader.dataset.type == 'COCOStuffDataset'
        # The COCO-Stuff window of the dataset part's header: 512, stride 341.
        assert cfg.model.test_cfg == dict(mode='slide', crop_size=(512, 512), stride=(341, 341))
    shrink(cfg)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.train()
    losses = model.loss(torch.randn(2, 3, 64, 64), samples(2, (64, 64), classes))
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    model.eval()
    with torch.no_grad():
        (pred, ) = model.predict(torch.randn(1, 3, 64, 96), samples(1, (64, 96), classes))
    assert pred.pred_sem_seg.data.shape == (1, 64, 96)


def code(path: str) -> list:
    """A config's code from `_base_` on: its header, comment lines, inline
    comments and indentation dropped."""
    lines = open(path).read().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith('_base_'))
    stripped = (line.split('  #')[0].strip() for line in lines[start:])
    return [line for line in stripped if line and not line.startswith('#')]


def changes(ours: list, theirs: list) -> tuple:
    """(lines of `theirs` replaced or removed, lines of `ours` replacing or added)."""
    removed, added = [], []
    matcher = difflib.SequenceMatcher(None, theirs, ours, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != 'equal':
            removed += theirs[i1:i2]
            added += ours[j1:j2]
    return sorted(removed), sorted(added)


def backbone_part(path: str) -> str:
    return re.search(r"'\.\./_base_/backbones/([\w-]+)\.py'", open(path).read()).group(1)


@pytest.mark.parametrize(
    'path', [p for p in CONFIGS if '/backbones/' in p and 'swin' not in p], ids=osp.basename)
def test_backbone_swaps_are_one_line(path):
    """Each swap config is the config its header names with the backbone line
    `backbones/<old>.py` replaced by `backbones/<new>.py` (docs/configs.md,
    "Swap a backbone"); the resolved config keeps the data, protocol, window and
    schedule, the decoder, and changes the backbone. (The Swin config is a new
    recipe.)

    Within a family (DINOv3 from DINOv2) that line is the whole swap. From the
    AugReg ViT to another family (TimmViT, BEiT) the leaf's backbone entries
    change too, and only these: TimmViT and BEiT take no `with_cls_token`, so
    the leaf passes the decoder only its final norm; the official Segmenter /
    DEPICT conventions of the ViT paper leaves (LN eps 1e-5, bilinear position
    resizing, `pad_to_patch=16`) are mmseg-ViT settings and go; repsep's
    two-pathway type is the ViT's (BEiT has its own) and the ViT leaf's
    drop-path goes to the backbone part's."""
    name = osp.basename(path)
    decoder, backbone = name.split('_')[:2]
    reference_name = re.search(r'swap (?:\([^)]*\) )?of\s+(?:# )?(\S+\.py)',
                               open(path).read()).group(1)
    (reference, ) = glob.glob(osp.join(REPO, 'configs', '*', reference_name))
    assert osp.basename(reference).startswith(f'{decoder}_')
    cfg, base = parsed_config(path), parsed_config(reference)
    old_part, new_part = backbone_part(reference), backbone_part(path)
    assert new_part == backbone and old_part != new_part
    removed = [f"'../_base_/backbones/{old_part}.py',"]
    added = [f"'../_base_/backbones/{new_part}.py',"]
    another_family = old_part.startswith('vit-')
    if another_family:
        removed.append('_base_.decoder.backbone,')
        added.append('final_norm=_base_.decoder.backbone.final_norm,')
        if decoder in ('segmenter-mask', 'depict-sa', 'depict-ca'):
            # The official Segmenter / DEPICT conventions of the ViT paper leaf.
            (window, ) = [line for line in code(reference) if 'pad_to_patch=16' in line]
            removed += ["interpolate_mode='bilinear',",
                        "norm_cfg=dict(type='LN', eps=1e-5, requires_grad=True),", window]
            added.append(window.replace(', pad_to_patch=16', ''))
            assert base.model.backbone.norm_cfg.eps == 1e-5
            assert base.model.backbone.interpolate_mode == 'bilinear'
            assert base.model.test_cfg.pad_to_patch == 16
        if decoder == 'repsep':
            removed += ["type='TwoPathwayVisionTransformer',",
                        f'drop_path_rate={base.model.backbone.drop_path_rate},']
            if 'beit' in backbone:
                added.append("type='TwoPathwayBEiT',")
    # BEiT-L on PASCAL Context: BEiT-L's layer decay only.
    extra = 'beit-l16' in name
    if extra:
        added.append('optim_wrapper = dict(paramwise_cfg=dict(decay_rate=0.95))')
    assert changes(code(path), code(reference)) == (sorted(removed), sorted(added))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader', 'test_pipeline',
                'tta_pipeline', 'param_scheduler', 'train_cfg') + (('optim_wrapper', ) if not extra
                                                                   else ()):
        assert cfg.get(key) == base.get(key), (path, key)
    # The same slide window and stride (only the ViT's patch padding goes).
    assert cfg.model.test_cfg == {k: v for k, v in base.model.test_cfg.items()
                                  if k != 'pad_to_patch'}
    # The same decoder, with the new backbone's width.
    assert dict(cfg.model.decode_head, in_channels=None) == \
        dict(base.model.decode_head, in_channels=None)
    assert cfg.model.decode_head.in_channels == (768 if 'beit-b16' in name else 1024)
    assert (cfg.model.backbone.type != base.model.backbone.type if another_family else
            cfg.model.backbone.model_name != base.model.backbone.model_name)
