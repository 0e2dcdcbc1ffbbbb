"""tools/analysis_tools/shrunk_locality.py: how local the Shrunk query upsampler's
attention is (docs/toy_dataset.md)."""
import importlib.util
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

from conftest import REPO

TOOL = osp.join(REPO, 'tools', 'analysis_tools', 'shrunk_locality.py')
CONFIG = osp.join(REPO, 'configs', 'segvit', 'segvit-shrunk_vit-toy_1xb8-2k_toy-64x64.py')


def load_tool():
    spec = importlib.util.spec_from_file_location('shrunk_locality', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_neighbourhood_maps_the_query_grid_onto_the_key_grid():
    near = load_tool().neighbourhood((8, 8), (4, 4))
    assert near.shape == (64, 16)
    # Query (0, 0) sits on key (0, 0): keys (0..1, 0..1); query (7, 7) on key (3.5, 3.5): (3, 3).
    assert near[0].reshape(4, 4).nonzero().tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert near[63].reshape(4, 4).nonzero().tolist() == [[3, 3]]
    same = load_tool().neighbourhood((8, 8), (8, 8))
    assert same.sum(1).tolist()[:3] == [4, 6, 6]  # corner, edge: clipped 3x3


def test_uniform_attention_gives_the_uniform_mass_and_position_keys_raise_it():
    tool = load_tool()
    cfg = Config.fromfile(CONFIG)
    head = MODELS.build(cfg.model.decode_head)
    head.init_weights()
    head.eval()
    features = [torch.randn(2, 64, 8, 8), torch.randn(2, 64, 4, 4)]
    with torch.no_grad():
        head.upsampler.grid.zero_()  # zero queries -> zero logits (zero biases) -> uniform
    # The first layer sees zero queries: exactly uniform (later layers' queries are not zero).
    first = tool.qu_locality(head, features)[0]
    assert first.mass == pytest.approx(first.uniform, abs=1e-6)
    # Queries that equal the keys of their own position (identity projections, no
    # self-attention update): the first layer's attention peaks there.
    layer = head.upsampler.stages[0][0]
    with torch.no_grad():
        layer.self_attn.out_proj.weight.zero_()
        layer.self_attn.out_proj.bias.zero_()
        layer.cross_attn.q_proj.weight.copy_(3 * torch.eye(64))
        layer.cross_attn.k_proj.weight.copy_(3 * torch.eye(64))
        head.laterals[0].proj.weight.copy_(torch.eye(64))
        head.laterals[0].proj.bias.zero_()
        position = torch.randn(1, 64, 8, 8)
        head.upsampler.grid.copy_(position)
    first = tool.qu_locality(head, [position.expand(2, -1, -1, -1), features[1]])[0]
    assert first.mass > 4 * first.uniform
