"""Convert a timm / AugReg ViT checkpoint to mmseg's ``VisionTransformer`` keys.

    python tools/model_converters/vit2mmseg.py SRC DST [--img-size H [W]]

SRC is a downloaded ``.npz`` (AugReg / vit_jax or big_vision layout),
``.safetensors``, ``.pth`` or ``.bin`` file, or ``timm:<model name>`` to
download the weights through timm (needs network access). DST is written as
``{'state_dict', 'meta'}``; set it as ``model.pretrained`` in a config.
Without ``--img-size`` the stored position grid is kept (mmseg resizes a
square grid to the config's ``img_size`` when it loads the file).

Example (the file the ViT-B configs expect):

    python tools/model_converters/vit2mmseg.py \\
        timm:vit_base_patch16_384.augreg_in21k_ft_in1k \\
        data/pretrain/vit_base_patch16_384.augreg_in21k_ft_in1k.pth

The conversion itself lives in :mod:`depict.converters.vit`.
"""
import argparse
import json
import os
import os.path as osp

import torch


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert timm / AugReg ViT weights to mmseg VisionTransformer keys')
    parser.add_argument('src', help='.npz / .safetensors / .pth / .bin file, or timm:<model name>')
    parser.add_argument('dst', help='output .pth file')
    parser.add_argument('--img-size', type=int, nargs='+', metavar=('H', 'W'),
                        help='resize the position embedding to this image size '
                        '(default: keep the stored grid)')
    parser.add_argument('--source-grid', type=int, nargs=2, metavar=('H', 'W'),
                        help='patch grid of the stored position embedding, only needed '
                        'if it is not square')
    parser.add_argument('--interpolation', default='bicubic',
                        choices=['bicubic', 'bilinear', 'nearest'],
                        help='position-embedding interpolation (mmseg configs use bicubic)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    from depict.converters.vit import convert_vit_checkpoint
    if args.img_size is not None and len(args.img_size) > 2:
        raise SystemExit('--img-size takes H or H W')
    ckpt = convert_vit_checkpoint(args.src, img_size=args.img_size, source_grid=args.source_grid,
                                  interpolation=args.interpolation)
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save(ckpt, args.dst)
    meta = ckpt['meta']
    num_params = sum(v.numel() for v in ckpt['state_dict'].values())
    print(f'wrote {args.dst}: {len(ckpt["state_dict"])} tensors, {num_params / 1e6:.2f} M '
          f'parameters, position grid {meta["source_grid"]} -> {meta["grid"]}')
    print('backbone arguments these weights need:')
    print(json.dumps(meta['backbone_cfg'], indent=2))


if __name__ == '__main__':
    main()
