"""eomt2mmseg + EoMT: a converted official checkpoint computes what the official code does.

The fixture (tests/data/official/eomt/, README there) is a tiny EoMT built and run
by the official code (tue-mps/eomt: ``models/eomt.py`` on a timm DINOv2-style ViT,
``training/mask_classification_loss.py``) in float64: its Lightning-layout state
dict, two 32x48 images (non-square), label maps, the eval outputs (no masks, as the
official evaluation), the per-block outputs of a seeded training forward with mask
probabilities (1, 0.5), the loss with a fixed and with the official Hungarian
matching (seeded point sampling), and every parameter's gradient.
"""
import os.path as osp

import pytest
import torch
from conftest import PYTHON, REPO, run_tool
from mmengine.config import ConfigDict
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from depict.converters.eomt import convert_eomt_checkpoint, model_overrides
from depict.converters.official import ConversionError, load_official_checkpoint
from depict.models.losses.mask2former_loss import semantic_segments

FIXTURE = osp.join(REPO, 'tests', 'data', 'official', 'eomt', 'eomt_tiny.pt')
MEAN = torch.tensor([0.485, 0.456, 0.406], dtype=torch.float64).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225], dtype=torch.float64).view(1, 3, 1, 1)


@pytest.fixture(scope='module')
def official():
    return torch.load(FIXTURE, weights_only=True)


@pytest.fixture(scope='module')
def converted(tmp_path_factory, official):
    """The fixture converted by the command-line tool, as users run it."""
    dst = tmp_path_factory.mktemp('eomt') / 'eomt.pth'
    heads = str(official['config']['num_heads'])  # width 8: not the zoo's width / 64
    run_tool([PYTHON, 'tools/model_converters/eomt2mmseg.py', FIXTURE, str(dst), '--num-heads',
              heads], fork=True)
    return torch.load(dst, weights_only=True)


