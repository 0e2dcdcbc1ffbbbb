"""Count a segmentor's parameters: whole model, backbone, neck, heads.

Usage::

    python tools/analysis_tools/count_params.py CONFIG [--cfg-options KEY=VALUE ...]

Builds the config's model with ``pretrained=None`` (no weights needed) and
prints the parameter count of the whole model and of each top-level part
(backbone, neck, decode head, auxiliary head). FLOPs (whole model and decoder)
come from ``tools/analysis_tools/get_flops.py CONFIG --shape H W``.
"""
import argparse

from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Count parameters')
    parser.add_argument('config', help='config file path')
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


if __name__ == '__main__':
    main()
