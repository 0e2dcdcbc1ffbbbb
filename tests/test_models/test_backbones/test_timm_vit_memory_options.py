"""TimmViT's memory savers for large ViTs: ``frozen_stages`` and ``with_cp``.

Tiny random timm models (no downloads). Frozen stages: no gradient, no
movement under an optimizer step, eval mode kept through ``train()``.
Checkpointing: the same outputs and the same gradient of every parameter as
the plain path in float64, with drop-path on in training (the recomputation
must draw the masks the forward drew).
"""
import pytest
import torch
from torch import nn

from depict.models.backbones import TimmViT

TINY = dict(embed_dim=32, depth=4, num_heads=2)
NAMES = ['vit_base_patch16_224', 'vit_small_patch14_reg4_dinov2', 'eva02_tiny_patch14_224',
         'vit_small_patch16_dinov3']


def tiny(name='vit_base_patch16_224', **kwargs):
    kwargs.setdefault('img_size', 64)
    kwargs.setdefault('out_indices', (1, 3))
    return TimmViT(model_name=name, model_kwargs=dict(TINY), **kwargs)


def image(name, batch=2):
    patch = 14 if 'patch14' in name else 16
    return torch.randn(batch, 3, 2 * patch, 3 * patch, generator=torch.Generator().manual_seed(0))


def frozen_names(backbone):
    return {n for n, p in backbone.named_parameters() if not p.requires_grad}


def test_frozen_stages_follow_mmseg_counting():
    names = {n for n, _ in tiny().named_parameters()}
    embedding = {'model.cls_token', 'model.pos_embed', 'model.patch_embed.proj.weight',
                 'model.patch_embed.proj.bias'}
    blocks = [{n for n in names if n.startswith(f'model.blocks.{i}.')} for i in range(4)]
    assert frozen_names(tiny(frozen_stages=-1)) == set()
    assert frozen_names(tiny(frozen_stages=0)) == embedding
    assert frozen_names(tiny(frozen_stages=2)) == embedding | blocks[0] | blocks[1]
    # All kept blocks: the final norm goes too (the whole backbone is frozen).
    assert frozen_names(tiny(frozen_stages=4)) == names
    assert frozen_names(tiny(frozen_stages=3)) == names - blocks[3] - {'norm.weight', 'norm.bias'}
    # Registers (DINOv2) and a RoPE model without pos_embed (DINOv3) freeze with the embedding.
    assert 'model.reg_token' in frozen_names(tiny('vit_small_patch14_reg4_dinov2', frozen_stages=0))
    assert frozen_names(tiny('vit_small_patch16_dinov3', frozen_stages=0)) == {
        'model.cls_token', 'model.reg_token', 'model.patch_embed.proj.weight',
        'model.patch_embed.proj.bias'}


@pytest.mark.parametrize('bad', [-2, 5, 1.0, True, '2'])
def test_bad_frozen_stages_name_the_range(bad):
    with pytest.raises(ValueError, match=r'frozen_stages=.* from -1 .* to 4'):
        tiny(frozen_stages=bad)


def test_frozen_blocks_stay_in_eval_mode_and_skip_drop_path():
    backbone = tiny(frozen_stages=2, drop_path_rate=0.5).train()
    blocks = backbone.model.blocks
    assert not blocks[0].training and not blocks[1].training
    assert not backbone.model.patch_embed.training
    assert blocks[2].training and blocks[3].training and backbone.training
    backbone.eval().train()  # the runner's calls: frozen modules go back to eval
    assert not blocks[1].training and blocks[2].training
    x = image('vit_base_patch16_224')
    # Block 1's output depends on blocks 0-1 only: deterministic in train mode.
    torch.manual_seed(1)
    first = backbone(x)
    torch.manual_seed(2)
    second = backbone(x)
    torch.testing.assert_close(first[0], second[0], rtol=0, atol=0)
    assert not torch.allclose(first[1], second[1])  # block 3 still drops paths
    # Nothing is recorded for the frozen prefix: its output has no graph.
    assert first[0].grad_fn is None and first[1].grad_fn is not None


