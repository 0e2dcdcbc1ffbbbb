"""Convert an official EoMT checkpoint (tue-mps/eomt) to a depict checkpoint.

    python tools/model_converters/eomt2mmseg.py SRC DST [--num-heads N] [--dataset NAME]
        [--dinov3-weights DINOV3.safetensors]

SRC is a released ``pytorch_model.bin`` of the official model zoo (or a
Lightning ``.ckpt`` of the official code): DINOv2 (timm) encoders, or DINOv3
(Hugging Face) encoders, mapped to timm's DINOv3. The DINOv3 zoo files are
deltas against the DINOv3 weights: give them with ``--dinov3-weights`` (the
Hugging Face ``model.safetensors`` of the matching DINOv3 model). DST is
written as ``{'state_dict', 'meta'}`` and loads with ``strict=True`` into the
matching ``configs/eomt`` config (the ``architecture`` printed, and stored in
the meta, gives the model fields). Unknown tensors are an error listing them.

The conversion itself lives in :mod:`depict.converters.eomt`.
"""
import argparse
import json
import os
import os.path as osp
import sys

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description='Convert an official EoMT checkpoint')
    parser.add_argument('src', help='official EoMT pytorch_model.bin or Lightning .ckpt')
    parser.add_argument('dst', help='output .pth file')
    parser.add_argument('--num-heads', type=int, default=None,
                        help='attention heads of the ViT (default: width / 64, as every '
                        'ViT of the official zoo)')
    parser.add_argument('--dataset', default=None,
                        help='dataset name for the class names in the meta (ade20k, '
                        'cityscapes...; default: from the number of classes)')
    parser.add_argument('--dinov3-weights', default=None,
                        help='the DINOv3 weights (Hugging Face DINOv3ViTModel .safetensors '
                        'or .bin) that a DINOv3 zoo checkpoint is a delta against')
    args = parser.parse_args()
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    import depict  # noqa: F401  safe checkpoint loading, dataset registry
    from depict.converters.eomt import convert_eomt_checkpoint, model_overrides
    from depict.converters.official import ConversionError, load_official_checkpoint
    try:
        base = None
        if args.dinov3_weights:
            if args.dinov3_weights.endswith('.safetensors'):
                from safetensors.torch import load_file
                base = load_file(args.dinov3_weights)
            else:
                base = load_official_checkpoint(args.dinov3_weights)
        out = convert_eomt_checkpoint(load_official_checkpoint(args.src),
                                      source=osp.abspath(args.src), num_heads=args.num_heads,
                                      dataset=args.dataset, dinov3_weights=base)
    except ConversionError as err:
        raise SystemExit(f'error: {err}') from None
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    torch.save(out, args.dst)
    arch = out['meta']['architecture']
    num_params = sum(v.numel() for v in out['state_dict'].values())
    print(f'wrote {args.dst}: {arch["format"]}, {len(out["state_dict"])} tensors, '
          f'{num_params / 1e6:.2f} M parameters, {arch["num_classes"]} classes')
    print('architecture: ' + json.dumps(arch))
    print('model fields: ' + json.dumps(model_overrides(arch)))
    print('official test: no attention masks, the last block\'s prediction (docs/eomt.md)')


if __name__ == '__main__':
    main()
