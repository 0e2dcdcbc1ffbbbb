"""tools/analysis_tools/depict_ca_queries.py: DEPICT-CA class-embedding statistics."""
import importlib.util
import os.path as osp

import pytest
import torch
from mmseg.registry import MODELS

from conftest import REPO

TOOL = osp.join(REPO, 'tools', 'analysis_tools', 'depict_ca_queries.py')


def load_tool():
    spec = importlib.util.spec_from_file_location('depict_ca_queries', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_head():
    head = MODELS.build(dict(type='DepictCAHead', in_channels=32, num_classes=5, num_layers=1,
                             num_heads=2, head_dims=8, num_cross_layers=2, cross_num_heads=2,
                             cross_head_dims=4))
    head.init_weights()
    return head.eval()


def test_zero_step_sizes_leave_only_the_embeddings():
    tool = load_tool()
    head = build_head()
    with torch.no_grad():
        for layer in head.cross_layers:
            layer.attn.eta.zero_()
        head.cls_emb.copy_(torch.eye(5, 32)[None] * 2)  # orthogonal class embeddings
    stats = tool.query_stats(head, [torch.randn(2, 32, 4, 4)])
    assert stats.embedding_norm == pytest.approx(2.0)
    assert stats.shared_update_norm == 0 and stats.specific_update_norm == 0
    # LN of 2·e_c: one 2, 31 zeros -> centred vectors whose pairwise cosine is -1/31.
    assert stats.final_cosine == pytest.approx(-1 / 31, abs=1e-4)


def test_official_init_gives_nearly_identical_final_class_embeddings():
    # E ~ TruncNormal(0, 0.02) is small next to the shared MSCA update, which
    # every class embedding receives alike (docs/toy_dataset.md).
    stats = load_tool().query_stats(build_head(), [torch.randn(2, 32, 4, 4)])
    assert stats.shared_update_norm > 5 * stats.embedding_norm
    assert stats.final_cosine > 0.9
