"""Every decode head on every backbone exports with dynamic batch / height /
width and runs in ONNX Runtime like PyTorch at sizes other than the export size.

Exported at 64x64 (the toy window, a multiple of every patch size here: the
size at which a branch on the input size would be frozen to "no padding,
stored position grid"), then compared on a batch of two at 48x80, 75x53 and
17x9 (non-square; the last two no multiple of the patch; 17x9 is a grid of
three by two patches, or one by one in Swin's last stage): max |ONNX - PyTorch| /
max |PyTorch| <= 1e-4 and >= 99.9 % arg max agreement, the thresholds of
``pytorch2onnx.py --verify``.

mmseg's BEiT runs only at its ``img_size`` (its relative position bias is built
for that grid, in PyTorch as well), so it is compared at the export size, with
a batch of three: a dynamic export of it has a dynamic batch and its own
height and width (in the contract and the graph's input).

Swin is exported at the same 64x64 with window 2: every stage grid (16, 8, 4,
2) is a multiple of the window, and the last stage holds a single window per
axis, the two sizes at which an export used to freeze a branch or not finish.

One export takes 6-40 s of CPU (the whole matrix about 11 minutes on two
cores). Two pairs run by default: the toy ATM (the decoder whose graph was off
by 0.16 relative before its class sum got an export form) and representation
separation on the two-pathway Swin (Swin's padding and window attention and
the pathway's pooling between stages, each of which broke the dynamic export
before it was rewritten); the rest with ``-m slow``.
"""
import pytest

from depict.deploy.onnx import MAX_RELATIVE_ERROR, MIN_ARGMAX_AGREEMENT, export_onnx, verify_onnx

from deploy_variants import BACKBONES, OWN_BACKBONE, TOY, build

EXPORT_SHAPE = (64, 64)
CHECK_SHAPES = [(48, 80), (75, 53), (17, 9)]
DEFAULT = {('atm', 'toy'), ('repsep', 'two-pathway-swin')}
PAIRS = [(decoder, backbone) for decoder in TOY for backbone in BACKBONES
         if backbone == 'toy' or decoder not in OWN_BACKBONE]
PAIRS += [('repsep', 'two-pathway-swin'), ('repsep', 'two-pathway-mit')]
#: Backbones that run at one size only (in PyTorch too).
FIXED_SIZE = {'beit'}
#: Check sizes a backbone cannot run at, in PyTorch too: MiT's first-stage
#: reduction is an 8x8 convolution over the 1/4 grid, wider than 17x9's 5x3.
TOO_SMALL = {'two-pathway-mit': {(17, 9)}}


def _param(pair):
    marks = () if pair in DEFAULT else (pytest.mark.slow, )
    return pytest.param(*pair, id=f'{pair[0]}-{pair[1]}', marks=marks)


@pytest.mark.parametrize('decoder,backbone', [_param(pair) for pair in PAIRS])
def test_dynamic_export_matches_pytorch(tmp_path, decoder, backbone):
    model = build(decoder, backbone)
    path = str(tmp_path / 'model.onnx')
    info = export_onnx(model, path, shape=EXPORT_SHAPE, dynamic=True)
    if backbone in FIXED_SIZE:
        # The batch is dynamic; height and width are the backbone's own.
        assert info['dynamic'] and info['input']['shape'] == ['N', 3, *EXPORT_SHAPE]
        results = verify_onnx(path, model, [EXPORT_SHAPE], batch=3)
    else:
        assert info['dynamic'] and info['input']['shape'] == ['N', 3, 'H', 'W']
        shapes = [shape for shape in CHECK_SHAPES if shape not in TOO_SMALL.get(backbone, ())]
        results = verify_onnx(path, model, shapes, batch=2)
    for result in results:
        assert result['max_rel'] <= MAX_RELATIVE_ERROR, (decoder, backbone, result)
        assert result['agreement'] >= MIN_ARGMAX_AGREEMENT, (decoder, backbone, result)


def test_fixed_size_backbone_exports_a_dynamic_batch(tmp_path):
    """BEiT: the file's input is (N, 3, 64, 64), in the graph as in the
    contract; a batch of three runs; another export size is refused up front."""
    import onnx
    model = build('segmenter', 'beit')
    with pytest.raises(ValueError, match='runs at 64x64 only.*--shape 64 64'):
        export_onnx(model, str(tmp_path / 'wrong.onnx'), shape=(48, 80), dynamic=True)
    assert not (tmp_path / 'wrong.onnx').exists()
    path = str(tmp_path / 'model.onnx')
    export_onnx(model, path, shape=EXPORT_SHAPE, dynamic=True)
    dims = onnx.load(path).graph.input[0].type.tensor_type.shape.dim
    assert [dim.dim_param or dim.dim_value for dim in dims] == ['N', 3, 64, 64]
    (result, ) = verify_onnx(path, model, [EXPORT_SHAPE], batch=3)
    assert result['max_rel'] <= MAX_RELATIVE_ERROR and result['agreement'] == 1.0
