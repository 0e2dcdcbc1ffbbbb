"""DEPICT-CA head: shapes, loss, gradients, the equations, the official structure."""
import math

import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample


def build_head(**kwargs):
    cfg = dict(type='DepictCAHead', in_channels=32, num_classes=5, num_layers=2, num_heads=2,
               head_dims=8, num_cross_layers=2, cross_num_heads=2, cross_head_dims=4)
    cfg.update(kwargs)
    head = MODELS.build(cfg)
    head.init_weights()
    return head


def ca_samples(batch, height, width, num_classes):
    samples = []
    for _ in range(batch):
        sample = SegDataSample(metainfo=dict(img_shape=(height, width), pad_shape=(height, width),
                                             ori_shape=(height, width)))
        sample.gt_sem_seg = PixelData(data=torch.randint(0, num_classes, (1, height, width)))
        samples.append(sample)
    return samples


@pytest.mark.parametrize('batch,h,w', [(1, 4, 4), (2, 3, 7), (2, 7, 2)])
def test_output_shape_square_and_non_square(batch, h, w):
    head = build_head().eval()
    assert head([torch.randn(batch, 32, h, w)]).shape == (batch, 5, h, w)
    assert not hasattr(head, 'conv_seg')


def test_loss_with_real_data_samples_and_every_parameter_gets_a_gradient():
    head = build_head().train()
    losses = head.loss([torch.randn(2, 32, 5, 6)], ca_samples(2, 40, 48, 5), dict())
    assert torch.isfinite(losses['loss_ce'])
    losses['loss_ce'].backward()
    for name, param in head.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def explicit_operator(x, attn, query=None):
    k, p = attn.num_heads, attn.head_dims
    update = 0
    for i in range(k):
        p_i = attn.proj[i * p:(i + 1) * p]
        w_i = x @ p_i.T
        q_i = w_i if query is None else query @ p_i.T
        update = update + torch.softmax(q_i @ w_i.transpose(1, 2) / math.sqrt(p), -1) @ w_i @ p_i
    return attn.eta * update


def test_matches_explicit_equations():
    head = build_head().eval()
    feats = torch.randn(2, 32, 3, 5)
    z = feats.flatten(2).transpose(1, 2)
    for layer in head.layers:
        z = z + explicit_operator(layer.norm(z), layer.attn)
    z = head.patch_norm(z)
    e = head.cls_emb.expand(2, -1, -1)
    for layer in head.cross_layers:
        e = e + explicit_operator(layer.norm(z), layer.attn, query=e)
    e = head.class_norm(e)
    masks = head.mask_norm((z / z.norm(dim=-1, keepdim=True))
                           @ (e / e.norm(dim=-1, keepdim=True)).transpose(1, 2))
    torch.testing.assert_close(head([feats]), masks.transpose(1, 2).reshape(2, 5, 3, 5),
                               atol=1e-5, rtol=1e-4)


def test_cross_layers_with_zero_step_keep_the_class_embeddings():
    """η = 0 in the MSCA layers: Ê = LN(E), whatever the image."""
    head = build_head().eval()
    with torch.no_grad():
        for layer in head.cross_layers:
            layer.attn.eta.zero_()
    captured = []
    head.class_norm.register_forward_hook(lambda m, i, o: captured.append(i[0]))
    head([torch.randn(2, 32, 3, 3)])
    torch.testing.assert_close(captured[0], head.cls_emb.expand(2, -1, -1))


def test_official_structure_parameter_count():
    """3 MSSA (K=3, p=100) + 3 MSCA (K=3, p=50) on ViT-L, 150 classes."""
    head = MODELS.build(dict(type='DepictCAHead', in_channels=1024, num_classes=150))
    count = sum(p.numel() for p in head.parameters())
    layer = lambda kp: kp * 1024 + 1 + 2 * 1024  # noqa: E731  P, η, pre-norm LN
    assert count == 3 * layer(300) + 3 * layer(150) + 2 * 2 * 1024 + 2 * 150 + 150 * 1024
    assert count == 1_552_690


def test_bad_configuration_errors():
    with pytest.raises(ValueError, match='num_cross_layers'):
        build_head(num_cross_layers=0)
    with pytest.raises(TypeError, match='in_channels must be an int'):
        build_head(in_channels=[32, 32])


def test_default_attention_dropout_is_the_official_zero():
    # DEPICT's config.yml sets the decoder dropout to 0.0 (Segmenter's is 0.1):
    # in training mode the head is then deterministic, as the official one.
    head = build_head().train()
    assert all(layer.attn.attn_drop == 0.0 for layer in [*head.layers, *head.cross_layers])
    x = torch.randn(2, 32, 4, 5)
    torch.testing.assert_close(head([x]), head([x]), rtol=0, atol=0)
    dropped = build_head(attn_drop_rate=0.5).train()
    assert all(layer.attn.attn_drop == 0.5 for layer in [*dropped.layers, *dropped.cross_layers])


@pytest.mark.parametrize('head_type', ['DepictCAHead', 'DepictSAHead'])
def test_eta_init_sets_every_step_size_and_defaults_to_the_official_draw(head_type):
    """``eta_init`` (an ablation knob) starts every η at one value; without
    it each η is the official N(0, 1) draw (random sign and size per operator)."""
    from depict.models.layers import SubspaceAttention
    kwargs = dict(type=head_type, in_channels=32, num_classes=5, num_layers=2, num_heads=2,
                  head_dims=8)
    if head_type == 'DepictCAHead':
        kwargs.update(num_cross_layers=2, cross_num_heads=2, cross_head_dims=4)

    def etas(head):
        return torch.cat([m.eta.detach() for m in head.modules()
                          if isinstance(m, SubspaceAttention)])

    torch.manual_seed(0)
    official = MODELS.build(kwargs)
    official.init_weights()
    assert len(set(etas(official).tolist())) == etas(official).numel()  # distinct draws
    fixed = MODELS.build(dict(kwargs, eta_init=1.0))
    fixed.init_weights()
    assert etas(fixed).numel() == (4 if head_type == 'DepictCAHead' else 2)
    assert (etas(fixed) == 1.0).all()
