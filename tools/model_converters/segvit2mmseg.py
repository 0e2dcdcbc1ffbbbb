"""Convert an official SegViT checkpoint (zbwxp/SegVit, mmseg 0.24) to a depict checkpoint.

    python tools/model_converters/segvit2mmseg.py SRC DST [--config OFFICIAL_CONFIG.py]
        [--num-heads N] [--out-indices I [I ...]] [--decoder-heads N] [--shrink-index N]

SRC is a released mmseg 0.x checkpoint (``state_dict`` + ``meta``) of SegViT: the
ATM head (-> ``ATMHead``) or Shrunk (QD backbone + query-upsampling head ->
``ShrunkVisionTransformer`` + ``ShrunkATMHead``), told apart by the keys. DST is
written as ``{'state_dict', 'meta'}`` and loads with ``strict=True`` into the
matching ``configs/segvit`` config. Packed attention projections are split into
q / k / v, Shrunk's query grid ``q.weight`` (h*w, C) becomes the grid parameter,
the loss buffers are dropped; unknown or missing tensors are an error listing them.

The tensors do not tell the head counts, which backbone layers the decoder
stages read, or where Shrunk downsamples: they are read from the config text
that mmseg 0.x stores in the checkpoint's ``meta``. For a checkpoint without it
(re-saved without meta), state them with ``--config`` (the official config file
the checkpoint was trained with, in a clone of zbwxp/SegVit so that its
``_base_`` files resolve) or the explicit options, which take precedence over
both the file and the meta.

Example (a ViT-L ATM checkpoint saved without its meta):

    python tools/model_converters/segvit2mmseg.py ade_54.6_nometa.pth \\
        checkpoints/segvit_l_ade.pth --out-indices 7 15 23

The conversion itself lives in :mod:`depict.converters.segvit`.
"""
import argparse
import json
import os
import os.path as osp
import sys

import torch


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Convert an official SegViT checkpoint')
    parser.add_argument('src', help='official SegViT .pth (mmseg 0.x)')
    parser.add_argument('dst', help='output .pth file')
    parser.add_argument('--config', metavar='OFFICIAL_CONFIG.py',
                        help='the official config of the checkpoint (zbwxp/SegVit configs/'
                        'segvit/...): heads, out_indices and shrink_idx are read from it '
                        'instead of the meta')
    parser.add_argument('--num-heads', type=int, help='attention heads of the ViT')
    parser.add_argument('--out-indices', type=int, nargs='+', metavar='I',
                        help='backbone layers (0-based) the decoder stages read, one per stage')
    parser.add_argument('--decoder-heads', type=int,
                        help='attention heads of the ATM decoder layers')
    parser.add_argument('--shrink-index', type=int,
                        help='Shrunk: the backbone layer after which the tokens are shrunk '
                        '(the official shrink_idx)')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    import depict  # noqa: F401  safe checkpoint loading, dataset registry
    from depict.converters.official import ConversionError, load_official_checkpoint
    from depict.converters.segvit import convert_segvit_checkpoint, read_official_config
    explicit = dict(num_heads=args.num_heads, decoder_heads=args.decoder_heads,
                    shrink_index=args.shrink_index,
                    out_indices=tuple(args.out_indices) if args.out_indices else None)
    try:
        stated = read_official_config(args.config) if args.config else {}
        stated.update({k: v for k, v in explicit.items() if v is not None})
        out = convert_segvit_checkpoint(load_official_checkpoint(args.src),
                                        source=osp.abspath(args.src), stated=stated)
    except ConversionError as err:
        raise SystemExit(f'error: {err}') from None
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save(out, args.dst)
    arch, sources = out['meta']['architecture'], out['meta']['architecture_sources']
    num_params = sum(v.numel() for v in out['state_dict'].values())
    print(f'wrote {args.dst}: {arch["format"]}, {len(out["state_dict"])} tensors, '
          f'{num_params / 1e6:.2f} M parameters, {arch["num_classes"]} classes')
    print('architecture: ' + json.dumps(arch))
    if args.config:
        sources = {k: (f'--config {args.config}' if v == 'stated' and explicit[k] is None
                       else v) for k, v in sources.items()}
    print('not in the tensors: ' + ', '.join(f'{k}={json.dumps(arch[k])} ({v})'
                                           for k, v in sources.items()))
    assumed = [k for k, v in sources.items() if v == 'official default']
    if assumed:
        print(f'assumed as in the official models: {", ".join(assumed)}; if this checkpoint '
              'differs, state them (--config or --num-heads / --out-indices / '
              '--decoder-heads / --shrink-index)')
    print('official test: slide window = training crop, stride 341 (ViT-B/512) or 608 '
          '(ViT-L/640, 480 crops: 320); see docs/model_zoo.md')


if __name__ == '__main__':
    main()
