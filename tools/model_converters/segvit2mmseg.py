"""Convert an official SegViT checkpoint (zbwxp/SegVit, mmseg 0.24) to a depict checkpoint.

    python tools/model_converters/segvit2mmseg.py SRC DST

SRC is a released mmseg 0.x checkpoint (``state_dict`` + ``meta``) of SegViT: the
ATM head (-> ``ATMHead``) or Shrunk (QD backbone + query-upsampling head ->
``ShrunkVisionTransformer`` + ``ShrunkATMHead``), told apart by the keys. DST is
written as ``{'state_dict', 'meta'}`` and loads with ``strict=True`` into the
matching ``configs/segvit`` config. Packed attention projections are split into
q / k / v, Shrunk's query grid ``q.weight`` (h*w, C) becomes the grid parameter,
the loss buffers are dropped; unknown or missing tensors are an error listing them.

The conversion itself lives in :mod:`depict.converters.segvit`.
"""
import argparse
import json
import os
import os.path as osp
import sys

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description='Convert an official SegViT checkpoint')
    parser.add_argument('src', help='official SegViT .pth (mmseg 0.x)')
    parser.add_argument('dst', help='output .pth file')
    args = parser.parse_args()
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    import depict  # noqa: F401  safe checkpoint loading, dataset registry
    from depict.converters.official import ConversionError, load_official_checkpoint
    from depict.converters.segvit import convert_segvit_checkpoint
    try:
        out = convert_segvit_checkpoint(load_official_checkpoint(args.src),
                                        source=osp.abspath(args.src))
    except ConversionError as err:
        raise SystemExit(f'error: {err}') from None
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save(out, args.dst)
    arch = out['meta']['architecture']
    num_params = sum(v.numel() for v in out['state_dict'].values())
    print(f'wrote {args.dst}: {arch["format"]}, {len(out["state_dict"])} tensors, '
          f'{num_params / 1e6:.2f} M parameters, {arch["num_classes"]} classes')
    print('architecture: ' + json.dumps(arch))
    print('official test: slide window = training crop, stride 341 (ViT-B/512) or 608 '
          '(ViT-L/640, 480 crops: 320); see docs/model_zoo.md')


if __name__ == '__main__':
    main()