@pytest.fixture
def float64_default():
    """The official run drew its random numbers with float64 as the default dtype."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def _model(converted, official):
    init_default_scope('mmseg')
    cfg = official['config']
    fields = model_overrides(converted['meta']['architecture'])
    fields['backbone'].update(img_size=tuple(cfg['img_size']), model_name=cfg['timm_name'])
    fields['decode_head'].update(loss_decode=dict(type='Mask2FormerLoss',
                                                  num_points=cfg['num_points']))
    model = MODELS.build(ConfigDict(
        type='EoMTEncoderDecoder', data_preprocessor=dict(type='SegDataPreProcessor'),
        backbone=fields['backbone'], decode_head=fields['decode_head'],
        test_cfg=dict(mode='whole')))
    assert set(model.state_dict()) == set(converted['state_dict'])
    model.load_state_dict(converted['state_dict'], strict=True)
    return model.double()


def _inputs(official):
    return (official['imgs'].double() - MEAN) / STD


def _close(actual, expected, rtol=1e-5):
    """Relative agreement at the scale of the reference (1e-5 of its largest value)."""
    expected = expected.to(actual.dtype)
    scale = float(expected.abs().max())
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=rtol * max(scale, 1e-12))


def test_converter_meta_and_strict_load(converted, official):
    meta = converted['meta']
    assert meta['converter'] == 'tools/model_converters/eomt2mmseg.py'
    assert meta['source_format'] == 'eomt-timm'
    arch = meta['architecture']
    cfg = official['config']
    assert (arch['embed_dims'], arch['depth'], arch['num_queries'], arch['num_blocks'],
            arch['num_classes'], arch['patch_size'], arch['num_upscale']) == (
        cfg['embed_dim'], cfg['depth'], cfg['num_queries'], cfg['num_blocks'],
        cfg['num_classes'], cfg['patch_size'], 2)
    assert len(meta['dataset_meta']['classes']) == cfg['num_classes']
    # Every official tensor but the normalisation buffers and the loss buffer arrives.
    dropped = {'network.encoder.pixel_mean', 'network.encoder.pixel_std',
               'criterion.empty_weight'}
    assert len(converted['state_dict']) == len(set(official['state_dict']) - dropped)
    _model(converted, official)  # strict


def test_converter_round_trip(converted, official):
    """Tensors are carried unchanged (no arithmetic on the weights)."""
    src = official['state_dict']
    out = converted['state_dict']
    assert torch.equal(out['backbone.queries.weight'], src['network.q.weight'])
    assert torch.equal(out['backbone.norm.weight'], src['network.encoder.backbone.norm.weight'])
    assert torch.equal(out['backbone.model.blocks.2.attn.qkv.weight'],
                       src['network.encoder.backbone.blocks.2.attn.qkv.weight'])
    assert torch.equal(out['decode_head.upscale.1.conv2.weight'],
                       src['network.upscale.1.conv2.weight'])


def test_converter_refuses_unknown_keys(official):
    state = dict(official['state_dict'], **{'network.extra.weight': torch.zeros(1)})
    with pytest.raises(ConversionError, match='network.extra.weight|extra.weight'):
        convert_eomt_checkpoint(dict(state_dict=state), num_heads=2)
    gated = {'network.q.weight': torch.zeros(2, 4),
             'network.encoder.backbone.blocks.0.attention.q_proj.weight': torch.zeros(4, 4),
             'network.encoder.backbone.blocks.0.mlp.gate_proj.weight': torch.zeros(4, 4)}
    with pytest.raises(ConversionError, match='gated'):
        convert_eomt_checkpoint(gated)


def test_loads_through_official_loader(tmp_path, official):
    """A plain ``pytorch_model.bin`` (state dict without the Lightning wrapper) converts."""
    path = tmp_path / 'pytorch_model.bin'
    torch.save(official['state_dict'], path)
    out = convert_eomt_checkpoint(load_official_checkpoint(str(path)), num_heads=2)
    assert 'backbone.queries.weight' in out['state_dict']


def test_eval_logits_and_semantic_scores(converted, official):
    model = _model(converted, official).eval()
    inputs = _inputs(official)
    with torch.no_grad():
        feats = model.extract_feat(inputs)
        cls_logits, mask_logits = model.decode_head(feats)
        # Eval: the last block only, as the official evaluation.
        assert len(cls_logits) == 1
        _close(mask_logits[-1], official['eval_mask_logits'])
        _close(cls_logits[-1], official['eval_class_logits'])
        height, width = official['config']['img_size']
        scores = model.encode_decode(inputs, [dict(img_shape=(height, width))] * 2)
    _close(scores, official['eval_semantic'])


def _targets(official):
    return semantic_segments(official['seg'].long(), official['config']['num_classes'], 255,
                             dtype=torch.float64)


def test_train_blocks_loss_and_gradients_fixed_matching(converted, official, float64_default):
    model = _model(converted, official).train()
    model.backbone.attn_mask_probs.copy_(official['train_probs'])
    torch.manual_seed(1)
    cls_logits, mask_logits = model.decode_head(model.extract_feat(_inputs(official)))
    assert len(cls_logits) == official['config']['num_blocks'] + 1
    for ours, ref in zip(mask_logits, official['train_mask_logits']):
        _close(ours, ref)
    for ours, ref in zip(cls_logits, official['train_class_logits']):
        _close(ours, ref)
    fixed = official['fixed_indices']
    losses = model.decode_head.loss_decode(cls_logits, mask_logits, _targets(official),
                                           indices=[fixed] * len(cls_logits))
    last = len(cls_logits) - 1
    for point in range(len(cls_logits)):
        prefix = '' if point == last else f'p{point}.'
        ref = official['fixed_losses']
        _close(losses[f'{prefix}loss_mask'], 5.0 * ref[f'loss_mask_{point}'])
        _close(losses[f'{prefix}loss_dice'], 5.0 * ref[f'loss_dice_{point}'])
        _close(losses[f'{prefix}loss_cls'], 2.0 * ref[f'loss_cross_entropy_{point}'])
    total = sum(losses.values())
    _close(total, official['fixed_total'])
    total.backward()
    # The official gradients, renamed by the converter itself.
    grads = dict(official['fixed_grads'],
                 **{'network.attn_mask_probs': official['train_probs']})
    expected = convert_eomt_checkpoint(dict(state_dict=grads), num_heads=2)['state_dict']
    params = dict(model.named_parameters())
    assert set(params) == set(expected) - {'backbone.attn_mask_probs'}
    for name, param in params.items():
        assert param.grad is not None, name
        _close(param.grad, expected[name])


def test_official_matching_and_loss(converted, official, float64_default):
    """The Hungarian matching and the uncertainty sampling, seeded as the official run."""
    model = _model(converted, official).train()
    model.backbone.attn_mask_probs.copy_(official['train_probs'])
    torch.manual_seed(2)
    cls_logits, mask_logits = model.decode_head(model.extract_feat(_inputs(official)))
    loss = model.decode_head.loss_decode
    targets = _targets(official)
    for point, (cls, masks) in enumerate(zip(cls_logits, mask_logits)):
        # The loss's own order of draws: matching points, then mask points.
        indices = loss.match(cls, masks, targets)
        for (rows, cols), (ref_rows, ref_cols) in zip(indices,
                                                      official['matched_indices'][point]):
            assert rows.tolist() == ref_rows.tolist() and cols.tolist() == ref_cols.tolist()
        bce, dice = loss.mask_losses(masks, targets, indices,
                                     loss.num_masks(indices, masks.device))
        _close(bce, official['matched_losses'][f'loss_mask_{point}'])
        _close(dice, official['matched_losses'][f'loss_dice_{point}'])
        _close(loss.class_loss(cls, targets, indices),
               official['matched_losses'][f'loss_cross_entropy_{point}'])
    # The whole forward (matching inside) draws the same numbers in the same order.
    torch.manual_seed(2)
    cls_logits, mask_logits = model.decode_head(model.extract_feat(_inputs(official)))
    total = sum(loss(cls_logits, mask_logits, targets).values())
    _close(total, official['matched_total'])


# -- DINOv3 (the official Hugging Face encoder -> timm's DINOv3) ----------------
DINOV3 = osp.join(REPO, 'tests', 'data', 'official', 'eomt', 'eomt_dinov3_tiny.pt')


@pytest.fixture(scope='module')
def official_v3():
    return torch.load(DINOV3, weights_only=True)


def _model_v3(converted, official):
    fields = model_overrides(converted['meta']['architecture'])
    fields['backbone'].update(img_size=tuple(official['config']['img_size']))
    fields['decode_head'].update(loss_decode=dict(type='Mask2FormerLoss',
                                                  num_points=official['config']['num_points']))
    init_default_scope('mmseg')
    model = MODELS.build(ConfigDict(
        type='EoMTEncoderDecoder', data_preprocessor=dict(type='SegDataPreProcessor'),
        backbone=fields['backbone'], decode_head=fields['decode_head'],
        test_cfg=dict(mode='whole')))
    assert set(model.state_dict()) == set(converted['state_dict'])
    model.load_state_dict(converted['state_dict'], strict=True)
    return model.double()


def test_dinov3_eval_train_loss_and_gradients(official_v3, float64_default):
    """The official DINOv3 EoMT (Hugging Face encoder, RoPE) = ours on timm's DINOv3.

    The two RoPE implementations agree to ~3e-9 relative in float64 (the sines and
    cosines are computed at different precisions), far inside 1e-5.
    """
    converted = convert_eomt_checkpoint(official_v3, num_heads=2)
    arch = converted['meta']['architecture']
    assert arch['format'] == 'eomt-dinov3' and arch['model_name'].endswith('_qkvb')
    model = _model_v3(converted, official_v3)
    inputs = _inputs(official_v3)
    model.eval()
    with torch.no_grad():
        cls_logits, mask_logits = model.decode_head(model.extract_feat(inputs))
    _close(mask_logits[-1], official_v3['eval_mask_logits'])
    _close(cls_logits[-1], official_v3['eval_class_logits'])
    model.train()
    model.backbone.attn_mask_probs.copy_(official_v3['train_probs'])
    torch.manual_seed(1)
    cls_logits, mask_logits = model.decode_head(model.extract_feat(inputs))
    for ours, ref in zip(mask_logits, official_v3['train_mask_logits']):
        _close(ours, ref)
    for ours, ref in zip(cls_logits, official_v3['train_class_logits']):
        _close(ours, ref)
    fixed = official_v3['fixed_indices']
    losses = model.decode_head.loss_decode(cls_logits, mask_logits, _targets(official_v3),
                                           indices=[fixed] * len(cls_logits))
    total = sum(losses.values())
    _close(total, official_v3['fixed_total'])
    total.backward()
    grads = dict(official_v3['fixed_grads'],
                 **{'network.attn_mask_probs': official_v3['train_probs']})
    expected = convert_eomt_checkpoint(dict(state_dict=grads), num_heads=2)['state_dict']
    params = dict(model.named_parameters())
    assert set(params) == set(expected) - {'backbone.attn_mask_probs'}
    for name, param in params.items():
        _close(param.grad, expected[name])


def test_dinov3_delta_checkpoint(official_v3, tmp_path):
    """A zoo-style delta (trained − DINOv3 weights) + the DINOv3 weights = the model."""
    absolute = {k.replace('network.', '', 1): v for k, v in official_v3['state_dict'].items()}
    base, delta = {}, dict(official_v3['state_dict'])
    generator = torch.Generator().manual_seed(0)
    for key, value in absolute.items():
        hf = None
        if key.startswith('encoder.backbone.patch_embed.'):
            hf = 'embeddings.' + key[len('encoder.backbone.patch_embed.'):]
        elif key.startswith('encoder.backbone.blocks.'):
            hf = 'layer.' + key[len('encoder.backbone.blocks.'):]
        elif key.startswith('encoder.backbone.norm.'):
            hf = key[len('encoder.backbone.'):]
        if hf is not None:
            base[hf] = torch.randn(value.shape, generator=generator)
            delta['network.' + key] = value - base[hf]
    base['embeddings.mask_token'] = torch.zeros(1, 1, 8)  # deleted by the official code
    delta['network.attn_mask_probs'] = official_v3['state_dict']['network.attn_mask_probs'] - 1
    expected = convert_eomt_checkpoint(official_v3, num_heads=2)['state_dict']
    # Through the command line, with the base as a safetensors file.
    from safetensors.torch import save_file
    save_file({k: v.contiguous() for k, v in base.items()}, str(tmp_path / 'dinov3.safetensors'))
    torch.save(delta, tmp_path / 'pytorch_model.bin')
    run_tool([PYTHON, 'tools/model_converters/eomt2mmseg.py', str(tmp_path / 'pytorch_model.bin'),
              str(tmp_path / 'out.pth'), '--num-heads', '2', '--dinov3-weights',
              str(tmp_path / 'dinov3.safetensors')], fork=True)
    out = torch.load(tmp_path / 'out.pth', weights_only=True)
    assert out['meta']['architecture']['delta'] is True
    assert set(out['state_dict']) == set(expected)
    for key, value in expected.items():
        torch.testing.assert_close(out['state_dict'][key], value, rtol=1e-6, atol=1e-6)
    with pytest.raises(ConversionError, match='DINOv2'):
        convert_eomt_checkpoint(torch.load(FIXTURE, weights_only=True), num_heads=2,
                                dinov3_weights=base)
