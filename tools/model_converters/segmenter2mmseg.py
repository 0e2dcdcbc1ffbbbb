"""Convert an official Segmenter or DEPICT checkpoint to a depict (mmseg 1.x) checkpoint.

    python tools/model_converters/segmenter2mmseg.py SRC DST [--variant variant.yml]
        [--num-heads N] [--decoder-heads N]

SRC is the released ``checkpoint.pth`` (rstrudel/segmenter or QishuaiWen/DEPICT:
a dict whose ``model`` entry is the ``Segmenter`` state dict). The decoder
(Segmenter mask transformer, DEPICT-SA or DEPICT-CA) is told apart by its keys.
DST is written as ``{'state_dict', 'meta'}`` (meta: the dataset's classes and
palette, the converter and the source) and loads with ``strict=True`` into the
model of the matching config. With ``--variant`` (the ``variant.yml`` the
authors ship beside each checkpoint; default: the one next to SRC, if any) the
architecture is checked against it and the official test settings are printed.
The head counts are not in the tensors: they come from ``variant.yml``, else
``--num-heads`` / ``--decoder-heads`` (which also override the variant), else the
official rule (width / 64).

Example (Seg-T-Mask/16, ADE20K):

    python tools/model_converters/segmenter2mmseg.py \\
        seg_tiny_mask/checkpoint.pth checkpoints/seg_tiny_mask.pth \\
        --variant seg_tiny_mask/variant.yml

The conversion itself lives in :mod:`depict.converters.segmenter`.
"""
import argparse
import json
import os
import os.path as osp
import sys

import torch


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert an official Segmenter / DEPICT checkpoint to depict (mmseg) keys')
    parser.add_argument('src', help='official checkpoint.pth')
    parser.add_argument('dst', help='output .pth file')
    parser.add_argument('--variant', help='the variant.yml shipped with the checkpoint '
                        '(default: variant.yml next to SRC, if present)')
    parser.add_argument('--num-heads', type=int,
                        help='attention heads of the ViT encoder (not in the tensors; '
                        'default: variant.yml, else width / 64)')
    parser.add_argument('--decoder-heads', type=int,
                        help="attention heads of Segmenter's mask transformer (default: "
                        'variant.yml, else width / 64; DEPICT reads them from the tensors)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    sys.path.insert(0, repo)
    import depict  # noqa: F401  safe checkpoint loading, dataset registry
    from depict.converters.official import ConversionError, load_official_checkpoint
    from depict.converters.segmenter import (convert_segmenter_checkpoint, read_variant,
                                             required_options, suggest_config)

    variant_path = args.variant
    if variant_path is None and osp.isfile(osp.join(osp.dirname(args.src), 'variant.yml')):
        variant_path = osp.join(osp.dirname(args.src), 'variant.yml')
    try:
        variant = read_variant(variant_path) if variant_path else None
        ckpt = load_official_checkpoint(args.src)
        out = convert_segmenter_checkpoint(ckpt, variant, source=osp.abspath(args.src),
                                           num_heads=args.num_heads,
                                           decoder_heads=args.decoder_heads)
    except ConversionError as err:
        raise SystemExit(f'error: {err}') from None
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save(out, args.dst)
    meta = out['meta']
    arch, settings = meta['architecture'], meta['official_test']
    num_params = sum(v.numel() for v in out['state_dict'].values())
    print(f'wrote {args.dst}: {arch["format"]}, {len(out["state_dict"])} tensors, '
          f'{num_params / 1e6:.2f} M parameters, {arch["num_classes"]} classes')
    print('architecture: ' + json.dumps(arch))
    if variant is None:
        if args.num_heads is None:
            print('no variant.yml: encoder heads assumed width / 64 (the official ViTs); '
                  'pass --variant (or --num-heads) to state them')
        print('no variant.yml: pass --variant to check the architecture and get the test '
              'settings')
    config = suggest_config(arch, settings['dataset'], root=repo)
    print(f'config: {config or "none here for this backbone / dataset / resolution"}')
    print('official test settings (segm/eval/miou.py): short side resized to '
          f'{settings["resize_short_side"]}, views smaller than the window upsampled to '
          f'{settings["window_size"]}; sliding window {settings["window_size"]}, stride '
          f'{settings["window_stride"]}')
    print('options that make the config compute the official function: --cfg-options '
          + ' '.join(required_options(arch)))
    if config:
        print(f'test: python tools/test.py {config} {args.dst} --cfg-options '
              + ' '.join(required_options(arch)))


if __name__ == '__main__':
    main()
