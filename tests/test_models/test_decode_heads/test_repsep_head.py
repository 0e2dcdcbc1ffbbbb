"""RepSepHead: Segmenter's mask transformer + SASM + DCA (reconstruction of Hong et al.)."""
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.models.decode_heads import SegmenterMaskTransformerHead
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from torch import nn

from depict.utils.flops import flop_analyzer

C = 5
HEAD = dict(type='RepSepHead', in_channels=32, channels=32, embed_dims=32, num_heads=2,
            num_layers=1, num_classes=C, region_proj_channels=16)


def build_head(**kwargs):
    head = MODELS.build({**HEAD, **kwargs})
    head.init_weights()
    return head


def feats(h, w, batch=2):
    return (torch.randn(batch, 32, h, w), )


def samples(batch, height, width, ignore=True):
    out = []
    for _ in range(batch):
        label = torch.randint(0, C, (1, height, width))
        if ignore:
            label[:, :2] = 255
        sample = SegDataSample(gt_sem_seg=PixelData(data=label))
        sample.set_metainfo(dict(img_shape=(height, width), ori_shape=(height, width),
                                 pad_shape=(height, width)))
        out.append(sample)
    return out


def explicit_box_mean(grid, k):
    """μ_k: the mean of the k×k window around each position, indices clamped
    at the border (replicate padding), as a loop over offsets."""
    _, _, h, w = grid.shape
    rows, cols = torch.arange(h), torch.arange(w)
    total = 0
    for dy in range(-(k // 2), k // 2 + 1):
        for dx in range(-(k // 2), k // 2 + 1):
            shifted = grid[:, :, (rows + dy).clamp(0, h - 1)]
            total = total + shifted[..., (cols + dx).clamp(0, w - 1)]
    return total / k**2


def layer_norm(x, norm):
    return torch.nn.functional.layer_norm(x, x.shape[-1:], norm.weight, norm.bias, norm.eps)


def explicit_repsep_forward(head, x):
    """The module docstring's equations, written out: Segmenter's mask
    transformer (mmseg's own layers), SASM, DCA per head, the masks."""
    b, _, h, w = x.shape
    tokens = head.dec_proj(x.flatten(2).transpose(1, 2))
    tokens = torch.cat([tokens, head.cls_emb.expand(b, -1, -1)], 1)
    for layer in head.layers:
        tokens = layer(tokens)
    tokens = layer_norm(tokens, head.decoder_norm)
    z, r = tokens[:, :h * w], tokens[:, h * w:]
    if head.with_sasm:  # Z + s ⊙ σ(MLP([LN(Z) ‖ LN(μ)])) ⊙ (Z − μ)
        sasm = head.sasm
        grid = z.transpose(1, 2).reshape(b, -1, h, w)
        mu = explicit_box_mean(grid, sasm.kernel_size).flatten(2).transpose(1, 2)
        gate = torch.cat([layer_norm(z, sasm.norm), layer_norm(mu, sasm.norm)], -1)
        gate = torch.sigmoid(sasm.gate[2](torch.nn.functional.gelu(sasm.gate[0](gate))))
        z = z + sasm.scale * gate * (z - mu)
    if head.with_dca:  # R ← R + MHA(LN(R), LN(Ẑ)); R ← R + FFN(LN(R)); R ← LN(R)
        for layer in head.dca_layers:
            attn, heads = layer.attn, layer.attn.num_heads
            q = attn.q_proj(layer_norm(r, layer.norm_query))
            memory = layer_norm(z, layer.norm_memory)
            k, v = attn.k_proj(memory), attn.v_proj(memory)
            dims = q.shape[-1] // heads
            attended = []
            for i in range(heads):
                part = slice(i * dims, (i + 1) * dims)
                weights = torch.softmax(q[..., part] @ k[..., part].transpose(1, 2)
                                        / dims**0.5, -1)
                attended.append(weights @ v[..., part])
            r = r + attn.out_proj(torch.cat(attended, -1))
            hidden = torch.nn.functional.gelu(layer.ffn.fc1(layer_norm(r, layer.norm_ffn)))
            r = r + layer.ffn.fc2(hidden)
        r = layer_norm(r, head.dca_norm)
    patches, classes = head.patch_proj(z), head.classes_proj(r)
    patches = patches / patches.norm(dim=-1, keepdim=True)
    classes = classes / classes.norm(dim=-1, keepdim=True)
    masks = layer_norm(patches @ classes.transpose(1, 2), head.mask_norm)  # (B, N, C)
    return masks.transpose(1, 2).reshape(b, -1, h, w)


@pytest.mark.parametrize('sasm,dca', [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize('hw', [(4, 4), (3, 7), (6, 2)])
def test_masks_match_the_equations_square_and_non_square(sasm, dca, hw):
    head = build_head(with_sasm=sasm, with_dca=dca).eval()
    if sasm:  # away from the init (s = 1, zero-bias gate), so that each term shows
        with torch.no_grad():
            head.sasm.scale.uniform_(0.5, 2.0)
            head.sasm.gate[2].bias.normal_()
    (x, ) = feats(*hw)
    masks = head((x, ))
    assert masks.shape == (2, C, *hw)
    with torch.no_grad():
        torch.testing.assert_close(masks, explicit_repsep_forward(head, x), atol=1e-5,
                                   rtol=1e-4)


def test_switches_off_is_exactly_segmenter():
    ours = build_head(with_sasm=False, with_dca=False)
    reference = SegmenterMaskTransformerHead(
        in_channels=32, channels=32, embed_dims=32, num_heads=2, num_layers=1, num_classes=C)
    assert reference.load_state_dict(ours.state_dict(), strict=True)
    ours.eval(), reference.eval()
    x = feats(3, 5)
    torch.testing.assert_close(ours(x), reference(x))


def test_loss_with_real_seg_data_samples():
    head = build_head()
    losses = head.loss(feats(4, 6), samples(2, 32, 48), train_cfg={})
    assert set(losses) == {'loss_ce', 'acc_seg', 'loss_dca_attn', 'loss_dca_region'}
    assert all(torch.isfinite(v).all() for v in losses.values())
    off = build_head(with_dca=False).loss(feats(4, 6), samples(2, 32, 48), train_cfg={})
    assert set(off) == {'loss_ce', 'acc_seg'}
    partial = build_head(loss_dca_region=None).loss(feats(4, 6), samples(2, 32, 48), {})
    assert set(partial) == {'loss_ce', 'acc_seg', 'loss_dca_attn'}
    assert not hasattr(build_head(loss_dca_region=None), 'region_proj')


def test_every_parameter_gets_a_gradient_all_switches_on():
    head = build_head(dca_num_layers=2)
    head.train()
    losses = head.loss(feats(4, 6), samples(2, 32, 48), train_cfg={})
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    for name, param in head.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_auxiliary_branch_never_runs_at_inference():
    head = build_head()
    calls = []
    head.region_proj.register_forward_hook(lambda *args: calls.append('region_proj'))
    for layer in head.dca_layers:
        layer.attn.register_forward_pre_hook(
            lambda module, args, kwargs: calls.append(('logits', kwargs.get('return_logits'))),
            with_kwargs=True)
    head.eval()
    metas = [s.metainfo for s in samples(2, 32, 48)]
    with torch.no_grad():
        head.predict(feats(4, 6), metas, test_cfg={})
        head(feats(4, 6))
    assert calls == [('logits', False), ('logits', False)]  # plain SDPA path, no aux
    calls.clear()
    head.train()
    head.loss(feats(4, 6), samples(2, 32, 48), train_cfg={})
    assert calls == [('logits', True), 'region_proj', 'region_proj']  # the hooks do work


class _TrainGraph(nn.Module):
    def __init__(self, head):
        super().__init__()
        self.head = head

    def forward(self, x, labels):
        masks, aux = self.head._decode((x, ), with_aux=True)
        return masks, sum(self.head.aux_losses(aux, labels).values())


def test_inference_flops_exclude_the_auxiliary_branch():
    x, labels = torch.randn(1, 32, 4, 6), torch.randint(0, C, (1, 1, 32, 48))
    with_aux = build_head().eval()
    without_aux = build_head(loss_dca_attn=None, loss_dca_region=None).eval()
    inference = flop_analyzer(with_aux, ((x, ), )).total()
    assert inference == flop_analyzer(without_aux, ((x, ), )).total()
    training = flop_analyzer(_TrainGraph(with_aux), (x, labels)).total()
    assert training > inference
    by_module = flop_analyzer(with_aux, ((x, ), )).by_module()
    assert by_module['region_proj'] == 0 and by_module['dca_layers'] > 0


def test_runs_under_autocast():
    head = build_head()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        losses = head.loss(feats(4, 6), samples(2, 32, 48), train_cfg={})
        masks = head(feats(3, 5))
    assert masks.shape == (2, C, 3, 5)
    assert all(torch.isfinite(v.float()).all() for v in losses.values())


def test_bad_arguments_are_reported():
    with pytest.raises(ValueError, match='dca_num_layers'):
        build_head(dca_num_layers=0)
    with pytest.raises(ValueError, match='input_transform'):
        build_head(in_channels=[32, 32], in_index=[0, 1], input_transform='multiple_select')
    # resize_concat (pyramid backbones) takes the summed width: test_two_pathway_pyramid.py.
    assert build_head(in_channels=[32, 32], in_index=[0, 1],
                      input_transform='resize_concat').dec_proj.in_features == 64


def test_auxiliary_outputs_are_named():
    from depict.models.decode_heads.repsep_head import DCAAuxiliary
    head = build_head().train()
    masks, aux = head._decode(feats(3, 5), with_aux=True)
    assert isinstance(aux, DCAAuxiliary) and aux.grid_shape == (3, 5)
    width = head.cls_emb.shape[-1]
    assert aux.patches.shape == (2, 15, width)
    assert aux.regions.shape == (2, head.num_classes, width)
    assert len(aux.attn_logits) == len(head.dca_layers)
    assert masks.shape == (2, head.num_classes, 3, 5)
    assert head._decode(feats(3, 5), with_aux=False)[1] is None
