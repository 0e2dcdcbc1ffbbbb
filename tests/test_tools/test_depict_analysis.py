"""tools/analysis_tools/depict_analysis.py: its formulas, and end to end on tiny checkpoints."""
import importlib.util
import json
import math
import os.path as osp

import pytest
import torch
from mmseg.registry import MODELS

from conftest import PYTHON, REPO, fast_cfg_options, run_tool

from depict.datasets import TOY_CLASSES

TOOL = osp.join(REPO, 'tools', 'analysis_tools', 'depict_analysis.py')
TRAIN = osp.join(REPO, 'tools', 'train.py')
CONFIGS = {v: osp.join(REPO, 'configs', 'depict', f'depict-{v}_vit-toy_1xb8-2k_toy-64x64.py')
           for v in ('sa', 'ca')}


def load_tool():
    spec = importlib.util.spec_from_file_location('depict_analysis_tool', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_coding_rate_and_gram_error_formulas():
    tool = load_tool()
    z = torch.randn(7, 5)
    for eps in (0.3, 1.0):
        expected = 0.5 * torch.logdet(torch.eye(5, dtype=torch.float64)
                                      + 5 / (7 * eps**2) * z.double().T @ z.double())
        assert math.isclose(tool.coding_rate(z, eps), expected.item(), rel_tol=1e-9)
        # N < d takes the N×N Gram: same value (Sylvester's determinant identity).
        zt = z.T.contiguous()  # (5, 7): N=5 < d=7
        expected_t = 0.5 * torch.logdet(torch.eye(7, dtype=torch.float64)
                                        + 7 / (5 * eps**2) * zt.double().T @ zt.double())
        assert math.isclose(tool.coding_rate(zt, eps), expected_t.item(), rel_tol=1e-9)
    q, _ = torch.linalg.qr(torch.randn(6, 4, dtype=torch.float64))
    assert tool.gram_error(q.T) < 1e-12  # orthonormal rows
    assert math.isclose(tool.gram_error(2 * q.T), math.sqrt(4 * 9) / 2)  # ‖3I‖_F / ‖I‖_F


@pytest.mark.parametrize('head_cfg', [
    dict(type='DepictSAHead', num_layers=2, num_heads=2, head_dims=4),
    dict(type='DepictCAHead', num_layers=1, num_heads=2, head_dims=4, num_cross_layers=2),
    dict(type='SegmenterMaskTransformerHead', channels=16, num_layers=2, num_heads=2,
         embed_dims=16),
], ids=lambda c: c['type'])
def test_hooks_find_tokens_and_class_embeddings(head_cfg):
    tool = load_tool()
    head = MODELS.build(dict(head_cfg, in_channels=16, num_classes=3)).eval()
    seen = {}

    def keep(label, select):
        def _keep(tokens):
            seen.setdefault(label, tuple(select(tokens).shape))  # hooks must return None
        return _keep

    for label, module, when, select in tool.token_taps(head):
        fn = keep(label, select)
        if when == 'pre':
            module.register_forward_pre_hook(lambda m, a, fn=fn: fn(a[0]))
        else:
            module.register_forward_hook(lambda m, a, o, fn=fn: fn(o))
    module, select = tool.final_class_embedding_hook(head)
    fn = keep('classes', select)
    module.register_forward_hook(lambda m, a, o: fn(o))
    head([torch.randn(2, 16, 3, 4)])
    assert seen.pop('classes') == (2, 3, 16)
    for label, shape in seen.items():
        # Patch tokens (h*w = 12) or, after MSCA layers, the class queries.
        assert shape == ((2, 3, 16) if label.startswith('cross') else (2, 12, 16)), label
    assert 'input' in seen and 'layer1' in seen


@pytest.fixture(scope='module')
def tiny_checkpoints(tiny_toy_root, tmp_path_factory):
    """DEPICT-CA trained 3 iterations by tools/train.py; DEPICT-SA saved at init (faster)."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    work = tmp_path_factory.mktemp('analysis_ckpts')
    run_tool([PYTHON, TRAIN, CONFIGS['ca'], '--work-dir', str(work / 'ca'), '--cfg-options',
              *fast_cfg_options(tiny_toy_root, iters=3)], fork=True)
    init_default_scope('mmseg')
    model = MODELS.build(Config.fromfile(CONFIGS['sa']).model)
    model.init_weights()
    torch.save(dict(meta=dict(), state_dict=model.state_dict()), str(work / 'sa.pth'))
    return dict(ca=str(work / 'ca' / 'iter_3.pth'), sa=str(work / 'sa.pth'))


def test_end_to_end_on_tiny_checkpoints(tiny_checkpoints, tiny_toy_root, tmp_path):
    out = tmp_path / 'analysis'
    data_opts = [f'{loader}.dataset.data_root={tiny_toy_root}'
                 for loader in ('val_dataloader', 'test_dataloader')]
    proc = run_tool([
        PYTHON, TOOL, CONFIGS['sa'], tiny_checkpoints['sa'], '--out', str(out),
        '--compare', CONFIGS['ca'], tiny_checkpoints['ca'], '--labels', 'SA', 'CA',
        '--eps', '0.5', '1.0', '--sigmas', '0', '0.05', '--noise-repeats', '1',
        '--max-images', '2', '--cfg-options', *data_opts], fork=True)
    assert 'wrote' in proc.stdout
    for name in ('orthogonality.png', 'class_gram.png', 'coding_rate.png',
                 'noise_robustness.png'):
        assert (out / name).stat().st_size > 5000, name
    report = json.loads((out / 'analysis.json').read_text())
    sa, ca = report['models']
    assert [sa['label'], ca['label']] == ['SA', 'CA']
    # Orthogonality: one entry per operator, one per head, finite errors.
    assert set(sa['projections']) == {f'layers.{i}.attn' for i in range(3)}
    assert {f'cross_layers.{i}.attn' for i in range(3)} <= set(ca['projections'])
    layer = sa['projections']['layers.0.attn']
    assert len(layer['heads']) == layer['num_heads'] == 2 and layer['error'] >= 0
    assert 0 <= sa['final_class_embeddings']['cosine_error_of_mean_gram']
    # Coding rate: input + 3 layers (SA); + 3 cross layers (CA); for each ε.
    assert list(sa['coding_rate']['0.5']) == ['input', 'layer1', 'layer2', 'layer3']
    assert list(ca['coding_rate']['1.0'])[-1] == 'cross3'
    assert all(v > 0 for v in sa['coding_rate']['1.0'].values())
    # Noise curve: σ = 0 is the clean mIoU.
    assert [c['sigma'] for c in ca['noise']] == [0.0, 0.05]
    assert sa['noise'][0]['miou_mean'] == sa['miou']
    assert report['settings']['max_images'] == 2
    # --compare: every model in every figure, on shared scales, class names on the Grams.
    layout = report['figure_layout']
    assert set(layout) == {'orthogonality.png', 'class_gram.png', 'coding_rate.png',
                           'noise_robustness.png'}
    assert all(info['models'] == ['SA', 'CA'] for info in layout.values())
    assert layout['class_gram.png']['clim'] == [-1.0, 1.0]
    assert layout['class_gram.png']['class_ticks'] == list(TOY_CLASSES)
    vmax = layout['orthogonality.png']['clim'][1]
    assert vmax > 0 and math.isfinite(vmax)
    low, high = layout['coding_rate.png']['ylim']
    rates = [v for m in (sa, ca) for per in m['coding_rate'].values() for v in per.values()]
    assert low <= min(rates) and max(rates) <= high  # one axis holds both models