class _Segmentor(nn.Module):
    """A backbone and a head under the parameter names of mmseg's segmentors."""

    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone
        self.decode_head = nn.Conv2d(32, 3, 1)

    def loss(self, x):
        return sum(self.decode_head(f).square().mean() for f in self.backbone(x))


@pytest.mark.parametrize('frozen_stages', [0, 2, 4])
def test_frozen_parameters_get_no_grad_and_do_not_move(frozen_stages):
    model = _Segmentor(tiny(frozen_stages=frozen_stages, drop_path_rate=0.1)).train()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2,
                                  weight_decay=0.05)
    model.loss(image('vit_base_patch16_224')).backward()
    optimizer.step()
    frozen = {f'backbone.{n}' for n in frozen_names(model.backbone)}
    assert frozen
    for name, param in model.named_parameters():
        if name in frozen:
            assert param.grad is None, name
            torch.testing.assert_close(param, before[name], rtol=0, atol=0)
        else:
            assert param.grad is not None, name
            assert not torch.equal(param, before[name]), name


def _grads(module):
    return {n: p.grad.clone() for n, p in module.named_parameters() if p.grad is not None}


def _step(backbone, x, seed):
    backbone.zero_grad(set_to_none=True)
    torch.manual_seed(seed)
    outs = backbone(x)
    # A loss that weights every position and channel differently.
    weights = [torch.linspace(-1, 1, o.numel(), dtype=o.dtype).view_as(o) for o in outs]
    sum((o * w).sum() + o.square().mean() for o, w in zip(outs, weights)).backward()
    return [o.detach() for o in outs], _grads(backbone)


@pytest.mark.parametrize('name', NAMES)
@pytest.mark.parametrize('train', [False, True])
def test_checkpointing_equals_the_plain_path_float64(name, train):
    """Outputs and every parameter's gradient, float64; drop-path on in training."""
    plain = tiny(name, drop_path_rate=0.3).double()
    checkpointed = tiny(name, drop_path_rate=0.3, with_cp=True).double()
    checkpointed.load_state_dict(plain.state_dict())
    plain.train(train)
    checkpointed.train(train)
    x = image(name).double()
    outs, grads = _step(plain, x, seed=3)
    outs_cp, grads_cp = _step(checkpointed, x, seed=3)
    for out, out_cp in zip(outs, outs_cp):
        torch.testing.assert_close(out_cp, out, rtol=1e-12, atol=1e-12)
    assert grads.keys() == grads_cp.keys() == {n for n, _ in plain.named_parameters()}
    for key in grads:
        torch.testing.assert_close(grads_cp[key], grads[key], rtol=1e-10, atol=1e-12, msg=key)
    if train:  # drop-path really drew masks: another seed gives other outputs
        other, _ = _step(plain, x, seed=4)
        assert not torch.allclose(other[-1], outs[-1])


def _saved_tensors(backbone, x):
    count = 0

    def pack(tensor):
        nonlocal count
        count += 1
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        backbone(x)
    return count


def test_checkpointing_stores_fewer_activations_and_only_with_autograd():
    plain, checkpointed = tiny(), tiny(with_cp=True)
    x = image('vit_base_patch16_224')
    # Per block, the checkpoint keeps its inputs instead of every intermediate.
    assert _saved_tensors(checkpointed, x) < _saved_tensors(plain, x) / 3
    with torch.no_grad():
        checkpointed(x)
    assert not checkpointed.model.grad_checkpointing  # inference runs the plain path


