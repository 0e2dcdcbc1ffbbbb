"""Count a segmentor's parameters (whole model / backbone / heads) and the decoder's FLOPs.

Usage::

    python tools/analysis_tools/count_params.py CONFIG [--decoder-flops H W] \
        [--cfg-options KEY=VALUE ...]

Builds the config's model with ``pretrained=None`` (no weights needed) and
prints the parameter count of the whole model and of each top-level part
(backbone, neck, decode head, auxiliary head). ``--decoder-flops H W`` also
counts the decode head's FLOPs on the feature map the backbone produces for an
H×W image (grid H/patch × W/patch, e.g. 40×40 for ViT-L/16 at 640×640), with
mmengine's counter plus a handle for ``F.scaled_dot_product_attention``
(1 FLOP = 1 multiply-accumulate, fvcore style; see ``depict/utils/flops.py``).
"""
import argparse

import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Count parameters (and decoder FLOPs)')
    parser.add_argument('config', help='config file path')
    parser.add_argument('--decoder-flops', nargs=2, type=int, metavar=('H', 'W'),
                        help='also count the decode head FLOPs for an HxW input image')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, e.g. model.decode_head.num_layers=2')
    return parser.parse_args()


def millions(count: float) -> str:
    return f'{int(count):>13,d}  ({count / 1e6:8.3f} M)'


def main() -> None:
    args = parse_args()
    cfg = Config.fromfile(args.config)  # custom_imports registers depict
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.model.pretrained = None
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    from mmseg.registry import MODELS
    model = MODELS.build(cfg.model)
    model.eval()  # mmseg's VisionTransformer.train() returns None: do not chain

    print(f'config: {args.config}')
    print(f'{"model":<16}{millions(sum(p.numel() for p in model.parameters()))}')
    for name, child in model.named_children():
        count = sum(p.numel() for p in child.parameters())
        if count:
            print(f'{name:<16}{millions(count)}')

    if args.decoder_flops:
        from depict.utils.flops import count_flops
        height, width = args.decoder_flops
        with torch.no_grad():
            feats = model.extract_feat(torch.zeros(1, 3, height, width))
            shapes = [tuple(f.shape) for f in feats]
            flops, _ = count_flops(model.decode_head, (list(feats), ))
        print(f'decode_head FLOPs at {height}x{width} (features {shapes}): '
              f'{flops / 1e9:.3f} G (multiply-accumulates, fvcore/mmengine style)')


if __name__ == '__main__':
    main()
