"""Export a trained segmentor to ONNX: ``python tools/deployment/pytorch2onnx.py
CONFIG CHECKPOINT --out FILE.onnx [--shape H W] [--dynamic] [--opset N] [--verify]``.

The graph is the model's window forward: the RGB image as float32 (N, 3, H, W),
values 0-255, in; the config's mean / std, the backbone, the decode head and the
resize to the input size inside; logits (N, classes, H, W) out. The contract is
written into the model's metadata (key ``depict``). ``--dynamic`` makes N, H
and W symbolic (any size, non-square, not a multiple of the patch size; for
BEiT, which runs at its ``img_size`` only, N alone); without it the graph
accepts (1, 3, H, W) at ``--shape`` only (default: the config's window,
``test_cfg.crop_size`` or the preprocessor's ``size``).

``--verify`` runs ONNX Runtime on the export shape and (with dynamic height and
width) on one other, non-square shape, compares with PyTorch, prints the max
relative difference (max |ONNX - PyTorch| / max |PyTorch|) and the arg max agreement,
and exits with status 1 above 1e-4 or below 99.9 %.

Running the file: docs/deployment.md (plain ONNX Runtime, or the config's test
loop with tools/deployment/test_onnx.py). Needs ``pip install -e ".[deploy]"``.
"""
import argparse
import sys

from mmengine.config import DictAction


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Export a segmentor to ONNX')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', required=True, help='the .onnx file to write')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help="size traced at (default: the config's window)")
    parser.add_argument('--dynamic', action='store_true',
                        help='symbolic batch, height and width')
    parser.add_argument('--opset', type=int, default=None,
                        help="ONNX opset (default: PyTorch's exporter default)")
    parser.add_argument('--verify', action='store_true',
                        help='compare ONNX Runtime with PyTorch; exit 1 on a mismatch')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings')
    args = parser.parse_args(argv)
    if args.shape is not None and min(args.shape) < 1:
        parser.error(f'--shape H W must be positive, got {args.shape}')
    return args


def default_shape(segmentor) -> tuple[int, int]:
    """The config's window: slide ``crop_size``, else the preprocessor's ``size``, else 512."""
    test_cfg = segmentor.test_cfg or {}
    if test_cfg.get('mode') == 'slide' and test_cfg.get('crop_size'):
        return tuple(int(s) for s in test_cfg['crop_size'])
    size = getattr(segmentor.data_preprocessor, 'size', None)
    return tuple(int(s) for s in size) if size else (512, 512)


def other_shape(shape) -> tuple[int, int]:
    """A second, non-square size that is no multiple of common patch sizes."""
    height, width = shape
    return max(16, height * 3 // 4 + 3), width + 13


def main(argv=None) -> int:
    args = parse_args(argv)
    from depict.deploy.onnx import export_onnx, input_shape, load_segmentor, verify_onnx
    segmentor = load_segmentor(args.config, args.checkpoint, cfg_options=args.cfg_options)
    shape = tuple(args.shape) if args.shape else default_shape(segmentor)
    info = export_onnx(segmentor, args.out, shape=shape, dynamic=args.dynamic,
                       opset=args.opset, config=args.config)
    print(f'wrote {args.out}: input {describe_input(info)}')
    if not args.verify:
        return 0
    # A second size where the graph's height and width are dynamic (not for a
    # fixed-size backbone such as BEiT: the contract's shape holds numbers).
    sizes_dynamic = isinstance(input_shape(info)[2], str)
    shapes = [shape, other_shape(shape)] if sizes_dynamic else [shape]
    failed = False
    for result in verify_onnx(args.out, segmentor, shapes):
        status = 'ok' if result.ok else 'MISMATCH'
        print(f"verify {result['shape'][0]}x{result['shape'][1]}: max relative difference "
              f"{result['max_rel']:.2e}, argmax agreement {100 * result['agreement']:.3f} % "
              f'[{status}]')
        failed |= not result.ok
    if failed:
        print('ONNX Runtime differs from PyTorch beyond 1e-4 relative / 99.9 % agreement',
              file=sys.stderr)
        return 1
    return 0


def describe_input(info: dict) -> str:
    spec = info['input']
    shape = 'x'.join(str(s) for s in spec['shape'])
    return (f"{spec['name']} {spec['dtype']} {spec['layout']} {shape}, {spec['channels']} "
            f"0-255 (mean {info['mean']}, std {info['std']} applied in the graph)")


if __name__ == '__main__':
    sys.exit(main())
