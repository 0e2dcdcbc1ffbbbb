"""``frozen_stages`` on every backbone family of the project (mmseg's Swin
convention: ``-1`` nothing, ``0`` the embedding, ``k`` the embedding and the
first ``k`` blocks / stages; frozen parts get no gradient, do not move under
an optimizer step, and stay in eval mode through ``train()``). TimmViT has
its own file (test_timm_vit_memory_options.py)."""
import pytest
import torch

from depict.models.backbones import (FusedVisionTransformer, ShrunkVisionTransformer,
                                     TwoPathwayBEiT, TwoPathwayMAE, TwoPathwaySwinTransformer,
                                     TwoPathwayVisionTransformer)

VIT = dict(img_size=(32, 32), patch_size=16, embed_dims=32, num_layers=4, num_heads=2,
           out_indices=(1, 3), final_norm=True, drop_path_rate=0.3)


def names(backbone, frozen=True):
    return {n for n, p in backbone.named_parameters() if p.requires_grad != frozen}


def layer(i):
    return f'layers.{i}.'


def check_step(backbone, x):
    """One SGD step over the trainable parameters: frozen ones get no gradient
    and do not move; every trainable one gets a gradient."""
    backbone.train()
    before = {n: p.detach().clone() for n, p in backbone.named_parameters()}
    optimizer = torch.optim.SGD([p for p in backbone.parameters() if p.requires_grad], lr=0.1,
                                momentum=0.9, weight_decay=1e-2)
    outs = backbone(x)
    sum(o.square().mean() for o in outs).backward()
    optimizer.step()
    for name, param in backbone.named_parameters():
        if param.requires_grad:
            assert param.grad is not None, name
        else:
            assert param.grad is None, name
            torch.testing.assert_close(param, before[name], rtol=0, atol=0)


MMSEG_VITS = {
    'beit': (TwoPathwayBEiT, dict(with_local_pathway=False)),
    'beit-pathway': (TwoPathwayBEiT, dict(with_local_pathway=True, local_channels=8)),
    'mae': (TwoPathwayMAE, dict(with_local_pathway=False)),
    'mae-pathway': (TwoPathwayMAE, dict(with_local_pathway=True, local_channels=8)),
    'fused-vit': (FusedVisionTransformer, dict(pre_norm=True)),
    'shrunk-vit': (ShrunkVisionTransformer, dict(shrink_index=2)),
    'two-pathway-vit': (TwoPathwayVisionTransformer, dict(local_channels=8)),
}


@pytest.mark.parametrize('variant', list(MMSEG_VITS))
def test_mmseg_layout_vits_frozen_stages(variant):
    cls, extra = MMSEG_VITS[variant]
    kwargs = dict(VIT, **extra)
    pathway = 'pathway' in variant
    every = names(cls(**kwargs), frozen=False)
    embedding = {n for n in every
                 if n.startswith(('patch_embed.', 'cls_token', 'pos_embed', 'ln_pre.'))}
    assert 'patch_embed.projection.weight' in embedding
    assert ('pos_embed' in embedding) == (cls is not TwoPathwayBEiT)  # BEiT: relative bias
    assert ('ln_pre.weight' in embedding) == (variant == 'fused-vit')
    pathway_names = {n for n in every if n.startswith('local_pathway.')}
    assert bool(pathway_names) == pathway
    assert names(cls(**kwargs)) == set()
    assert names(cls(frozen_stages=0, **kwargs)) == embedding
    frozen = cls(frozen_stages=2, **kwargs)
    assert names(frozen) == embedding | {n for n in every if n.startswith((layer(0), layer(1)))}
    # The whole transformer, final norm included; the local pathway still learns.
    assert names(cls(frozen_stages=4, **kwargs)) == every - pathway_names
    frozen.train()
    assert not frozen.layers[1].training and frozen.layers[2].training
    assert not frozen.patch_embed.training
    check_step(frozen, torch.randn(2, 3, 32, 32))
    # Same keys as without freezing: checkpoints load as before.
    assert frozen.state_dict().keys() == cls(**kwargs).state_dict().keys()
    with pytest.raises(ValueError, match='frozen_stages=5 must be an int from -1'):
        cls(frozen_stages=5, **kwargs)


def test_frozen_beit_blocks_skip_drop_path():
    backbone = TwoPathwayBEiT(with_local_pathway=False, frozen_stages=2,
                              **dict(VIT, out_indices=(1, 3))).train()
    x = torch.randn(1, 3, 32, 32)
    torch.manual_seed(0)
    first = backbone(x)
    torch.manual_seed(1)
    second = backbone(x)
    torch.testing.assert_close(first[0], second[0], rtol=0, atol=0)  # layers 0-1: frozen
    assert not torch.allclose(first[1], second[1])  # layer 3: drop-path active


@pytest.mark.parametrize('pathway', [False, True])
def test_swin_uses_mmseg_frozen_stages_and_the_pathway_learns(pathway):
    """mmseg's Swin has the option itself (stages = Swin stages); the two-pathway
    Swin inherits it and leaves its local pathway trainable."""
    kwargs = dict(pretrain_img_size=64, embed_dims=16, depths=(1, 1, 1, 1),
                  num_heads=(1, 2, 2, 2), window_size=2, out_indices=(0, 1, 2, 3),
                  with_local_pathway=pathway, local_channels=8)
    every = names(TwoPathwaySwinTransformer(**kwargs), frozen=False)
    backbone = TwoPathwaySwinTransformer(frozen_stages=2, **kwargs)
    frozen = names(backbone)
    assert frozen == {n for n in every if n.startswith(('patch_embed.', 'stages.0.', 'stages.1.',
                                                       'norm0.', 'norm1.'))}
    assert not any(n.startswith('local_pathway.') for n in frozen)
    backbone.train()
    assert not backbone.stages[1].training and backbone.stages[2].training
    check_step(backbone, torch.randn(1, 3, 64, 64))


@pytest.mark.parametrize('name', ['EoMTVisionTransformer', 'EoMTTimmViT'])
def test_eomt_queries_are_never_frozen(name):
    """Frozen stages are the pretrained ViT's; EoMT's queries (new) always learn."""
    from depict.models import backbones
    if name == 'EoMTTimmViT':
        kwargs = dict(model_name='vit_base_patch16_224', img_size=32,
                      model_kwargs=dict(embed_dim=32, depth=4, num_heads=2))
    else:
        kwargs = {k: v for k, v in VIT.items() if k != 'out_indices'}
    backbone = getattr(backbones, name)(num_queries=3, num_blocks=2, frozen_stages=4, **kwargs)
    backbone.train()
    # The whole ViT (frozen_stages = its 4 blocks) but the queries.
    assert names(backbone) == {n for n, _ in backbone.named_parameters()} - {'queries.weight'}
