"""The ONNX file's contract and the clear errors around it (fast: a hand-made
one-node ONNX graph, no export)."""
import json

import onnx
import pytest
import torch
from onnx import TensorProto, helper

from depict.deploy.onnx import (METADATA_KEY, read_contract, use_onnx_window,
                                without_weight_loading)

from deploy_variants import build


def identity_onnx(path, contract=None):
    """image (N, 3, H, W) -> logits = image: enough to load a session."""
    graph = helper.make_graph(
        [helper.make_node('Identity', ['image'], ['logits'])], 'identity',
        [helper.make_tensor_value_info('image', TensorProto.FLOAT, ['N', 3, 'H', 'W'])],
        [helper.make_tensor_value_info('logits', TensorProto.FLOAT, ['N', 3, 'H', 'W'])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 18)])
    model.ir_version = 8
    if contract is not None:
        entry = model.metadata_props.add()
        entry.key, entry.value = METADATA_KEY, json.dumps(contract)
    onnx.save_model(model, str(path))
    return str(path)


def toy_contract(**changes):
    contract = dict(dynamic=True, export_shape=[64, 64], mean=[127.5] * 3, std=[127.5] * 3)
    contract.update(changes)
    return contract


def test_file_without_contract_names_the_tool(tmp_path):
    with pytest.raises(ValueError, match='pytorch2onnx.py'):
        read_contract(identity_onnx(tmp_path / 'plain.onnx'))


def test_file_of_another_config_is_refused(tmp_path):
    path = identity_onnx(tmp_path / 'm.onnx', toy_contract(mean=[123.675, 116.28, 103.53]))
    with pytest.raises(ValueError, match='exported from'):
        use_onnx_window(build('segmenter'), path)


def test_static_export_refuses_other_windows_and_runs_its_own(tmp_path):
    path = identity_onnx(tmp_path / 'm.onnx', toy_contract(dynamic=False, export_shape=[32, 48]))
    segmentor = build('segmenter')
    use_onnx_window(segmentor, path)
    assert not segmentor.data_preprocessor._enable_normalize  # the graph normalises
    with pytest.raises(ValueError, match='--dynamic'):
        segmentor.encode_decode(torch.zeros(1, 3, 40, 48), [{}])
    # A batch of windows of the export size runs one window at a time.
    windows = torch.rand(3, 3, 32, 48)
    assert torch.equal(segmentor.encode_decode(windows, [{}]), windows)


def test_without_weight_loading_strips_every_download():
    cfg = dict(pretrained='open-mmlab://x', backbone=dict(
        type='TimmViT', pretrained=True, checkpoint_file='w.safetensors',
        init_cfg=dict(type='Pretrained', checkpoint='a.pth')),
        decode_head=dict(init_cfg=dict(type='TruncNormal')))
    without_weight_loading(cfg)
    assert cfg['pretrained'] is None
    assert cfg['backbone'] == dict(type='TimmViT', pretrained=False, checkpoint_file=None,
                                   init_cfg=None)
    assert cfg['decode_head']['init_cfg'] == dict(type='TruncNormal')


@pytest.mark.parametrize('stock,fix', [
    ('VisionTransformer', 'FusedVisionTransformer'),
    ('SwinTransformer', 'TwoPathwaySwinTransformer'),
])
def test_dynamic_export_refuses_mmseg_size_branches(tmp_path, stock, fix):
    """mmseg's stock ViT / Swin keep a branch on the input size: a --dynamic
    export names the module and the class to use, before any tracing, and
    writes no file."""
    from mmseg.models import backbones

    from depict.deploy.onnx import check_size_generic, export_onnx
    kwargs = dict(embed_dims=16, num_heads=2) if stock == 'VisionTransformer' else dict(
        embed_dims=16, depths=(1, 1), num_heads=(1, 2), strides=(4, 2), out_indices=(0, 1))
    if stock == 'VisionTransformer':
        kwargs.update(img_size=(32, 32), patch_size=8, num_layers=1)
    model = build('segmenter')
    model.backbone = getattr(backbones, stock)(**kwargs)
    with pytest.raises(ValueError, match=f"backbone is mmseg's {stock}.*{fix}"):
        check_size_generic(model)
    out = tmp_path / 'model.onnx'
    with pytest.raises(ValueError, match=fix):
        export_onnx(model, str(out), shape=(64, 64), dynamic=True)
    assert not out.exists()


def test_project_backbones_pass_the_size_branch_check():
    from depict.deploy.onnx import check_size_generic
    for backbone in ('toy', 'swin'):
        check_size_generic(build('segmenter', backbone))
