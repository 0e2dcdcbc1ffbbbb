"""depict.models.layers.sublayer: the shared FFN and residual norm, and loading
checkpoints saved before them (version 1: nn.Sequential FFNs)."""
import os.path as osp

import pytest
import torch
from torch import nn

from depict.models.decode_heads import ATMHead
from depict.models.decode_heads.repsep_head import DiscriminativeCrossAttentionLayer
from depict.models.layers import FFN, PostNormDecoderLayer, ResidualNorm

# State dicts (with torch's version metadata) and eval outputs of a post-norm
# decoder layer, a DCA layer and an ATM head, saved by the code before the
# shared FFN, when the FFNs were nn.Sequential (keys ffn.0 / ffn.3, ffn.0 / ffn.2).
FIXTURE = osp.join(osp.dirname(__file__), 'data', 'ffn_v1_state_dicts.pt')


def test_residual_norm_pre_and_post():
    x = torch.randn(2, 3, 8)
    branch = nn.Linear(8, 8)
    pre, post = ResidualNorm(8, norm_first=True), ResidualNorm(8, norm_first=False)
    ln = nn.LayerNorm(8)
    torch.testing.assert_close(pre.residual(x, branch), x + branch(ln(x)))
    torch.testing.assert_close(post.residual(x, branch), ln(x + branch(x)))
    # A LayerNorm: same parameters (names) as the nn.LayerNorm it replaces.
    assert set(dict(pre.named_parameters())) == {'weight', 'bias'}


def test_ffn_is_linear_act_linear():
    ffn = FFN(8, 16, act_layer=nn.ReLU, dropout=0.5).eval()
    x = torch.randn(2, 8)
    torch.testing.assert_close(ffn(x), ffn.fc2(torch.relu(ffn.fc1(x))))
    assert [n for n, _ in ffn.named_parameters()] == ['fc1.weight', 'fc1.bias', 'fc2.weight',
                                                      'fc2.bias']


@pytest.fixture(scope='module')
def old():
    return torch.load(FIXTURE, weights_only=True)


def _strict_load(module: nn.Module, state_dict: dict) -> None:
    result = module.load_state_dict(state_dict, strict=True)
    assert not result.missing_keys and not result.unexpected_keys


def test_version_1_checkpoints_load_into_the_shared_ffn(old):
    assert 'ffn.3.weight' in old['post'] and 'ffn.2.weight' in old['dca']
    post = PostNormDecoderLayer(8, 2, ffn_channels=16).eval()
    _strict_load(post, old['post'])
    dca = DiscriminativeCrossAttentionLayer(embed_dims=8, num_heads=2, mlp_ratio=2).eval()
    _strict_load(dca, old['dca'])
    atm = ATMHead(in_channels=8, channels=8, num_classes=3, num_heads=2, num_layers=1,
                  ffn_ratio=2, in_index=(0, 1)).eval()
    _strict_load(atm, old['atm'])
    with torch.no_grad():
        torch.testing.assert_close(post(old['query'], old['memory'])[0], old['out']['post'])
        torch.testing.assert_close(dca(old['query'], old['memory'])[0], old['out']['dca'])
        torch.testing.assert_close(atm(old['feats']).mask_logits[-1], old['out']['atm'])
    # The old Linear layers became fc1 / fc2, value for value.
    torch.testing.assert_close(post.ffn.fc2.weight, old['post']['ffn.3.weight'])
    torch.testing.assert_close(dca.ffn.fc2.weight, old['dca']['ffn.2.weight'])


def test_new_checkpoints_round_trip_and_a_bad_old_one_is_reported(old):
    post = PostNormDecoderLayer(8, 2, ffn_channels=16)
    state = post.state_dict()
    assert state._metadata['ffn']['version'] == 2
    fresh = PostNormDecoderLayer(8, 2, ffn_channels=16)
    _strict_load(fresh, state)
    # Without version metadata (a converted dict) the new names load as they are.
    _strict_load(fresh, dict(state))
    broken = {k: v for k, v in old['post'].items() if not k.startswith('ffn.3.')}
    broken['ffn.5.weight'], broken['ffn.7.weight'] = torch.zeros(1), torch.zeros(1)
    with pytest.raises(RuntimeError, match='two Linear layers'):
        PostNormDecoderLayer(8, 2, ffn_channels=16).load_state_dict(broken)
