"""BEiT / MAE checkpoint conversion (mmseg's beit2mmseg plus fixes) on tiny
synthetic checkpoints in the official key layout (timm's BEiT and MAE-ViT
modules use the official names), checked by comparing features."""
import re

import pytest
import torch
from mmseg.models.backbones import BEiT, MAE

from conftest import PYTHON, run_tool
from hostile import SYSTEM_GLOBAL, write_hostile_checkpoint
from depict.converters.beit import convert_beit_checkpoint, mmseg_convert_beit

# global_pool='token': the pre-training layout, with a per-token final norm (``norm``).
TINY = dict(embed_dim=32, depth=3, num_heads=2, img_size=64)
MMSEG = dict(img_size=64, embed_dims=32, num_layers=3, num_heads=2, out_indices=(0, 1, 2),
             norm_cfg=dict(type='LN', eps=1e-6), final_norm=True)


def randomised(model):
    torch.manual_seed(0)
    for param in model.parameters():
        param.data.normal_(0, 0.2)
    return model.eval()


def timm_features(model, x):
    """timm's blocks 0..2 without CLS, the last one after the final norm."""
    outs = model.forward_intermediates(x, indices=3, norm=False, output_fmt='NCHW',
                                       intermediates_only=True)
    last = model.norm(outs[-1].permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    return outs[:-1] + [last]


def load(mmseg_model, state):
    mmseg_model.eval()  # mmseg backbones' train() returns None: never chain
    missing, unexpected = mmseg_model.load_state_dict(state, strict=False)
    # mmseg builds these buffers itself (its own Pretrained loading drops them too).
    missing = [k for k in missing if not k.endswith('relative_position_index')]
    return mmseg_model, missing, unexpected


def test_mmseg_converter_alone_leaves_the_defects_we_fix():
    import timm
    beit = timm.create_model('beit_base_patch16_224', global_pool='token', **TINY)
    official = randomised(beit).state_dict()
    raw = mmseg_convert_beit()(official)
    assert 'patch_embed.proj.weight' in raw and 'patch_embed.projection.weight' in raw
    assert 'norm.weight' in raw and 'ln1.weight' not in raw and 'head.weight' in raw


@pytest.mark.parametrize('shared_bias', [False, True])
def test_beit_features_match_after_conversion(shared_bias):
    import timm
    source = randomised(timm.create_model('beit_base_patch16_224', num_classes=5,
                                          global_pool='token', **TINY))
    official = dict(source.state_dict())
    for i in range(3):  # official checkpoints carry these buffers
        official[f'blocks.{i}.attn.relative_position_index'] = torch.zeros(1)
    official['mask_token'] = torch.zeros(1, 1, 32)  # pre-training only
    if shared_bias:
        # Pre-training layout: one table shared by every layer.
        table = official['blocks.0.attn.relative_position_bias_table']
        for i in range(3):
            del official[f'blocks.{i}.attn.relative_position_bias_table']
            source.blocks[i].attn.relative_position_bias_table.data.copy_(table)
        official['rel_pos_bias.relative_position_bias_table'] = table
    state = convert_beit_checkpoint({'model': official})
    model, missing, unexpected = load(BEiT(**MMSEG, init_values=0.1), state)
    assert not missing and not unexpected
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        for ours, ref in zip(model(x), timm_features(source, x)):
            torch.testing.assert_close(ours, ref, atol=1e-4, rtol=1e-4)


def test_mae_features_match_after_conversion():
    import timm
    source = randomised(timm.create_model('vit_base_patch16_224.mae', **TINY))
    official = dict(source.state_dict(), mask_token=torch.zeros(1, 1, 16),
                    **{'decoder_embed.weight': torch.zeros(16, 32)})
    state = convert_beit_checkpoint(official)
    # MAE has no layer scale: gamma = init_values = 1; no relative bias (zeros).
    model, missing, unexpected = load(MAE(**MMSEG, init_values=1.0), state)
    assert not unexpected
    assert {k.rsplit('.', 1)[-1] for k in missing} <= {'gamma_1', 'gamma_2',
                                                       'relative_position_bias_table'}
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        for ours, ref in zip(model(x), timm_features(source, x)):
            torch.testing.assert_close(ours, ref, atol=1e-4, rtol=1e-4)


def test_command_line(tmp_path):
    """tools/model_converters/beit2mmseg.py: a BEiT pre-training file (``model``) loads
    into mmseg's BEiT with no missing or unexpected key and the same features."""
    import timm
    src = tmp_path / 'beit.pth'
    beit = randomised(timm.create_model('beit_base_patch16_224', global_pool='token', **TINY))
    torch.save({'model': beit.state_dict()}, src)
    dst = tmp_path / 'out' / 'beit_mmseg.pth'
    proc = run_tool([PYTHON, 'tools/model_converters/beit2mmseg.py', str(src), str(dst)],
                    fork=True)
    assert "type='BEiT'" in proc.stdout
    saved = torch.load(dst, weights_only=True)
    assert saved['meta']['converter'] == 'tools/model_converters/beit2mmseg.py'
    assert saved['meta']['source'] == 'beit.pth'
    model, missing, unexpected = load(BEiT(**MMSEG), saved['state_dict'])
    assert not missing and not unexpected
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for ours, ref in zip(model(x), timm_features(beit, x)):
            torch.testing.assert_close(ours, ref, atol=1e-4, rtol=1e-4)


def test_command_line_mae_hint_and_refusals(tmp_path):
    """An MAE file gets the MAE hint; a missing or hostile file is a one-line error."""
    import timm
    mae = timm.create_model('vit_base_patch16_224.mae', **TINY)
    src = tmp_path / 'mae.pth'
    torch.save({'model': mae.state_dict()}, src)
    proc = run_tool([PYTHON, 'tools/model_converters/beit2mmseg.py', str(src),
                     str(tmp_path / 'mae_mmseg.pth')], fork=True)
    assert "type='MAE'" in proc.stdout and 'init_values=1.0' in proc.stdout
    missing = run_tool([PYTHON, 'tools/model_converters/beit2mmseg.py',
                        str(tmp_path / 'nope.pth'), str(tmp_path / 'x.pth')],
                       fork=True, check=False)
    assert missing.returncode != 0 and 'nope.pth' in missing.stderr
    assert 'Traceback' not in missing.stderr
    marker = tmp_path / 'code_ran'
    evil = write_hostile_checkpoint(str(tmp_path / 'evil.pth'), str(marker))
    refused = run_tool([PYTHON, 'tools/model_converters/beit2mmseg.py', evil,
                        str(tmp_path / 'y.pth')], fork=True, check=False)
    assert refused.returncode != 0 and re.search(SYSTEM_GLOBAL, refused.stderr)
    assert not marker.exists() and not (tmp_path / 'y.pth').exists()