def test_checkpointing_after_frozen_stages_even_with_timm_reentrant_default():
    """The reentrant checkpoint would give no gradient to block 2 here (its input,
    block 1's output, does not require grad); ours is always non-reentrant."""
    from timm.layers import set_reentrant_ckpt, use_reentrant_ckpt
    plain = tiny(frozen_stages=2).double()
    checkpointed = tiny(frozen_stages=2, with_cp=True).double()
    checkpointed.load_state_dict(plain.state_dict())
    x = image('vit_base_patch16_224').double()
    previous = use_reentrant_ckpt()
    set_reentrant_ckpt(True)
    try:
        _, grads_cp = _step(checkpointed, x, seed=0)
        assert use_reentrant_ckpt()  # the global setting is restored after the forward
    finally:
        set_reentrant_ckpt(previous)
    _, grads = _step(plain, x, seed=0)
    assert grads.keys() == grads_cp.keys()
    assert any(k.startswith('model.blocks.2.') for k in grads)
    for key in grads:
        torch.testing.assert_close(grads_cp[key], grads[key], rtol=1e-10, atol=1e-12, msg=key)


@pytest.mark.parametrize('decoder', ['segmenter', 'depict-sa', 'depict-ca', 'atm',
                                     'atm-shrunk-head', 'repsep'])
def test_every_decoder_trains_on_a_frozen_checkpointed_backbone(decoder):
    """The toy config of each decoder on a TimmViT with frozen blocks 0-2 and
    checkpointing, one step of the toy schedule's optimizer recipe through
    ``TrainableOptimWrapperConstructor``: no frozen parameter in the optimizer,
    none moves; the rest of the backbone and the head learn."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope
    from test_timm_vit_decoders import build, samples  # same folder: the toy builds

    with DefaultScope.overwrite_default_scope('mmseg'):
        torch.manual_seed(0)
        model = build(decoder, 'augreg')
        model.backbone = tiny_like(model.backbone, frozen_stages=3, with_cp=True)
        model.init_weights()
        model.train()
        # configs/_base_/schedules/schedule_toy.py's recipe (paramwise: mmengine's groups).
        wrapper = build_optim_wrapper(model, dict(
            type='OptimWrapper', constructor='TrainableOptimWrapperConstructor',
            optimizer=dict(type='AdamW', lr=3e-4, betas=(0.9, 0.999), weight_decay=0.01),
            clip_grad=dict(max_norm=1.0),
            paramwise_cfg=dict(custom_keys={'cls_emb': dict(decay_mult=0.0)})))
    in_optimizer = {id(p) for group in wrapper.optimizer.param_groups for p in group['params']}
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert in_optimizer == trainable
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    losses = model.loss(torch.randn(2, 3, 64, 64), samples(2, (64, 64)))
    wrapper.update_params(sum(v for k, v in losses.items() if 'loss' in k))
    for name, param in model.named_parameters():
        frozen = name.startswith(('backbone.model.blocks.0.', 'backbone.model.blocks.1.',
                                  'backbone.model.blocks.2.', 'backbone.model.cls_token',
                                  'backbone.model.pos_embed', 'backbone.model.patch_embed'))
        assert param.requires_grad != frozen, name
        if frozen:
            torch.testing.assert_close(param, before[name], rtol=0, atol=0)
    assert not torch.equal(model.backbone.model.blocks[3].attn.qkv.weight,
                           before['backbone.model.blocks.3.attn.qkv.weight'])
    head = [n for n in before if n.startswith('decode_head.')]
    assert any(not torch.equal(dict(model.named_parameters())[n], before[n]) for n in head)


def tiny_like(backbone, **kwargs):
    """The same TimmViT (architecture and weights) rebuilt with other options."""
    model = backbone.model
    rebuilt = TimmViT(model_name='vit_base_patch16_224', img_size=64,
                      out_indices=backbone.out_indices, final_norm=backbone.norm is not None,
                      drop_path_rate=0.1,
                      model_kwargs=dict(embed_dim=model.embed_dim, depth=len(model.blocks),
                                        num_heads=model.blocks[0].attn.num_heads,
                                        patch_size=backbone.patch_size[0]), **kwargs)
    rebuilt.load_state_dict(backbone.state_dict())
    return rebuilt
